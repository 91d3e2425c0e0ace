"""Log lines: JSON or text, with extra fields; chats only as pseudonyms, never texts or ids."""

from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.credentials import secret
from bot.ops.logs import (
    MASK,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    forget_secrets,
    pseudonym,
    resolve_format,
    set_pseudonym_key,
)
from tests.conftest import REPO


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    set_pseudonym_key(None)
    forget_secrets()


def test_json_lines(stream: io.StringIO) -> None:
    configure_logging("json", logging.INFO, stream=stream)
    log = logging.getLogger("bot.test")
    log.info("reloaded %d entries", 45, extra={"profile": "buerger"})
    try:
        raise ValueError("bad")
    except ValueError:
        log.exception("reload failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # a traceback stays inside its one JSON line
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "reloaded 45 entries" and first["level"] == "INFO" and first["logger"] == "bot.test"
    assert first["profile"] == "buerger" and first["time"].endswith("Z")
    assert second["level"] == "ERROR" and "ValueError: bad" in second["exception"]


def test_text_lines_carry_extras(stream: io.StringIO) -> None:
    configure_logging("text", logging.INFO, stream=stream)
    logging.getLogger("bot.test").warning("send failed", extra={"chat": "telegram:abc"})
    assert stream.getvalue() == "WARNING bot.test: send failed chat=telegram:abc\n"


def test_auto_format_follows_the_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format("auto", Tty()) == "text"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("text", io.StringIO()) == "text"


def test_pseudonyms_are_stable_per_key_and_hide_the_id() -> None:
    set_pseudonym_key(b"key-one")
    a = pseudonym("telegram", 987654321)
    assert a == pseudonym("telegram", "987654321") and a.startswith("telegram:") and "987654321" not in a
    assert a != pseudonym("matrix", 987654321) and a != pseudonym("telegram", 987654322)
    set_pseudonym_key(b"key-two")
    assert pseudonym("telegram", 987654321) != a
    set_pseudonym_key(None)


def test_matrix_ids_from_libraries_are_replaced(stream: io.StringIO) -> None:
    configure_logging("json", logging.INFO, pseudonym_key=b"k", stream=stream)
    logging.getLogger("nio.crypto").warning("Curve key for user %s in %s not found", "@erika:musterstadt.example", "!abc123:musterstadt.example")
    message = json.loads(stream.getvalue())["message"]
    assert "erika" not in message and "abc123" not in message
    assert pseudonym("matrix", "@erika:musterstadt.example") in message


def test_chatty_libraries_are_held_at_warning(stream: io.StringIO) -> None:
    configure_logging("json", logging.INFO, stream=stream)
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRET/getUpdates")
    logging.getLogger("nio.rooms").info("New joined room !room:example.org")
    assert stream.getvalue() == ""


def test_formatters_are_usable_on_their_own() -> None:
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hi %s", "args": ("there",), "chat": "matrix:1"})
    assert json.loads(JsonFormatter().format(record))["chat"] == "matrix:1"
    assert TextFormatter().format(record) == "INFO x: hi there chat=matrix:1"


# Names that hold what a citizen wrote or who they are; a log call may only pass them through pseudonym()
# or a function named for it.
PRIVATE = {"text", "chat_id", "room_id", "sender", "incoming", "msg", "message", "update", "reply", "replies", "body", "content", "chat", "user"}
LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def private_names(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and "pseudonym" in node.func.id:
        return
    if isinstance(node, ast.Name) and node.id in PRIVATE:
        yield node.id
    if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
        yield node.attr
    for child in ast.iter_child_nodes(node):
        yield from private_names(child)


def test_no_log_call_in_bot_passes_message_text_or_chat_ids() -> None:
    offenders = []
    for path in sorted((REPO / "bot").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in LEVELS):
                continue
            if not (isinstance(call.func.value, ast.Name) and call.func.value.id in ("log", "logger", "logging")):
                continue
            # exc_info only attaches the exception; it carries no argument of its own into the message.
            args = [*call.args, *(k.value for k in call.keywords if k.arg != "exc_info")]
            names = [n for arg in args for n in private_names(arg)]
            if names:
                offenders.append(f"{Path(path).relative_to(REPO)}:{call.lineno}: {', '.join(names)}")
    assert offenders == []


# --- secrets ---

MATRIX_PASSWORD = "correct horse battery staple"
BACKOFFICE_TOKEN = "bo-9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"
TELEGRAM_TOKEN = "7312345678:AAH3kq9ZxY_wVb-2mN4pQ7rS8tU0vW1xYz2"


def lines_of(fmt: str, stream: io.StringIO) -> str:
    """Everything written, JSON lines decoded so an escaped secret cannot hide."""
    text = stream.getvalue()
    if fmt == "json":
        return "\n".join(json.dumps(json.loads(line), ensure_ascii=False) + " " + " ".join(map(str, json.loads(line).values()))
                         for line in text.splitlines())
    return text


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_read_through_credentials_never_reach_a_log_line(fmt: str, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("MX_PASSWORD", MATRIX_PASSWORD)
    (tmp_path / "token").write_text(BACKOFFICE_TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("BO_TOKEN_FILE", str(tmp_path / "token"))
    keys = "ab" * 32 + ", " + "cd" * 32
    monkeypatch.setenv("LINK_KEYS", keys)
    assert secret("MX_PASSWORD") == MATRIX_PASSWORD and secret("BO_TOKEN") == BACKOFFICE_TOKEN and secret("LINK_KEYS") == keys
    configure_logging(fmt, logging.INFO, stream=stream)
    log = logging.getLogger("nio.client")
    log.warning("login failed for password %s", MATRIX_PASSWORD, extra={"detail": f"token={BACKOFFICE_TOKEN}"})
    try:
        raise RuntimeError(f"key {'cd' * 32} refused, other client sent {BACKOFFICE_TOKEN}")
    except RuntimeError:
        log.exception("while talking to %s", "the homeserver", stack_info=True)
    written = lines_of(fmt, stream)
    for value in (MATRIX_PASSWORD, BACKOFFICE_TOKEN, "ab" * 32, "cd" * 32):
        assert value not in written
    assert written.count(MASK) >= 4 and "RuntimeError: key" in written  # the line keeps its sense


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_token_shapes_are_masked_without_being_registered(fmt: str, stream: io.StringIO) -> None:
    from telegram.error import InvalidToken

    configure_logging(fmt, logging.INFO, stream=stream)
    try:
        raise InvalidToken(f"The token `{TELEGRAM_TOKEN}` was rejected by the server.")
    except InvalidToken as exc:
        logging.getLogger("bot.cli").error("the bot stopped: %s: %s", type(exc).__name__, exc, exc_info=True)
    logging.getLogger("telegram.ext.Updater").warning("GET https://api.telegram.org/bot%s/getUpdates failed", TELEGRAM_TOKEN)
    logging.getLogger("aiohttp.server").error("Got more than 8190 bytes when reading: b'Bearer %s...'.", "s3cr3t-xyz" * 20)
    logging.getLogger("sqlalchemy.pool").warning("cannot reach postgresql+psycopg://bot:db-pa55word@db:5432/buergerbot")
    written = lines_of(fmt, stream)
    assert TELEGRAM_TOKEN not in written and TELEGRAM_TOKEN.split(":")[1] not in written
    assert "s3cr3t" not in written and "db-pa55word" not in written
    assert "was rejected by the server" in written and f"Bearer {MASK}" in written and f"postgresql+psycopg://bot:{MASK}@db:5432" in written


def test_handlers_others_installed_are_scrubbed_too(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = io.StringIO()
    root = logging.getLogger()
    root.addHandler(logging.StreamHandler(theirs))  # first in line: it sees the record before ours
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec-0123456789abcdef")
    secret("WEBHOOK_SECRET")
    configure_logging("text", logging.INFO, stream=stream)
    logging.getLogger("apscheduler.executors.default").error("job failed with secret whsec-0123456789abcdef")
    assert "whsec" not in theirs.getvalue() and "whsec" not in stream.getvalue()
    assert MASK in theirs.getvalue()


def test_a_record_no_handler_takes_is_scrubbed_on_stderr(stream: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", logging.INFO, stream=stream)
    orphan = logging.getLogger("some.library.without.handlers")
    orphan.propagate = False  # Python's last-resort handler writes it to stderr
    try:
        orphan.warning("retrying with Authorization: Bearer %s", BACKOFFICE_TOKEN)
    finally:
        orphan.propagate = True
    err = capsys.readouterr().err
    assert "retrying with Authorization: Bearer" in err and BACKOFFICE_TOKEN not in err
