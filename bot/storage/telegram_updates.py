"""Telegram update ids already taken on, shared by every process of the bot through the database.

Telegram delivers an update again when the bot died before confirming it (polling) or did not
answer the webhook call in time, and with two replicas the second one may be handed it. The
process that inserts an update's row first answers it; the others skip it. Rows are kept for
``keep`` (Telegram keeps an undelivered update for 24 hours) and deleted by the claims themselves,
at most once every ``purge_every``, so the table stays small without a job of its own.

Polling (:meth:`SqlSeenUpdates.claim_polled`, :meth:`SqlSeenUpdates.mark_sending`) records how far
an update got, so that an update Telegram delivers again after a crash is answered exactly when
nothing of its answer may have gone out:

* state 0, "taken on": nothing sent yet. Delivered again, it is answered again, by whichever
  process asks once the owner's ``lease`` has run out (a live owner is still working on it);
* state 1, "sending": its first reply message is about to be sent, or was sent. Never answered
  again: in the moment between this mark and Telegram's confirmation the process cannot tell
  whether the citizen got the reply, and answered twice is what this table exists to prevent.

Rows written by :meth:`SqlSeenUpdates.claim` (webhook mode, which confirms an update when it
arrives) have state 1 by the column's default: a claimed webhook update is never answered twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, or_, select, update

from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import TelegramUpdateRow

_TABLE = cast(Table, TelegramUpdateRow.__table__)
_MARK_SENDING = (update(_TABLE).where(_TABLE.c.profile == bindparam("key_profile"), _TABLE.c.update_id == bindparam("key_update_id"))
                 .values(state=1))


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
            self._purge(conn, now)
        return fresh

    def _purge(self, conn: Connection, now: dt.datetime) -> None:
        if self._next_purge is None or now >= self._next_purge:
            conn.execute(delete(_TABLE).where(_TABLE.c.seen_at < now - self._keep))
            self._next_purge = now + self._purge_every

    def claim_polled(self, profile: str, update_ids: Sequence[int], owner: str, lease: dt.timedelta) -> tuple[set[int], set[int]]:
        """Claims for ``owner`` (this process) a polled batch: ``(answer, busy)``. ``answer``: new
        ids, and ids another process took on but sent nothing for within ``lease`` (it died); they
        are now ``owner``'s. ``busy``: taken on by another process within ``lease``, to ask again
        later. Every other id was answered, or may have been (state 1), or was handled by
        ``owner`` without a reply."""
        if not update_ids:
            return set(), set()
        now = self._clock()
        rows = [{"profile": profile, "update_id": i, "seen_at": now, "state": 0, "owner": owner} for i in update_ids]
        with self._engine.begin() as conn:
            claimed = conn.execute(insert_or_ignore(conn, _TABLE, ["profile", "update_id"]).returning(_TABLE.c.update_id), rows)
            answer = {int(row[0]) for row in claimed}
            rest = [i for i in update_ids if i not in answer]
            busy: set[int] = set()
            if rest:
                table = _TABLE.c
                others = and_(table.profile == profile, table.update_id.in_(rest), table.state == 0,
                              or_(table.owner.is_(None), table.owner != owner))
                taken = conn.execute(update(_TABLE).where(others, table.seen_at < now - lease)
                                     .values(owner=owner, seen_at=now).returning(table.update_id))
                answer |= {int(row[0]) for row in taken}
                busy = {int(row[0]) for row in conn.execute(select(table.update_id).where(others, table.update_id.not_in(answer)))}
            self._purge(conn, now)
        return answer, busy

    def mark_sending(self, profile: str, update_ids: Sequence[int]) -> None:
        """The first reply to each of ``update_ids`` is about to be sent: from now on they are never
        answered again (state 1)."""
        if update_ids:
            with self._engine.begin() as conn:
                # One statement built once, as executemany: building an IN (…) for each call cost
                # ten times the update itself, and this runs for nearly every answer.
                conn.execute(_MARK_SENDING, [{"key_profile": profile, "key_update_id": i} for i in update_ids])

    def release(self, profile: str, update_ids: Sequence[int], owner: str) -> None:
        """Deletes ``owner``'s claims of ``update_ids`` that sent nothing (a stopping process did not
        handle them): the next process answers them without waiting for the lease."""
        if update_ids:
            table = _TABLE.c
            with self._engine.begin() as conn:
                conn.execute(delete(_TABLE).where(table.profile == profile, table.update_id.in_(update_ids),
                                                  table.state == 0, table.owner == owner))
