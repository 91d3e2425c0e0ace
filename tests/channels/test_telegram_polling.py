"""Polling that confirms an update only once it is handled (bot.channels.telegram._Poller), against
the fake Bot API: what is confirmed when, each chat in order, faults of getUpdates, a clean stop,
and updates another process took on."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.channels.telegram import MemorySeenUpdates, TelegramChannel, TelegramSettings
from bot.core.models import Incoming, Reply
from tests.channels.test_telegram import TOKEN
from tests.fakes.aio import eventually, reap_tasks
from tests.fakes.telegram_api import FakeBotApi


def echo(incoming: Incoming) -> Sequence[Reply]:
    return [Reply(f"Antwort auf {incoming.text}")]


def confirmed(fake: FakeBotApi) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return fake.pending_updates == []

    return condition


def settings(fake: FakeBotApi, **overrides: object) -> TelegramSettings:
    return TelegramSettings(token=TOKEN, base_url=fake.base_url, poll_timeout=1, **overrides)  # type: ignore[arg-type]


def test_an_update_is_confirmed_only_once_it_is_answered() -> None:
    release = threading.Event()

    def slow(incoming: Incoming) -> Sequence[Reply]:
        release.wait(10)
        return echo(incoming)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(settings(fake), slow)
            await channel.start()
            update = fake.push_message(11, "Hallo")
            await asyncio.sleep(1.0)  # polled, claimed, its turn running; getUpdates asked again meanwhile
            assert [u["update_id"] for u in fake.pending_updates] == [update["update_id"]]
            release.set()
            await fake.wait_for(1, chat_id=11)
            await eventually(confirmed(fake))
            await channel.stop()
            await reap_tasks()

    asyncio.run(main())


def test_a_chats_updates_in_order_other_chats_meanwhile() -> None:
    """A chat whose turn hangs holds up its own next message, not the other chats."""
    release = threading.Event()

    def handle(incoming: Incoming) -> Sequence[Reply]:
        if incoming.text == "langsam":
            release.wait(10)
        return echo(incoming)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(settings(fake), handle)
            await channel.start()
            fake.push_message(21, "langsam")
            fake.push_message(21, "danach")
            for chat in (22, 23, 24):
                fake.push_message(chat, "Hallo")
            await fake.wait_for(3)
            assert fake.messages_to(21) == []
            release.set()
            await fake.wait_for(2, chat_id=21)
            assert [m["text"] for m in fake.messages_to(21)] == ["Antwort auf langsam", "Antwort auf danach"]
            await channel.stop()
            await reap_tasks()

    asyncio.run(main())


def test_polling_backs_off_over_failed_calls_and_goes_on() -> None:
    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            fake.break_next("getUpdates", 2)  # 502 from the front end, twice
            channel = TelegramChannel(settings(fake), echo)
            started = time.monotonic()
            await channel.start()
            fake.push_message(31, "Hallo")
            await fake.wait_for(1, chat_id=31, timeout=20)
            assert time.monotonic() - started >= 3  # waited 1 s, then 2 s
            assert len(fake.messages_to(31)) == 1
            await channel.stop()
            await reap_tasks()

    asyncio.run(main())


def test_a_clean_stop_finishes_the_turn_running_and_leaves_the_rest_to_the_next_process() -> None:
    """Stopping in a backlog: the update being answered is answered, the queued ones stay
    unconfirmed and unclaimed, and the next process answers them at once (no lease to wait)."""
    seen = MemorySeenUpdates()

    def slow(incoming: Incoming) -> Sequence[Reply]:
        time.sleep(0.3)
        return echo(incoming)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            for i in range(6):
                fake.push_message(41, f"Frage {i}")
            first = TelegramChannel(settings(fake, claim_lease=600), slow, seen)
            await first.start()
            await fake.wait_for(1, chat_id=41)
            await first.stop()
            answered = len(fake.messages_to(41))
            assert 1 <= answered < 6
            assert len(fake.pending_updates) == 6 - answered
            second = TelegramChannel(settings(fake, claim_lease=600), slow, seen)
            await second.start()
            await fake.wait_for(6, chat_id=41, timeout=10)
            await asyncio.sleep(0.5)
            await second.stop()
            assert [m["text"] for m in fake.messages_to(41)] == [f"Antwort auf Frage {i}" for i in range(6)]
            await reap_tasks()

    asyncio.run(main())


def test_an_update_another_process_took_on_is_answered_after_its_lease_and_a_sent_one_never() -> None:
    seen = MemorySeenUpdates()
    lease = dt.timedelta(seconds=60)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            stalled = fake.push_message(51, "liegengeblieben")["update_id"]
            sent = fake.push_message(52, "schon beantwortet")["update_id"]
            seen.claim_polled("default", [stalled, sent], "killed-process", lease)  # a process took both on …
            seen.mark_sending("default", [sent])  # … sent the answer to one, then died
            channel = TelegramChannel(settings(fake, claim_lease=0.5), echo, seen)
            await channel.start()
            fake.push_message(53, "neu")
            await fake.wait_for(1, chat_id=53)
            await fake.wait_for(1, chat_id=51, timeout=10)  # once the other process's lease ran out
            await eventually(confirmed(fake))
            await channel.stop()
            assert len(fake.messages_to(51)) == 1
            assert fake.messages_to(52) == []
            await reap_tasks()

    asyncio.run(main())


def test_two_pollers_on_one_token_answer_each_update_once() -> None:
    """A second process polling the same token (a mistake, logged as Conflict): Telegram hands the
    unconfirmed updates to both in turn, and the shared claims keep each to one answer."""
    seen = MemorySeenUpdates()  # the database both processes share

    def slow(incoming: Incoming) -> Sequence[Reply]:
        time.sleep(0.1)
        return echo(incoming)

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            one = TelegramChannel(settings(fake), slow, seen)
            two = TelegramChannel(settings(fake), slow, seen)
            await one.start()
            await two.start()
            for i in range(12):
                fake.push_message(61 + i % 3, f"Frage {i}")
            await fake.wait_for(12, timeout=60)
            await asyncio.sleep(1.0)
            await two.stop()
            await one.stop()
            for chat in (61, 62, 63):
                # Once each; the order of a chat's answers is each process's own, not across both.
                assert sorted(m["text"] for m in fake.messages_to(chat)) == sorted(f"Antwort auf Frage {i}" for i in range(12) if 61 + i % 3 == chat)
            await reap_tasks()

    asyncio.run(main())
