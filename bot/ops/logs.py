"""Logging set-up: text for a terminal, one JSON object per line for log collectors.

What citizens write and who they are never reach the logs: our own log calls carry no message
text and no chat id (where support must find a chat again, they log :func:`pseudonym`), libraries
that log URLs with the bot token or Matrix user and room ids are held at WARNING, and Matrix ids
that still get through are replaced by pseudonyms before a record is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import sys
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_MATRIX_ID = re.compile(r"(?<![\w@!])[@!][^\s:@!/]+:[A-Za-z0-9.-]+(?::\d+)?")
# httpx logs every request URL at INFO, and Telegram's URLs contain the bot token; nio logs
# Matrix user and room ids at INFO.
# Chatty libraries: at INFO, APScheduler logs two lines for every reminder round (every few seconds).
# Their warnings and errors (a job that raised, a missed run) still show.
_QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "nio": logging.WARNING, "aiohttp.access": logging.WARNING,
          "apscheduler": logging.WARNING}

_key = secrets.token_bytes(32)  # replaced by the configured key; random means "stable until restart"


def set_pseudonym_key(key: bytes | None) -> None:
    global _key
    _key = key or secrets.token_bytes(32)


def pseudonym(channel: str, chat_id: str | int) -> str:
    """A stable stand-in for a chat in logs: staff can match log lines, nobody can recover the chat."""
    digest = hmac.new(_key, f"{channel}\0{chat_id}".encode(), hashlib.sha256).hexdigest()
    return f"{channel}:{digest[:16]}"


class _Scrub(logging.Filter):
    """Replaces Matrix user and room ids in the final message by their pseudonyms."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message or "!" in message:
            scrubbed = _MATRIX_ID.sub(lambda m: pseudonym("matrix", m.group(0)), message)
            if scrubbed != message:
                record.msg, record.args = scrubbed, None
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message key=value …`` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = super().formatMessage(record)
        return f"{line} {extras}" if extras else line


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler configure_logging installs, so a second call replaces it."""


def resolve_format(wanted: str, stream: TextIO) -> str:
    """"auto" is text when a person watches the terminal, JSON when a collector reads the output."""
    if wanted != "auto":
        return wanted
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def configure_logging(fmt: str = "auto", level: int = logging.INFO, pseudonym_key: bytes | None = None, stream: TextIO | None = None) -> None:
    """Route every log record to ``stream`` (stderr) in the given format; replaces earlier set-ups."""
    out = stream or sys.stderr
    handler = _OurHandler(out)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt, out) == "json" else TextFormatter())
    handler.addFilter(_Scrub())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _OurHandler):  # handlers others installed (pytest's capture) stay
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, level))
    set_pseudonym_key(pseudonym_key)
