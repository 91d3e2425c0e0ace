"""The runtime: profiles in one process, the operations server, background services, shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import pty
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings, StaffConfig, load_settings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.credentials import MissingSecret
from bot.ops.metrics import Metrics
from bot.runtime import Started, purge_loop, run_channels, serve
from bot.storage.database import make_engine, migrate
from bot.storage.stores import Storage
from bot.storage.unanswered import SqlUnansweredLog
from bot.wiring import build_channels, build_dialogue
from tests.conftest import REPO
from tests.fakes.aio import eventually, free_port, reap_tasks
from tests.fakes.telegram_api import FakeBotApi

CITIZENS, WELCOME = "111:CITIZENS", "222:WELCOME"
MEMORY = Storage(MemoryUserStates(), MemoryUnansweredLog())


def test_example_config_is_valid() -> None:
    settings, errors = load_settings(REPO / "buergerbot.example.toml")
    assert errors == [] and settings is not None
    assert [p.name for p in settings.profiles] == ["buerger", "welcome"]
    welcome = settings.profiles[1]
    assert welcome.default_language == "en" and welcome.preferred_tags == ["welcome"]


def test_welcome_profile_settings_reach_the_dialogue(tiny_kb: Path) -> None:
    data = tomllib.loads((REPO / "buergerbot.example.toml").read_text(encoding="utf-8"))
    settings = Settings(**{**data, "knowledge_dirs": [tiny_kb]})
    live = LiveKnowledge([tiny_kb])
    d = build_dialogue(settings, live, MEMORY, settings.profiles[1]).settings
    assert d.default_language == "en"
    assert d.preferred_tags == frozenset({"welcome"})
    assert d.greeting is not None and d.greeting["en"].startswith("Welcome to Musterstadt!")
    assert d.popular[0] == "welcome-center"
    assert d.use_language_hint is False


def test_missing_token_is_reported(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUERGERBOT_TELEGRAM_TOKEN", raising=False)
    settings = Settings(profiles=[{"name": "buerger", "telegram": {}}])  # type: ignore[list-item]
    with pytest.raises(MissingSecret, match="BUERGERBOT_TELEGRAM_TOKEN"):
        build_channels(settings, LiveKnowledge([tiny_kb]), MEMORY)


def test_two_profiles_in_one_process(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")

    async def main() -> None:
        async with FakeBotApi(CITIZENS) as citizens, FakeBotApi(WELCOME) as welcome:
            monkeypatch.setenv("TOKEN_A", CITIZENS)
            monkeypatch.setenv("TOKEN_B", WELCOME)
            settings = Settings(knowledge_dirs=[tiny_kb], profiles=[  # type: ignore[list-item]
                {"name": "buerger", "telegram": {"token_env": "TOKEN_A", "base_url": citizens.base_url}},
                {"name": "welcome", "default_language": "en", "use_client_language": False, "greeting": {"en": "Welcome, newcomer!", "de": "Willkommen!"},
                 "telegram": {"token_env": "TOKEN_B", "base_url": welcome.base_url}},
            ])
            channels = build_channels(settings, LiveKnowledge([tiny_kb]), MEMORY)
            for c in channels:
                await c.start()
            try:
                citizens.push_message(1, "/start")
                welcome.push_message(1, "/start")
                [a] = await citizens.wait_for(1, chat_id=1)
                [b] = await welcome.wait_for(1, chat_id=1)
            finally:
                for c in channels:
                    await c.stop()
                await reap_tasks()
        assert a["text"].startswith("Antwort zu begruessung.")
        assert b["text"].startswith("Welcome, newcomer!")

    asyncio.run(main())


def test_purge_loop_deletes_expired_questions_at_start_and_stops(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    log = SqlUnansweredLog(engine)
    now = dt.datetime.now(dt.UTC)
    log.record("old", "de", "telegram", now - dt.timedelta(days=40))
    log.record("recent", "de", "telegram", now - dt.timedelta(days=1))
    log.close()

    def texts() -> list[str]:
        with engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql("select text from unanswered_questions")]

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(purge_loop(engine, StaffConfig(unanswered_retention_days=30), stop))
        for _ in range(3000):  # the first purge runs at once; wait for it without a fixed sleep
            if texts() == ["recent"]:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 30)  # leaves its hourly wait as soon as the bot stops

    asyncio.run(main())
    assert texts() == ["recent"]
    engine.dispose()


# --- the operations server and the lifecycle ---------------------------------------------------


async def http_get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


async def status_of(port: int, path: str) -> int:
    try:
        return (await http_get(port, path))[0]
    except aiohttp.ClientConnectionError:
        return 0


class Recorder:
    """A channel or background service that notes when it is started and stopped."""

    def __init__(self, name: str, events: list[str], gate: asyncio.Event | None = None) -> None:
        self.name, self.events, self.gate = name, events, gate

    async def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.events.append(f"stop {self.name}")


def http_settings(tiny_kb: Path, port: int, **more: Any) -> Settings:
    return Settings.model_validate({"knowledge_dirs": [tiny_kb], "http": {"port": port}, **more})


def test_services_start_after_the_channels_and_stop_before_them_while_not_ready(tiny_kb: Path, tmp_path: Path) -> None:
    async def main() -> None:
        port, events, gate, stop = free_port(), [], asyncio.Event(), asyncio.Event()
        storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), engine=make_engine(f"sqlite:///{tmp_path / 'bot.db'}"))
        migrate(storage.engine)  # type: ignore[arg-type]
        runner = asyncio.create_task(run_channels(
            http_settings(tiny_kb, port), LiveKnowledge([tiny_kb]), [Recorder("telegram", events)], storage=storage,
            services=[Recorder("scheduler", events, gate)], stop=stop,
        ))
        await eventually(lambda: _is(port, "/readyz", 200))
        assert events == ["start telegram", "start scheduler"]
        _, body = await http_get(port, "/readyz")
        assert json.loads(body)["checks"] == {"knowledge": "ok", "database": "ok", "channels": "ok"}
        stop.set()
        await eventually(lambda: _is(port, "/readyz", 503))  # the scheduler is still stopping: not ready, still serving
        status, body = await http_get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["not_ready"] == ["channels"] and json.loads(body)["checks"]["channels"] == "draining"
        assert json.loads(body)["status"] == "draining"
        assert (await http_get(port, "/healthz"))[0] == 200
        gate.set()
        await runner
        assert events == ["start telegram", "start scheduler", "stop scheduler", "stop telegram"]
        assert await status_of(port, "/healthz") == 0  # the HTTP server went last

    asyncio.run(main())


async def _is(port: int, path: str, status: int) -> bool:
    return await status_of(port, path) == status


def test_http_answers_starting_while_the_knowledge_loads(tiny_kb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    loading, events = threading.Event(), []

    def load() -> LiveKnowledge:
        loading.wait(60)  # as long as a matcher takes to train
        return LiveKnowledge([tiny_kb])

    def hello(app: web.Application) -> None:
        async def answer(request: web.Request) -> web.Response:
            return web.json_response({"hello": "back office"})

        app.router.add_get("/api/v1/hello", answer)

    async def main() -> None:
        port, stop = free_port(), asyncio.Event()
        storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), engine=make_engine(f"sqlite:///{tmp_path / 'bot.db'}"))
        migrate(storage.engine)  # type: ignore[arg-type]
        runner = asyncio.create_task(serve(http_settings(tiny_kb, port), load, lambda live: Started([Recorder("telegram", events)]),
                                           storage=storage, extensions=[hello], stop=stop))
        try:
            await eventually(lambda: _is(port, "/healthz", 200))
            status, body = await http_get(port, "/readyz")
            assert status == 503 and json.loads(body)["status"] == "starting"
            assert json.loads(body)["checks"] == {"knowledge": "loading", "database": "ok", "channels": "starting"}
            status, body = await http_get(port, "/api/v1/hello")
            assert status == 503 and json.loads(body) == {"status": "starting"}
            assert events == []
            assert any(r.getMessage().startswith("loading the knowledge from") for r in caplog.records)
            loading.set()
            await eventually(lambda: _is(port, "/readyz", 200))
            status, body = await http_get(port, "/readyz")
            assert json.loads(body)["status"] == "ready" and events == ["start telegram"]
            assert (await http_get(port, "/api/v1/hello")) == (200, '{"hello": "back office"}')
        finally:
            loading.set()
            stop.set()
            await runner

    with caplog.at_level(logging.INFO, logger="bot.runtime"):
        asyncio.run(main())


def test_sigterm_while_the_knowledge_loads_ends_at_once(tiny_kb: Path) -> None:
    loading = threading.Event()

    def load() -> LiveKnowledge:
        loading.wait(10)  # a training that takes its time
        return LiveKnowledge([tiny_kb])

    async def main() -> None:
        port, stop = free_port(), asyncio.Event()
        runner = asyncio.create_task(serve(http_settings(tiny_kb, port), load, lambda live: Started(), stop=stop))
        await eventually(lambda: _is(port, "/readyz", 503))
        stop.set()
        await runner
        assert await status_of(port, "/healthz") == 0

    began = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - began < 5  # not after the training
    loading.set()


@pytest.mark.parametrize("damage", ["emptied", "outdated"])
def test_a_database_without_the_newest_schema_is_not_ready(tiny_kb: Path, tmp_path: Path, damage: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    with engine.begin() as conn:
        if damage == "emptied":
            for (table,) in conn.exec_driver_sql("select name from sqlite_master where type = 'table'").fetchall():
                conn.exec_driver_sql(f'drop table "{table}"')
        else:
            conn.exec_driver_sql("update alembic_version set version_num = '0001'")

    async def main() -> dict[str, Any]:
        port, stop = free_port(), asyncio.Event()
        storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), engine=engine)
        runner = asyncio.create_task(run_channels(http_settings(tiny_kb, port), LiveKnowledge([tiny_kb]), [], storage=storage, stop=stop))
        try:
            await eventually(lambda: _is(port, "/readyz", 503))
            await asyncio.sleep(0.1)
            status, body = await http_get(port, "/readyz")
            assert status == 503
            return dict(json.loads(body))
        finally:
            stop.set()
            await runner

    body = asyncio.run(main())
    assert body["not_ready"] == ["database"] and body["status"] == "not ready"
    expected = "no schema version in the database" if damage == "emptied" else "schema version 0001, expected"
    assert body["checks"]["database"].startswith(expected)
    engine.dispose()


def test_an_unreachable_database_is_not_ready(tiny_kb: Path) -> None:
    async def main() -> None:
        port, stop = free_port(), asyncio.Event()
        storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), engine=make_engine("postgresql://postgres@127.0.0.1:1/nowhere"))
        runner = asyncio.create_task(run_channels(http_settings(tiny_kb, port), LiveKnowledge([tiny_kb]), [], storage=storage, stop=stop))
        try:
            await eventually(lambda: _is(port, "/readyz", 503))
            body = json.loads((await http_get(port, "/readyz"))[1])
            assert body["not_ready"] == ["database"] and body["checks"]["database"].startswith("failed: ")
        finally:
            stop.set()
            await runner

    asyncio.run(main())


def test_knowledge_reloads_are_counted(tiny_kb: Path) -> None:
    async def main() -> None:
        port, stop, metrics = free_port(), asyncio.Event(), Metrics()
        runner = asyncio.create_task(run_channels(http_settings(tiny_kb, port, reload_seconds=0.05), LiveKnowledge([tiny_kb]), [],
                                                  metrics=metrics, stop=stop))

        def sample(name: str) -> float:
            return metrics.registry.get_sample_value(name) or 0.0

        async def reached(name: str, value: float) -> bool:
            return sample(name) == value

        try:
            await eventually(lambda: _is(port, "/readyz", 200))
            assert sample("buergerbot_knowledge_entries") == 8
            (tiny_kb / "broken.yaml").write_text("entries: [\n", encoding="utf-8")
            await eventually(lambda: reached("buergerbot_knowledge_reload_errors_total", 1))
            (tiny_kb / "broken.yaml").unlink()
            await eventually(lambda: reached("buergerbot_knowledge_reloads_total", 1))
            _, text = await http_get(port, "/metrics")
            assert "buergerbot_knowledge_reload_errors_total 1.0" in text and "buergerbot_knowledge_reloads_total 1.0" in text
        finally:
            stop.set()
            await runner

    asyncio.run(main())


def test_metrics_move_while_the_bot_answers(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("TOKEN_A", CITIZENS)

    async def main() -> None:
        async with FakeBotApi(CITIZENS) as fake:
            port, stop, metrics = free_port(), asyncio.Event(), Metrics()
            settings = http_settings(tiny_kb, port, profiles=[{"name": "buerger", "telegram": {"token_env": "TOKEN_A", "base_url": fake.base_url}}])
            live = LiveKnowledge([tiny_kb])
            channels = build_channels(settings, live, MEMORY, metrics)
            runner = asyncio.create_task(run_channels(settings, live, channels, storage=MEMORY, metrics=metrics, stop=stop))
            try:
                await eventually(lambda: _is(port, "/readyz", 200))
                fake.push_message(5, "Personalausweis beantragen")
                fake.push_message(6, "Wer hat gestern das Spiel gewonnen?")
                await fake.wait_for(1, chat_id=5)
                await fake.wait_for(1, chat_id=6)
                _, text = await http_get(port, "/metrics")
            finally:
                stop.set()
                await runner
                await reap_tasks()
        labels = '{channel="telegram",profile="buerger"}'
        assert f"buergerbot_messages_received_total{labels} 2.0" in text
        assert f"buergerbot_answered_total{labels} 1.0" in text
        assert f"buergerbot_unanswered_total{labels} 1.0" in text
        assert f"buergerbot_handle_seconds_count{labels} 2.0" in text

    asyncio.run(main())


def test_sigterm_lets_every_reply_in_flight_finish(tiny_kb: Path, tmp_path: Path) -> None:
    """`buergerbot run` as its own process: SIGTERM while replies wait for the per-chat flood limit.
    The replies being sent finish; the updates not yet taken on stay unconfirmed at Telegram, and
    the next start answers exactly those: every update is answered once, none lost, none twice
    (an answered update may stay unconfirmed behind an unanswered one; its claim keeps it from
    being answered again)."""
    chats, per_chat = (987654321, 987654322), 5

    async def run_until_term(fake: FakeBotApi, config: Path, env: dict[str, str], work: Callable[[], Awaitable[None]]) -> tuple[int, list[str]]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "--config", str(config), "run",
                                                    cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
        lines: list[str] = []
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def read_log() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                lines.append(raw.decode())
                record = json.loads(raw)
                if "http_port" in record and not port.done():
                    port.set_result(record["http_port"])

        reader = asyncio.create_task(read_log())
        try:
            http_port = await asyncio.wait_for(asyncio.shield(port), 120)
            await eventually(lambda: _is(http_port, "/readyz", 200))
            await work()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 120)
            await reader
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return code, lines

    async def main() -> tuple[int, int, int, list[str], dict[int, int], dict[int, int], dict[int, int]]:
        async with FakeBotApi(CITIZENS) as fake:
            config = tmp_path / "bot.toml"
            values = {"kb": str(tiny_kb), "db": f"sqlite:///{tmp_path / 'bot.db'}", "data": str(tmp_path / "data"), "api": fake.base_url}
            kb, db, data, api = (json.dumps(v) for v in values.values())  # JSON strings are TOML strings
            config.write_text(
                f"knowledge_dirs = [{kb}]\ndatabase_url = {db}\ndata_dir = {data}\nlog_format = 'json'\n[http]\nport = 0\n"
                f"[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TOKEN_A'\nbase_url = {api}\n",
                encoding="utf-8",
            )
            env = {**os.environ, "TOKEN_A": CITIZENS, "BUERGERBOT_LINK_KEYS": "ab" * 32, "PTB_TIMEDELTA": "true"}
            answered_before = 0

            async def ask_then_term() -> None:
                nonlocal answered_before
                for n in range(per_chat):
                    for chat in chats:
                        fake.push_message(chat, "Personalausweis beantragen" if n % 2 else "Sperrmüll anmelden")
                await fake.wait_for(1)
                answered_before = len([m for m, _ in fake.sent if m == "sendMessage"])

            code, lines = await run_until_term(fake, config, env, ask_then_term)
            first_run = {chat: len(fake.messages_to(chat)) for chat in chats}
            left = {chat: sum(1 for u in fake.pending_updates if u["message"]["chat"]["id"] == chat) for chat in chats}

            async def confirmed() -> bool:
                return not fake.pending_updates

            async def until_confirmed() -> None:
                await eventually(confirmed, timeout=60)

            second_code, _ = await run_until_term(fake, config, env, until_confirmed)
            return code, second_code, answered_before, lines, first_run, left, {chat: len(fake.messages_to(chat)) for chat in chats}

    code, second_code, answered_before, lines, first_run, left, replies = asyncio.run(main())
    log = "".join(lines)
    assert code == 0 and second_code == 0, log
    assert answered_before < len(chats) * per_chat  # the signal came while replies were still waiting
    assert sum(first_run.values()) > answered_before  # replies in flight at the signal were finished
    assert sum(left.values()) > 0  # updates not taken on were left for the next start, unconfirmed
    assert replies == dict.fromkeys(chats, per_chat), (first_run, left, replies)  # the next start answered each once
    messages = [json.loads(line)["message"] for line in lines]
    assert "stopping: finishing replies in flight" in messages and messages[-1] == "stopped"
    assert "Personalausweis" not in log and "Sperrm" not in log and "98765432" not in log  # no texts, no chat ids


async def _true(value: bool) -> bool:
    return value


def _no_channel_config(tmp_path: Path, tiny_kb: Path) -> Path:
    config = tmp_path / "bot.toml"
    values = {"kb": str(tiny_kb), "db": f"sqlite:///{tmp_path / 'bot.db'}", "data": str(tmp_path / "data")}
    kb, db, data = (json.dumps(v) for v in values.values())
    config.write_text(f"knowledge_dirs = [{kb}]\ndatabase_url = {db}\ndata_dir = {data}\nlog_format = 'json'\n[http]\nport = 0\n"
                      "[[backoffice_clients]]\nname = 'crm'\ntoken_env = 'CRM_TOKEN'\n", encoding="utf-8")
    return config


def _run_env() -> dict[str, str]:
    return {**os.environ, "CRM_TOKEN": "c" * 40, "BUERGERBOT_LINK_KEYS": "ab" * 32, "PYTHONPATH": str(REPO)}


def test_run_without_a_chat_channel_serves_http_the_backoffice_and_reminders(tiny_kb: Path, tmp_path: Path) -> None:
    """No terminal (a container): no console, but everything else a bot process serves."""
    async def main() -> tuple[int, list[str], int, int]:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "--config", str(_no_channel_config(tmp_path, tiny_kb)), "run",
                                                    cwd=tmp_path, env=_run_env(), stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(120):
                while True:
                    raw = await proc.stderr.readline()
                    assert raw, "".join(lines)
                    lines.append(raw.decode())
                    if "http_port" in (record := json.loads(raw)):
                        port = int(record["http_port"])
                        break
            await eventually(lambda: _is(port, "/readyz", 200))
            api, _ = await http_get(port, "/api/v1/openapi.json")
            async with aiohttp.ClientSession() as session, session.post(f"http://127.0.0.1:{port}/api/v1/appointments", json={},
                                                                        headers={"Authorization": "Bearer " + "c" * 40}) as resp:
                create = resp.status
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stderr.read(), 60)
            lines += rest.decode().splitlines(keepends=True)
            return await asyncio.wait_for(proc.wait(), 60), lines, api, create
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    code, lines, api, create = asyncio.run(main())
    messages = [json.loads(line)["message"] for line in lines]
    assert code == 0, "".join(lines)
    assert api == 200 and create == 400  # the back office answers, authenticated (here: an appointment without its fields)
    assert "no chat channel configured and no terminal: serving HTTP, the back-office API and reminders only" in messages
    assert "running: 0 channels, 1 services" in messages and messages[-1] == "stopped"


def test_run_in_a_terminal_without_a_chat_channel_opens_the_console(tiny_kb: Path, tmp_path: Path) -> None:
    main_fd, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(_no_channel_config(tmp_path, tiny_kb)), "run"], cwd=tmp_path,
                            env=_run_env(), stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(terminal)
    try:
        os.write(main_fd, b"Perso beantragen\n")
        os.write(main_fd, b"\x04")  # Ctrl-D: end of input
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(main_fd)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert "Antwort zu personalausweis" in out.decode()
    messages = [json.loads(line)["message"] for line in err.decode().splitlines() if line.startswith("{")]
    assert "running: 1 channels, 1 services" in messages and "stopped" in messages
