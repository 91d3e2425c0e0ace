"""Logging set-up: text for a terminal, one JSON object per line for log collectors.

What citizens write and who they are never reach the logs: our own log calls carry no message
text and no chat id (where support must find a chat again, they log :func:`pseudonym`), libraries
that log URLs with the bot token or Matrix user and room ids are held at WARNING, and Matrix ids
that still get through are replaced by pseudonyms before a record is written.

No secret reaches the logs either: every value bot.credentials reads is registered here
(:func:`register_secret`), and one filter on every handler masks those values, ``Bearer`` tokens,
anything shaped like a Telegram bot token and the password in a URL, in the message, the
traceback and the extra fields alike. Libraries put secrets into exception texts (python-telegram-bot's
``InvalidToken`` quotes the token, aiohttp quotes an oversized Authorization header), so the
patterns catch what no call site could avoid.
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

MASK = "[redacted]"
# A shorter value is not masked: it would mask ordinary words and numbers all over the logs.
MIN_SECRET_CHARS = 8
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/-]+=*")  # RFC 6750's b64token
# A bot token is "<bot id>:<35 characters>"; it also appears inside Telegram URLs ("/bot<token>/getMe").
_TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])")
# scheme://user:password@host, as in database URLs.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")
_secret_values: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every log line from now on; a comma-separated list (the link keys) also masks each item."""
    global _secret_pattern
    if not value:
        return
    candidates = {value, value.strip(), *(part.strip() for part in value.split(","))}
    new = {c for c in candidates if len(c) >= MIN_SECRET_CHARS} - _secret_values
    if new:
        _secret_values.update(new)
        # Longest first, so a value that contains another is masked whole.
        alternatives = sorted(_secret_values, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def forget_secrets() -> None:
    """Drop every registered value (for tests that register their own)."""
    global _secret_pattern
    _secret_values.clear()
    _secret_pattern = None


def redact(text: str) -> str:
    """``text`` with every registered secret, bearer token, Telegram token and URL password masked."""
    if _secret_pattern is not None:
        text = _secret_pattern.sub(MASK, text)
    text = _BEARER.sub(rf"\1\2{MASK}", text)
    text = _TELEGRAM_TOKEN.sub(MASK, text)
    return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


def set_pseudonym_key(key: bytes | None) -> None:
    global _key
    _key = key or secrets.token_bytes(32)


def pseudonym(channel: str, chat_id: str | int) -> str:
    """A stable stand-in for a chat in logs: staff can match log lines, nobody can recover the chat."""
    digest = hmac.new(_key, f"{channel}\0{chat_id}".encode(), hashlib.sha256).hexdigest()
    return f"{channel}:{digest[:16]}"


class Scrub(logging.Filter):
    """Masks secrets (:func:`redact`) in the message, traceback, stack and extra fields, and
    replaces Matrix user and room ids in the message by their pseudonyms.

    It changes the record itself, so every handler after the first that runs it sees the clean record.
    """

    _exceptions = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_scrubbed", False):  # another handler's filter did it
            return True
        record._scrubbed = True
        try:
            message = record.getMessage()
        except Exception:  # a broken log call: keep what it tried to say, masked
            message = f"{record.msg} {record.args!r}"
        scrubbed = message
        if "@" in scrubbed or "!" in scrubbed:  # before masking: "[redacted]@host:5432" would look like a Matrix id
            scrubbed = _MATRIX_ID.sub(lambda m: pseudonym("matrix", m.group(0)), scrubbed)
        scrubbed = redact(scrubbed)
        if scrubbed != message or not isinstance(record.msg, str):
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exceptions.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extras(record).items():
            if not isinstance(value, int | float | bool | None):
                setattr(record, key, redact(value if isinstance(value, str) else str(value)))
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
            out["exception"] = record.exc_text or self.formatException(record.exc_info)
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
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _OurHandler):  # handlers others installed (pytest's capture) stay
            root.removeHandler(old)
    root.addHandler(handler)
    scrub_every_handler()
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, level))
    set_pseudonym_key(pseudonym_key)


def scrub_every_handler() -> None:
    """Put the :class:`Scrub` filter on every handler of every logger, ours and those libraries
    or the host installed (idempotent)."""
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    handlers = [handler for logger in loggers for handler in logger.handlers]
    if logging.lastResort is not None:  # writes to stderr when a record finds no handler
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, Scrub) for f in handler.filters):
            handler.addFilter(Scrub())
