"""A chat that blocked the bot: its reminders are held after the first 403, with one log line and no
retries, and go out again once the chat writes to the bot. Real python-telegram-bot against the
fake Bot API, the real worker and reminder book on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.channels.telegram import TelegramChannel, TelegramSettings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import ChatRef, Incoming, NoticeKind
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.reminders.book import SqlReminderBook
from bot.reminders.queue import Due, enqueue
from bot.reminders.worker import ReminderWorker
from bot.storage.blocked_chats import BlockedChats, block
from bot.storage.tables import BlockedChatRow, ReminderRow
from tests.fakes.aio import reap_tasks
from tests.fakes.telegram_api import FakeBotApi
from tests.reminders.helpers import POLICY, Clock, at, plain_render

TOKEN = "123456:BLOCKED"
BLOCKER = ChatRef("telegram", "42")
OTHER = ChatRef("telegram", "43")


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def queue(engine: Engine, chat: ChatRef, key: str, when: dt.datetime) -> None:
    with engine.begin() as conn:
        enqueue(conn, [Due(key, "s1", chat, "de", NoticeKind.CASE_STATUS, {"reference": key}, when)])


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.dedupe_key: r.status for r in conn.execute(select(ReminderRow.dedupe_key, ReminderRow.status))}


def test_a_blocked_chat_is_held_without_retries_and_released_when_it_writes(
    engine: Engine, tiny_kb: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(at("2026-12-02", "12:00"))
    queue(engine, BLOCKER, "a", at("2026-12-02", "11:00"))
    queue(engine, BLOCKER, "b", at("2026-12-02", "11:30"))
    queue(engine, BLOCKER, "later", at("2026-12-02", "15:00"))
    queue(engine, OTHER, "other", at("2026-12-02", "11:00"))
    book = SqlReminderBook(engine, POLICY, clock)
    live = LiveKnowledge([tiny_kb])
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(), clock=clock, book=book)

    async def scenario() -> None:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url, per_chat_per_second=0), lambda msg: [])
            await channel.open_for_delivery()
            worker = ReminderWorker(engine, {channel.address: channel}, plain_render, POLICY, clock, window=1)
            try:
                fake.block_chat(42)
                with caplog.at_level(logging.INFO):
                    await worker.drain()
                assert [p["chat_id"] for p in fake.messages_to(43)] == [43]
                assert statuses(engine) == {"a": "blocked", "b": "blocked", "later": "blocked", "other": "sent"}
                held = [r for r in caplog.records if "blocked the bot" in r.getMessage()]
                assert len(held) == 1 and held[0].levelno == logging.WARNING and held[0].exc_info is None
                assert not any(r.levelno >= logging.ERROR or r.exc_info for r in caplog.records)
                tried = len([c for c in fake.calls if c[0] == "sendMessage" and c[1].get("chat_id") == 42])
                assert tried <= 2  # the first refusal (or two, one per lane in flight) held the rest: no retries

                # Time passes and a new reminder is queued for the chat: held without a request.
                clock.now = at("2026-12-02", "16:00")
                queue(engine, BLOCKER, "new", at("2026-12-02", "15:59"))
                await worker.drain()
                assert statuses(engine)["new"] == "blocked"
                assert len([c for c in fake.calls if c[0] == "sendMessage" and c[1].get("chat_id") == 42]) == tried

                # The user unblocks the bot and writes to it: what is still due goes out.
                fake.unblock_chat(42)
                dialogue.handle(Incoming("telegram", "42", "Hallo"))
                await worker.drain()
                assert len(fake.messages_to(42)) == 4
                assert set(statuses(engine).values()) == {"sent"}
            finally:
                await channel.app.shutdown()
                await reap_tasks()

    asyncio.run(scenario())
    with engine.connect() as conn:
        assert conn.execute(select(BlockedChatRow)).all() == []


def test_a_chat_writing_before_this_process_read_its_block_is_still_unblocked(engine: Engine) -> None:
    clock = Clock(dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC))
    start = clock.now
    blocked = BlockedChats(engine, clock, refresh=dt.timedelta(seconds=10))
    blocked.heard_from(OTHER)  # reads: nothing blocked yet
    quiet = ChatRef("telegram", "44")

    def at_second(n: int) -> dt.datetime:
        return start + dt.timedelta(seconds=n)

    with engine.begin() as conn:  # another process (a worker) records two blocks
        block(conn, [BLOCKER], at_second(1))
        block(conn, [quiet], at_second(4))
    clock.now = at_second(2)
    blocked.heard_from(BLOCKER)  # wrote after its block, before this process read it
    clock.now = at_second(3)
    blocked.heard_from(quiet)  # wrote before its block
    clock.now = at_second(11)
    blocked.heard_from(OTHER)  # the next read
    with engine.connect() as conn:
        assert [r.chat_id for r in conn.execute(select(BlockedChatRow.chat_id))] == ["44"]


def test_hearing_from_a_chat_while_the_database_is_away_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    from bot.storage.database import make_engine

    away = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    clock = Clock(dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC))
    blocked = BlockedChats(away, clock)
    blocked.heard_from(BLOCKER)  # the message is answered all the same
    blocked.heard_from(OTHER)  # and the database is not asked again at once
    assert len([r for r in caplog.records if "could not check for blocked chats" in r.getMessage()]) == 1
    away.dispose()
