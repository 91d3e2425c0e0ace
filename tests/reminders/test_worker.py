"""The delivery worker: claim, mark, send, record — and what happens when a worker dies mid-send."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine, select, update

from bot.core.models import ChatRef, NoticeKind
from bot.core.ports import DeliveryFailed
from bot.reminders.queue import Due, enqueue
from bot.reminders.worker import ReminderWorker
from bot.storage.tables import ReminderRow
from tests.reminders.helpers import POLICY, Clock, RecordingDeliverer, at, plain_render

CHAT = ChatRef("telegram", "1", "default")
MATRIX_CHAT = ChatRef("matrix", "!room:localhost", "default")


def due(key: str, when: dt.datetime, chat: ChatRef = CHAT, kind: NoticeKind = NoticeKind.CASE_STATUS, expires: dt.datetime | None = None) -> Due:
    return Due(key, "s1", chat, "de", kind, {"reference": key}, when, expires)


def fill(engine: Engine, items: list[Due]) -> None:
    with engine.begin() as conn:
        enqueue(conn, items)


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.dedupe_key: r.status for r in conn.execute(select(ReminderRow.dedupe_key, ReminderRow.status))}


def worker(engine: Engine, clock: Clock, deliverers: dict[tuple[str, str], RecordingDeliverer], **kw: object) -> ReminderWorker:
    return ReminderWorker(engine, deliverers, plain_render, POLICY, clock, **kw)  # type: ignore[arg-type]


def test_due_rows_go_out_once_and_later_rows_wait(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    fill(engine, [due("a", at("2026-12-02", "11:00")), due("b", at("2026-12-02", "11:59")), due("later", at("2026-12-02", "13:00"))])
    channel = RecordingDeliverer()
    w = worker(engine, clock, {("telegram", "default"): channel})
    assert asyncio.run(w.drain()) == 2
    assert asyncio.run(w.drain()) == 0
    assert sorted(s[1].split()[0] for s in channel.sent) == ["case_status", "case_status"]
    assert statuses(engine) == {"a": "sent", "b": "sent", "later": "pending"}
    clock.now = at("2026-12-02", "13:00")
    asyncio.run(w.drain())
    assert len(channel.sent) == 3 and len({key for _, _, key in channel.sent}) == 3


def test_late_reminders_are_dropped_and_night_ones_wait_for_the_morning(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "23:00"))
    fill(engine, [
        due("missed", at("2026-12-02", "09:30"), kind=NoticeKind.APPOINTMENT, expires=at("2026-12-02", "10:30")),
        due("night", at("2026-12-02", "22:00")),
        due("early", at("2026-12-02", "22:30"), kind=NoticeKind.APPOINTMENT, expires=at("2026-12-03", "07:00")),
    ])
    channel = RecordingDeliverer()
    asyncio.run(worker(engine, clock, {("telegram", "default"): channel}).drain())
    assert statuses(engine) == {"missed": "dropped", "night": "pending", "early": "sent"}
    with engine.connect() as conn:
        assert conn.execute(select(ReminderRow.due_at).where(ReminderRow.dedupe_key == "night")).scalar_one() == at("2026-12-03", "08:00")


def doubtful(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {r.dedupe_key: r.doubtful_sends for r in conn.execute(select(ReminderRow.dedupe_key, ReminderRow.doubtful_sends))}


def test_failures(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    fill(engine, [due("gone", at("2026-12-02", "11:00")), due("flaky", at("2026-12-02", "11:01")), due("doubt", at("2026-12-02", "11:02"))])
    channel = RecordingDeliverer()
    channel.fail = [DeliveryFailed("ChatNotFound", permanent=True), DeliveryFailed("ConnectError"), DeliveryFailed("TimedOut", maybe_sent=True)]
    # One lane, one row at a time: the failures are handed out in the rows' order.
    w = worker(engine, clock, {("telegram", "default"): channel}, window=1, lanes=1)
    asyncio.run(w.drain())
    # A send that timed out may have arrived, but a missed reminder is worse than one twice: retried.
    assert statuses(engine) == {"gone": "failed", "flaky": "pending", "doubt": "pending"}
    clock.now += dt.timedelta(minutes=5)  # past the back-off
    asyncio.run(w.drain())
    assert statuses(engine) == {"gone": "failed", "flaky": "sent", "doubt": "sent"} and channel.sent[0][2].startswith("reminder:")
    assert doubtful(engine) == {"gone": 0, "flaky": 0, "doubt": 1}


def _die_mid_send(engine: Engine, clock: Clock, chat: ChatRef) -> None:
    """A worker claimed and marked the row, then was killed before recording the result."""
    fill(engine, [due("x", at("2026-12-02", "11:00"), chat=chat)])
    with engine.begin() as conn:
        conn.execute(update(ReminderRow).values(status="sending", worker="dead:1", lease_until=clock.now + dt.timedelta(seconds=120), attempts=1))


def test_a_row_left_sending_by_a_dead_worker_is_sent_again_on_telegram_and_counted_as_doubtful(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    _die_mid_send(engine, clock, CHAT)
    channel = RecordingDeliverer(idempotent=False)
    w = worker(engine, clock, {("telegram", "default"): channel})
    asyncio.run(w.drain())
    assert statuses(engine) == {"x": "sending"} and channel.sent == []  # the lease still runs: maybe it is still on its way
    clock.now += dt.timedelta(minutes=3)
    asyncio.run(w.drain())
    assert statuses(engine) == {"x": "sent"} and len(channel.sent) == 1
    assert doubtful(engine) == {"x": 1}  # the dead worker's send may have arrived too


def test_a_row_left_sending_on_matrix_is_sent_again_with_the_same_key(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    _die_mid_send(engine, clock, MATRIX_CHAT)
    channel = RecordingDeliverer(idempotent=True)
    w = worker(engine, clock, {("matrix", "default"): channel})
    clock.now += dt.timedelta(minutes=3)
    asyncio.run(w.drain())
    assert statuses(engine) == {"x": "sent"}
    assert len(channel.sent) == 1 and channel.sent[0][2].startswith("reminder:")
    assert doubtful(engine) == {"x": 0}  # the homeserver drops a repeat of the transaction id


def test_a_worker_only_takes_rows_for_channels_it_can_deliver(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    fill(engine, [due("tg", at("2026-12-02", "11:00")), due("mx", at("2026-12-02", "11:00"), chat=MATRIX_CHAT)])
    asyncio.run(worker(engine, clock, {("telegram", "default"): RecordingDeliverer()}).drain())
    assert statuses(engine) == {"tg": "sent", "mx": "pending"}


def test_finished_rows_are_purged_after_a_month(engine: Engine) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    fill(engine, [due("old", at("2026-10-01", "11:00")), due("new", at("2026-12-02", "11:00"))])
    w = worker(engine, clock, {("telegram", "default"): RecordingDeliverer()})
    asyncio.run(w.drain())
    assert w.purge_finished(clock.now) == 1 and set(statuses(engine)) == {"new"}
