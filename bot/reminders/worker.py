"""Delivering due reminders: claim rows, mark them with their delivery key, send, record the outcome.

Any number of workers may run against one PostgreSQL: a claim takes due rows with
``FOR UPDATE SKIP LOCKED`` and leases them for a while; a worker that dies loses its lease and its
rows go back to the queue. Before a message leaves, its row is marked ``sending`` in a committed
transaction. A row found still ``sending`` after its lease ran out belonged to a worker that died
mid-send, and is sent again: reminders are delivered at least once, since a missed appointment is
worse than a message twice. On an idempotent channel (Matrix, where the key is the transaction id)
the repeat is dropped by the homeserver; elsewhere (Telegram) the chat may get it twice, and the row
counts it in ``doubtful_sends``. Marking only a small window of rows at a time keeps that rare.
A chat that blocked the bot has its reminders held (status ``blocked``, bot.storage.blocked_chats).
On SQLite the same statements run without the row locks, so run one worker there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select, tuple_, update

from bot.blocking import run_blocking
from bot.core.models import ChatRef, Notice, NoticeKind, Reply
from bot.core.ports import Deliverer, DeliveryFailed
from bot.core.schedule import Action, ReminderPolicy, decide
from bot.ops.logs import pseudonym
from bot.storage.blocked_chats import block, blocked_among
from bot.storage.tables import ReminderRow

log = logging.getLogger(__name__)

Render = Callable[[Notice], Reply]
# (event, channel, count): "due", "sent", "retried", "failed", "dropped" — for metrics
Observe = Callable[[str, str, int], None]
MAX_ATTEMPTS = 5
KEEP_FINISHED = dt.timedelta(days=30)  # sent/dropped rows stay this long for "my data", then go
FINISHED = ("sent", "dropped", "cancelled", "failed", "blocked")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass(frozen=True)
class Claimed:
    id: int
    chat: ChatRef
    language: str
    kind: NoticeKind
    params: dict[str, str]
    expires_at: dt.datetime | None
    attempts: int = 0  # before this one

    @property
    def key(self) -> str:
        return f"reminder:{self.id}"


@dataclass(frozen=True)
class Outcome:
    row: Claimed
    error: DeliveryFailed | None = None


class ReminderWorker:
    def __init__(
        self, engine: Engine, deliverers: Mapping[tuple[str, str], Deliverer], render: Render, policy: ReminderPolicy,
        clock: Callable[[], dt.datetime], *, batch_size: int = 200, lease_seconds: int = 120, window: int = 16, lanes: int = 2,
        worker_id: str | None = None, observe: Observe | None = None,
    ) -> None:
        self._engine = engine
        self._deliverers = dict(deliverers)
        self._render = render
        self._policy = policy
        self._clock = clock
        self._batch = batch_size
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._window = window
        self._lanes = lanes
        self.worker_id = worker_id or default_worker_id()
        self._observe = observe or (lambda event, channel, n: None)

    # -- the loop ----------------------------------------------------------------------------------
    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Deliver everything due now, batch after batch; returns how many rows were handled."""
        total = 0
        while stop is None or not stop.is_set():
            handled = await self.run_once()
            total += handled
            if handled < self._batch:
                break
        return total

    async def run_once(self) -> int:
        if not self._deliverers:
            return 0
        now = self._clock()
        await run_blocking(self._recover, now)
        rows = await run_blocking(self._claim, now)
        if not rows:
            return 0
        for channel in {r.chat.channel for r in rows}:
            self._observe("due", channel, sum(r.chat.channel == channel for r in rows))
        local_now = self._policy.local(now)
        sendable: list[Claimed] = []
        dropped: list[int] = []
        deferred: list[tuple[int, dt.datetime]] = []
        for row in rows:
            decision = decide(row.kind, row.expires_at, local_now, self._policy.quiet)
            if decision.action is Action.SEND:
                sendable.append(row)
            elif decision.action is Action.DEFER and decision.until is not None:
                deferred.append((row.id, decision.until))
            else:
                dropped.append(row.id)
                self._observe("dropped", row.chat.channel, 1)
        if dropped or deferred:
            await run_blocking(self._settle, dropped, deferred)
        # A few lanes, each marking and sending one window at a time: one lane's database round
        # trips overlap another's sends, and at most lanes x window messages are ever in flight,
        # which is also how many Telegram rows a killed worker leaves in doubt. Windows of 16
        # instead of 32 halved that (64 → 32) for about a tenth of the unthrottled rate (10,000
        # reminders, 3 workers: 2,930 → 2,600/s; with a million stored no change, 2,545 → 2,515/s),
        # which Telegram's limit of 30 messages a second leaves unused anyway.
        windows = [sendable[i:i + self._window] for i in range(0, len(sendable), self._window)]
        # A task group: should one lane fail (the database went away), the other is stopped too and
        # waited for, so no lane is still sending when the service or its channels shut down.
        async with asyncio.TaskGroup() as lanes:
            for i in range(self._lanes):
                lanes.create_task(self._lane(windows[i::self._lanes]))
        return len(rows)

    async def _lane(self, windows: Sequence[Sequence[Claimed]]) -> None:
        if not windows:
            return
        # One connection for all of the lane's windows: a checkout per statement cost a ping to
        # the database each time. It is used by one pool thread at a time, one step after the other.
        conn = await run_blocking(self._engine.connect)
        step: asyncio.Future[Any] | None = None
        try:
            for window in windows:
                step = asyncio.ensure_future(run_blocking(self._mark_sending, conn, [r.id for r in window]))
                marked = await asyncio.shield(step)
                outcomes = await asyncio.gather(*(self._deliver(r) for r in window if r.id in marked))
                step = asyncio.ensure_future(run_blocking(self._record, conn, outcomes))
                await asyncio.shield(step)
        finally:
            if step is not None and not step.done():  # cancelled: the statement runs on in its thread, then the connection closes
                await asyncio.wait([step])
            await run_blocking(conn.close)

    async def _deliver(self, row: Claimed) -> Outcome:
        deliverer = self._deliverers[(row.chat.channel, row.chat.profile)]
        try:
            reply = self._render(Notice(row.kind, row.language, row.params))
            await deliverer.deliver(row.chat.chat_id, reply, row.key)
        except DeliveryFailed as exc:
            return Outcome(row, exc)
        except Exception as exc:  # a bug in rendering or an adapter must not stop the queue
            log.exception("reminder %d: delivery raised %s", row.id, type(exc).__name__)
            return Outcome(row, DeliveryFailed(type(exc).__name__, maybe_sent=True))
        return Outcome(row)

    # -- database steps ----------------------------------------------------------------------------------
    # Run in the process's pool (bot.blocking): the reminder service shares its process and event
    # loop with the chat channels, whose answers must not wait for these statements.
    def _ours(self) -> Any:
        return tuple_(ReminderRow.channel, ReminderRow.profile).in_(list(self._deliverers))

    def _claim(self, now: dt.datetime) -> list[Claimed]:
        due = (
            select(ReminderRow.id)
            .where(ReminderRow.status == "pending", ReminderRow.due_at <= now,
                   or_(ReminderRow.lease_until.is_(None), ReminderRow.lease_until < now), self._ours())
            .order_by(ReminderRow.due_at)
            .limit(self._batch)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(ReminderRow)
            .where(ReminderRow.id.in_(due.scalar_subquery()))
            .values(worker=self.worker_id, lease_until=now + self._lease)
            .returning(ReminderRow.id, ReminderRow.channel, ReminderRow.chat_id, ReminderRow.profile, ReminderRow.language,
                       ReminderRow.kind, ReminderRow.params, ReminderRow.expires_at, ReminderRow.attempts)
        )
        claimed: list[Claimed] = []
        unreadable: list[int] = []
        with self._engine.begin() as conn:
            for r in conn.execute(stmt).all():
                try:
                    kind = NoticeKind(r.kind)
                    params = {str(k): str(v) for k, v in json.loads(r.params).items()}
                except (ValueError, AttributeError):  # a row no version of the bot wrote: never send a guess
                    unreadable.append(r.id)
                    continue
                claimed.append(Claimed(r.id, ChatRef(r.channel, r.chat_id, r.profile), r.language, kind, params, r.expires_at, r.attempts))
            if unreadable:
                conn.execute(update(ReminderRow).where(ReminderRow.id.in_(unreadable)).values(status="failed", worker=None, lease_until=None))
            # Rows queued for a chat after it blocked the bot are held like its earlier ones.
            blocked = blocked_among(conn, {r.chat for r in claimed})
            if blocked:
                held = [r.id for r in claimed if r.chat in blocked]
                conn.execute(update(ReminderRow).where(ReminderRow.id.in_(held)).values(status="blocked", worker=None, lease_until=None))
                claimed = [r for r in claimed if r.chat not in blocked]
        return claimed

    def _mark_sending(self, conn: Connection, ids: Sequence[int]) -> set[int]:
        """The delivery key: committed before anything leaves, and only for rows still ours. The
        lease starts again: a batch's later windows may wait long for the token's flood budget, and
        a row must not look abandoned (and be sent again) while it is on its way."""
        stmt = (
            update(ReminderRow)
            .where(ReminderRow.id.in_(ids), ReminderRow.worker == self.worker_id, ReminderRow.status == "pending")
            .values(status="sending", attempts=ReminderRow.attempts + 1, lease_until=self._clock() + self._lease)
            .returning(ReminderRow.id)
        )
        with conn.begin():
            return {r.id for r in conn.execute(stmt)}

    def _record(self, conn: Connection, outcomes: Sequence[Outcome]) -> None:
        now = self._clock()
        sent = [o.row.id for o in outcomes if o.error is None]
        blocked = {o.row.chat for o in outcomes if o.error is not None and o.error.blocked}
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # Safe to commit without waiting for the flush: if the database crashed before it,
                # these rows would still say "sending" and be sent again (at least once).
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            if sent:
                conn.execute(update(ReminderRow).where(ReminderRow.id.in_(sent)).values(status="sent", sent_at=now, lease_until=None))
            newly_blocked = block(conn, blocked, now)
            for o in outcomes:
                if o.error is None or o.error.blocked:
                    continue
                status, retry_at = self._after_failure(o, now)
                doubtful = o.error.maybe_sent and not self._idempotent(o.row)
                conn.execute(update(ReminderRow).where(ReminderRow.id == o.row.id).values(
                    status=status, worker=None, lease_until=None, **({"due_at": retry_at} if retry_at else {}),
                    **({"doubtful_sends": ReminderRow.doubtful_sends + 1} if doubtful else {}),
                ))
                self._observe("failed" if status != "pending" else "retried", o.row.chat.channel, 1)
                log.warning("reminder %d: %s (%s)", o.row.id, status, o.error)
        for chat in blocked:
            self._observe("failed", chat.channel, sum(o.row.chat == chat and o.error is not None for o in outcomes))
        for chat in newly_blocked:
            # One line, no traceback: a citizen blocking the bot is their choice, not a fault.
            log.warning("reminders held: the chat blocked the bot (they go out when it writes again)",
                        extra={"chat": pseudonym(chat.channel, chat.chat_id)})
        for channel in {o.row.chat.channel for o in outcomes if o.error is None}:
            self._observe("sent", channel, sum(o.error is None and o.row.chat.channel == channel for o in outcomes))

    def _after_failure(self, outcome: Outcome, now: dt.datetime) -> tuple[str, dt.datetime | None]:
        error = outcome.error
        assert error is not None
        if error.permanent:
            return "failed", None
        attempts = outcome.row.attempts + 1  # this attempt was counted when the row was marked sending
        if attempts >= MAX_ATTEMPTS:
            return "failed", None
        return "pending", now + dt.timedelta(seconds=30 * 2 ** attempts)

    def _settle(self, dropped: Sequence[int], deferred: Sequence[tuple[int, dt.datetime]]) -> None:
        with self._engine.begin() as conn:
            if dropped:
                conn.execute(update(ReminderRow).where(ReminderRow.id.in_(dropped)).values(status="dropped", worker=None, lease_until=None))
            for row_id, until in deferred:
                conn.execute(update(ReminderRow).where(ReminderRow.id == row_id).values(due_at=until, worker=None, lease_until=None))

    def _idempotent(self, row: Claimed) -> bool:
        return self._deliverers[(row.chat.channel, row.chat.profile)].idempotent

    def _recover(self, now: dt.datetime) -> None:
        """Rows a dead worker left in ``sending`` go back to the queue and are sent again; where the
        channel cannot drop a repeat, the send that may have arrived is counted as doubtful."""
        stale = and_(ReminderRow.status == "sending", ReminderRow.lease_until < now, self._ours())
        idempotent = [k for k, d in self._deliverers.items() if d.idempotent]
        with self._engine.begin() as conn:
            if idempotent:
                conn.execute(update(ReminderRow).where(stale, tuple_(ReminderRow.channel, ReminderRow.profile).in_(idempotent))
                             .values(status="pending", worker=None, lease_until=None))
            doubtful = conn.execute(update(ReminderRow).where(stale).values(
                status="pending", worker=None, lease_until=None, doubtful_sends=ReminderRow.doubtful_sends + 1,
            ).returning(ReminderRow.channel)).all()
        for channel in {c for (c,) in doubtful}:
            count = sum(c == channel for (c,) in doubtful)
            self._observe("retried", channel, count)
            log.warning("%d %s reminders were being sent by a worker that died; sending them again (a chat may get one twice)", count, channel)

    def purge_finished(self, now: dt.datetime) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(delete(ReminderRow).where(ReminderRow.status.in_(FINISHED), ReminderRow.due_at < now - KEEP_FINISHED)).rowcount)
