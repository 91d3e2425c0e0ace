"""Unanswered questions in the database (implements core.ports.UnansweredLog), for staff reports;
written in batches (``bot.storage.buffered``): the fallback reply never waits for the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert

from bot.storage.buffered import BufferedInserts
from bot.storage.database import as_utc
from bot.storage.tables import UnansweredRow

MAX_TEXT = 1000  # characters kept of a question: enough to read it, not a dump of whatever was pasted

_Question = tuple[str, str, str, dt.datetime]


class SqlUnansweredLog(BufferedInserts[_Question]):
    def __init__(self, engine: Engine, batch_size: int = 200, flush_seconds: float = 2.0, max_buffered: int = 100_000) -> None:
        self._engine = engine
        super().__init__("unanswered questions", self._insert, batch_size, flush_seconds, max_buffered)

    def record(self, text: str, language: str, channel: str, at: dt.datetime) -> None:
        self.add((text[:MAX_TEXT], language, channel, at))

    def _insert(self, batch: list[_Question]) -> None:
        rows = [{"asked_at": as_utc(at), "language": language, "channel": channel, "text": text} for text, language, channel, at in batch]
        with self._engine.begin() as conn:
            conn.execute(insert(UnansweredRow), rows)
