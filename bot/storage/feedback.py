"""Answer feedback in the database (implements core.ports.FeedbackLog), written in batches
(``bot.storage.buffered``): a vote is acknowledged without waiting for the database."""

from __future__ import annotations

from sqlalchemy import Engine, insert

from bot.core.ports import MAX_FEEDBACK_TEXT, AnswerFeedback
from bot.storage.buffered import BufferedInserts
from bot.storage.database import as_utc
from bot.storage.tables import AnswerFeedbackRow


class SqlFeedbackLog(BufferedInserts[AnswerFeedback]):
    def __init__(self, engine: Engine, batch_size: int = 200, flush_seconds: float = 2.0, max_buffered: int = 100_000) -> None:
        self._engine = engine
        super().__init__("answer feedback", self._insert, batch_size, flush_seconds, max_buffered)

    def record(self, feedback: AnswerFeedback) -> None:
        self.add(feedback)

    def _insert(self, batch: list[AnswerFeedback]) -> None:
        rows = [
            {
                "at": as_utc(f.at), "entry_id": f.entry_id, "language": f.language, "channel": f.channel, "profile": f.profile,
                "vote": f.vote, "missing": _missing(f.missing),
            }
            for f in batch
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(AnswerFeedbackRow), rows)


def _missing(text: str | None) -> str | None:
    one_line = " ".join((text or "").split())
    return one_line[:MAX_FEEDBACK_TEXT] or None
