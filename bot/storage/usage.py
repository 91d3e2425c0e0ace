"""Usage events in the database (implements core.ports.UsageLog), written in batches
(``bot.storage.buffered``): recording never waits for the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert

from bot.core.ports import UsageKind
from bot.storage.buffered import BufferedInserts
from bot.storage.database import as_utc
from bot.storage.tables import UsageEventRow

_Event = tuple[UsageKind, tuple[str, ...], str, str, dt.datetime, str]


class SqlUsageLog(BufferedInserts[_Event]):
    def __init__(self, engine: Engine, batch_size: int = 1000, flush_seconds: float = 5.0, max_buffered: int = 200_000) -> None:
        # Beyond max_buffered the oldest events go: usage numbers are not worth running out of memory for.
        self._engine = engine
        super().__init__("usage events", self._insert, batch_size, flush_seconds, max_buffered)

    def record(self, kind: UsageKind, entry_ids: tuple[str, ...], channel: str, language: str, at: dt.datetime,
               profile: str = "default") -> None:
        self.add((kind, entry_ids, channel, language, at, profile))

    def _insert(self, batch: list[_Event]) -> None:
        rows = [
            {"at": as_utc(at), "kind": kind, "entry_id": entry_id, "position": position, "channel": channel, "language": language,
             "profile": profile}
            for kind, entry_ids, channel, language, at, profile in batch
            for position, entry_id in enumerate(entry_ids or (None,))
        ]
        with self._engine.begin() as conn:
            conn.execute(insert(UsageEventRow), rows)
