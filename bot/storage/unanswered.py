"""Unanswered questions in the database (implements core.ports.UnansweredLog), for staff reports;
written in batches (``bot.storage.buffered``): the fallback reply never waits for the database.

Each question is stored with the chat's pseudonym (``bot.ops.logs.pseudonym``, the one the logs
use), never its id: "delete my data" finds the chat's questions by it, and reports do not read it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select

from bot.core.models import ChatRef
from bot.ops.logs import pseudonym
from bot.storage.buffered import BufferedInserts
from bot.storage.database import as_utc
from bot.storage.tables import UnansweredRow

MAX_TEXT = 1000  # characters kept of a question: enough to read it, not a dump of whatever was pasted

_Question = tuple[str, str, str, dt.datetime, str | None]  # text, language, channel, asked at, chat pseudonym


class SqlUnansweredLog(BufferedInserts[_Question]):
    def __init__(
        self, engine: Engine, batch_size: int = 200, flush_seconds: float = 2.0, max_buffered: int = 100_000,
        chat_pseudonym: Callable[[str, str], str] = pseudonym,
    ) -> None:
        self._engine = engine
        self._pseudonym = chat_pseudonym
        super().__init__("unanswered questions", self._insert, batch_size, flush_seconds, max_buffered)

    def record(self, text: str, language: str, channel: str, at: dt.datetime, chat: ChatRef | None = None) -> None:
        who = self._pseudonym(chat.channel, chat.chat_id) if chat is not None else None
        self.add((text[:MAX_TEXT], language, channel, at, who))

    def forget(self, chat: ChatRef) -> None:
        who = self._pseudonym(chat.channel, chat.chat_id)
        with self.writing():  # no batch of this chat's questions can land after the delete
            self.discard(lambda row: row[4] == who)
            with self._engine.begin() as conn:
                conn.execute(delete(UnansweredRow).where(UnansweredRow.chat_pseudonym == who))

    def questions(self, chat: ChatRef) -> list[tuple[dt.datetime, str]]:
        """The chat's questions (when, what), written or waiting, oldest first: the data export."""
        who = self._pseudonym(chat.channel, chat.chat_id)
        with self._engine.connect() as conn:
            stored = conn.execute(select(UnansweredRow.asked_at, UnansweredRow.text).where(UnansweredRow.chat_pseudonym == who)).all()
        waiting = [(as_utc(at), text) for text, _, _, at, row_who in self.buffered() if row_who == who]
        return sorted([(as_utc(at), text) for at, text in stored] + waiting)

    def _insert(self, batch: list[_Question]) -> None:
        rows = [
            {"asked_at": as_utc(at), "language": language, "channel": channel, "text": text, "chat_pseudonym": who}
            for text, language, channel, at, who in batch
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(UnansweredRow), rows)
