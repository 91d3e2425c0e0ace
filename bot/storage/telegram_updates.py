"""Telegram update ids already taken on, shared by every process of the bot through the database.

Telegram delivers an update again when the bot died before confirming it (polling) or did not
answer the webhook call in time, and with two replicas the second one may be handed it. The
process that inserts an update's row first answers it; the others skip it. Rows are kept for
``keep`` (Telegram keeps an undelivered update for 24 hours) and deleted by the claims themselves,
at most once every ``purge_every``, so the table stays small without a job of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy import Engine, Table, delete

from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import TelegramUpdateRow

_TABLE = cast(Table, TelegramUpdateRow.__table__)


class SqlSeenUpdates:
    def __init__(
        self, engine: Engine, keep: dt.timedelta = dt.timedelta(days=2), purge_every: dt.timedelta = dt.timedelta(hours=1),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._engine = engine
        self._keep = keep
        self._purge_every = purge_every
        self._clock = clock
        self._next_purge: dt.datetime | None = None

    def claim(self, profile: str, update_ids: Sequence[int]) -> set[int]:
        """The ids of ``update_ids`` no process of ``profile``'s bot has claimed before, now claimed
        (one statement for the whole batch)."""
        if not update_ids:
            return set()
        now = self._clock()
        rows = [{"profile": profile, "update_id": update_id, "seen_at": now} for update_id in update_ids]
        with self._engine.begin() as conn:
            # Rows as executemany parameters, not a VALUES list: the statement is compiled once and
            # cached (compiling a 100-row VALUES cost about 25 µs an update), and SQLAlchemy still
            # sends it as one multi-row INSERT that returns the ids it inserted.
            claimed = conn.execute(insert_or_ignore(conn, _TABLE, ["profile", "update_id"]).returning(_TABLE.c.update_id), rows)
            fresh = {int(row[0]) for row in claimed}
            if self._next_purge is None or now >= self._next_purge:
                conn.execute(delete(_TABLE).where(_TABLE.c.seen_at < now - self._keep))
                self._next_purge = now + self._purge_every
        return fresh
