"""Log lines: JSON or text, with extra fields; chats only as pseudonyms, never texts or ids."""

from __future__ import annotations

import ast
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.logs import JsonFormatter, TextFormatter, configure_logging, pseudonym, resolve_format, set_pseudonym_key
from tests.conftest import REPO


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    set_pseudonym_key(None)


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


# Names that hold what a citizen wrote or who they are; a log call may only pass them through pseudonym().
PRIVATE = {"text", "chat_id", "room_id", "sender", "incoming", "msg", "message", "update", "reply", "replies", "body", "content", "chat", "user"}
LEVELS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def private_names(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "pseudonym":
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
