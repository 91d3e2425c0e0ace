"""Every failure path we can reach, run with known secret values; no log line (text or JSON) and no
response body or header may carry any of them, nor a 16-character piece of one.

The secrets are random-looking so a piece of one cannot turn up by chance: the bot tokens and the
webhook secret of Telegram, the Matrix password and access token, two back-office bearer tokens,
the deep-link keys, the log pseudonym key and the database password.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
import logging
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from bot.config import load_settings
from bot.ops.config_check import check_secrets
from bot.ops.logs import configure_logging, forget_secrets
from bot.ops.metrics import Metrics
from bot.storage.database import make_engine
from bot.web.backoffice import install_backoffice
from bot.web.server import HttpServer, create_app
from tests.fakes.aio import free_port
from tests.fakes.telegram_api import FakeBotApi

TELEGRAM_TOKEN = "6029481735:AAFq7Zt2mVxK9pLr4sWd1cYh8bNj3eGu5oI"  # not the token the fake Bot API knows: it is rejected
WEBHOOK_SECRET = "wh_Pq8ZrT2vLm5XcN9bKd4FsJ7yHg1"
MATRIX_PASSWORD = "Tz4-Mv8q Lw2x Pk7r Hs9n"
MATRIX_ACCESS_TOKEN = "syt_YnVlcmdlcmJvdA_QxWvKzPmTnLrSbJd_3fGh7K"
BACKOFFICE_TOKENS = {"termine": "Rk7vQ2xN9mWp4sLd8tZc3bYh6jFg1aEu5nK0", "ausweis": "Jd3LqW8rZt5xNv2mKp9sHc4bYf7gTa1eUw6R"}
LINK_KEYS = "9f3c1be07a52d8e4" * 4 + "," + "c41d7e9a02b5f368" * 4
PSEUDONYM_KEY = "pk-Gm5Xw8Rt2Lq9Vz4Nc7Bd"
DATABASE_PASSWORD = "Db-Hv6Wq3Kz8Mt1Px"
SECRETS = [TELEGRAM_TOKEN, WEBHOOK_SECRET, MATRIX_PASSWORD, MATRIX_ACCESS_TOKEN, *BACKOFFICE_TOKENS.values(), *LINK_KEYS.split(","),
           PSEUDONYM_KEY, DATABASE_PASSWORD]


def leaks(text: str) -> list[str]:
    """The secrets of which ``text`` holds the whole value or any 16 characters in a row."""
    return [s for s in SECRETS if any(s[i:i + 16] in text for i in range(max(1, len(s) - 15)))]


def readable(fmt: str, written: str) -> str:
    """JSON lines decoded (an escaped character must not hide a secret from the scan), text as it is."""
    if fmt == "text":
        return written
    records = [json.loads(line) for line in written.splitlines()]
    return "\n".join(" ".join(str(value) for value in record.values()) for record in records)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("TG_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("MX_PASSWORD", MATRIX_PASSWORD)
    monkeypatch.setenv("MX_ACCESS_TOKEN", MATRIX_ACCESS_TOKEN)
    for name, token in BACKOFFICE_TOKENS.items():
        monkeypatch.setenv(f"BO_{name.upper()}", token)
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", LINK_KEYS)
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", PSEUDONYM_KEY)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Logging as it was, and no secret registered but those this test reads."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    forget_secrets()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    forget_secrets()


@pytest.fixture
def fake_bot_api() -> Iterator[FakeBotApi]:
    """The fake Bot API on its own event loop in a thread: `buergerbot run` needs the main thread for its signal handlers."""
    loop = asyncio.new_event_loop()
    fake = FakeBotApi()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=30)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def config(tmp_path: Path, tiny_kb: Path, bot_api: str, database_url: str) -> Path:
    path = tmp_path / "buergerbot.toml"
    path.write_text(
        f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\ndata_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        f"database_url = {json.dumps(database_url)}\n"
        f"[http]\nport = {free_port()}\n"
        "[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TG_TOKEN'\nwebhook_secret_env = 'TG_WEBHOOK_SECRET'\n"
        f"webhook_url = 'https://bot.musterstadt.example/telegram'\nbase_url = {json.dumps(bot_api)}\n"
        "[[profiles]]\nname = 'welcome'\n[profiles.matrix]\nhomeserver = 'http://127.0.0.1:9'\nuser_id = '@bot:musterstadt.example'\n"
        "password_env = 'MX_PASSWORD'\naccess_token_env = 'MX_ACCESS_TOKEN'\n"
        + "".join(f"[[backoffice_clients]]\nname = '{name}'\ntoken_env = 'BO_{name.upper()}'\n" for name in BACKOFFICE_TOKENS),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_start_that_fails_logs_no_secret(fmt: str, tmp_path: Path, tiny_kb: Path, secret_env: None, fake_bot_api: FakeBotApi,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The fake Bot API rejects the token: python-telegram-bot raises InvalidToken quoting it.
    rejected = config(tmp_path, tiny_kb, fake_bot_api.base_url, f"sqlite:///{tmp_path / 'bot.db'}")
    code = main(["--config", str(rejected), "--log-format", fmt, "run"])
    out, err = capsys.readouterr()
    assert code != 0 and "InvalidToken" in err and "was rejected by the server" in err
    # The database refuses the connection (nothing listens on port 9).
    unreachable = config(tmp_path, tiny_kb, fake_bot_api.base_url, f"postgresql://buergerbot:{DATABASE_PASSWORD}@127.0.0.1:9/buergerbot")
    code = main(["--config", str(unreachable), "--log-format", fmt, "run"])
    out2, err2 = capsys.readouterr()
    assert code != 0 and "OperationalError" in err2
    assert leaks(out + readable(fmt, err) + out2 + readable(fmt, err2)) == []


async def failing_requests(port: int) -> list[str]:
    """Every refusal and failure the HTTP server can give, as the client sees them: status, headers and body."""
    seen: list[str] = []
    url = f"http://127.0.0.1:{port}"
    good = f"Bearer {BACKOFFICE_TOKENS['termine']}"
    appointment = {"external_ref": "T-1", "starts_at": "2026-10-23T09:30:00+02:00", "subject": "Personalausweis"}
    attempts: list[tuple[str, str, dict[str, str], bytes | None]] = [
        ("POST", "/api/v1/appointments", {}, json.dumps(appointment).encode()),  # no token
        ("POST", "/api/v1/appointments", {"Authorization": good + "x"}, b"{}"),  # almost the token
        ("POST", "/api/v1/appointments", {"Authorization": good[:-1]}, b"{}"),
        ("POST", "/api/v1/appointments", {"Authorization": "Basic " + base64.b64encode(f"termine:{BACKOFFICE_TOKENS['ausweis']}".encode()).decode()}, b"{}"),
        ("POST", "/api/v1/appointments", {"Authorization": f"Bearer {LINK_KEYS}"}, b"{}"),
        ("POST", "/api/v1/appointments", {"Authorization": good, "Content-Type": "application/json"}, b"{"),  # not JSON
        ("POST", "/api/v1/appointments", {"Authorization": good}, json.dumps(appointment).encode("utf-16")),
        ("POST", "/api/v1/appointments", {"Authorization": good}, json.dumps({**appointment, "subject": f"{WEBHOOK_SECRET}\ud800"}).encode()),
        ("POST", "/api/v1/appointments", {"Authorization": good}, json.dumps({**appointment, "office": MATRIX_PASSWORD}).encode()),  # quoted back
        ("POST", "/api/v1/appointments", {"Authorization": good}, json.dumps({**appointment, PSEUDONYM_KEY: 1}).encode()),
        ("POST", "/api/v1/appointments", {"Authorization": good, "Idempotency-Key": f"{DATABASE_PASSWORD} x"}, json.dumps(appointment).encode()),
        ("POST", "/api/v1/appointments", {"Authorization": good}, json.dumps(appointment).encode()),  # the database is unreachable: 500
        ("POST", "/api/v1/cases/B-1/status", {"Authorization": good},
         json.dumps({"document": "personalausweis", "status": "in_progress", "changed_at": "0001-01-01T00:00:00+01:00"}).encode()),
        ("DELETE", f"/api/v1/appointments/{BACKOFFICE_TOKENS['ausweis']}", {"Authorization": good}, None),
        ("GET", f"/bot{TELEGRAM_TOKEN}/getMe", {}, None),
        ("GET", "/readyz", {}, None),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, headers, data in attempts:
            async with session.request(method, url + path, headers=headers, data=data) as response:
                seen.append(f"{response.status} {dict(response.headers)} {await response.text(errors='replace')}")
    raw = [
        f"POST /api/v1/appointments HTTP/1.1\r\nHost: bot\r\nAuthorization: {good}{'x' * 9000}\r\n\r\n",  # header over 8,190 bytes
        f"POST /api/v1/appointments HTTP/1.1\r\nHost: bot\r\nX-Padding: {'y' * 60}\r\nAuthorization: {good} {'z' * 9000}\r\n\r\n",
        f"GET /bot{TELEGRAM_TOKEN}/{MATRIX_ACCESS_TOKEN}{'w' * 9000} HTTP/1.1\r\nHost: bot\r\n\r\n",  # request line too long
        f"GET /healthz HTTP/1.1\r\nHost: bot\r\nX-Secret{PSEUDONYM_KEY}: 1\r\nX-Bad\x01{MATRIX_PASSWORD}: 2\r\n\r\n",  # malformed header
    ]
    for head in raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head.encode())
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.")
        seen.append(answer.decode(errors="replace"))
    return seen


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_refused_and_failing_requests_show_no_secret(fmt: str, tmp_path: Path, tiny_kb: Path, secret_env: None) -> None:
    database_url = f"postgresql://buergerbot:{DATABASE_PASSWORD}@127.0.0.1:9/buergerbot"  # refuses every connection
    settings, errors = load_settings(config(tmp_path, tiny_kb, "http://127.0.0.1:9/bot", database_url))
    assert settings is not None and errors == []
    assert check_secrets(settings).errors == []  # what `buergerbot run` reads at start-up
    written = io.StringIO()
    configure_logging(fmt, logging.DEBUG, stream=written)
    for chatty in ("httpx", "httpcore", "aiohttp.access", "aiohttp.server"):  # everything a library says counts here
        logging.getLogger(chatty).setLevel(logging.DEBUG)
    engine = make_engine(settings.database_url)

    async def database() -> str | None:
        raise ConnectionRefusedError(database_url)

    async def run() -> list[str]:
        clock = partial(dt.datetime.now, dt.UTC)
        app = create_app(Metrics(), {"database": database}, [partial(install_backoffice, engine, settings, lambda: {"buergerbuero"}, clock)])
        server = HttpServer(app, "127.0.0.1", 0)
        await server.start()
        try:
            return await failing_requests(server.port)
        finally:
            await server.stop()

    try:
        seen = asyncio.run(run())
    finally:
        engine.dispose()
    log = readable(fmt, written.getvalue())
    assert "back-office request POST /api/v1/appointments failed" in log and "OperationalError" in log  # the 500 was logged
    assert "Error handling request" in log  # so were the oversized header and the malformed requests
    assert [line for line in seen if line.startswith("500 ")] and [line for line in seen if line.startswith("HTTP/1.0 400")]
    assert leaks(log) == []
    assert leaks("\n".join(seen)) == []
