"""Telegram's flood limits: one budget per bot token across processes, about one message a second per chat."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from benchmarks.telegram_flood import REDIS_URL, run
from bot.channels import telegram_limits
from bot.channels.telegram import TelegramChannel, TelegramSettings
from bot.channels.telegram_limits import LocalSlots, share_flood_limits
from bot.core.models import Reply
from bot.storage.database import make_engine
from tests.databases import NO_POSTGRES, postgres_engine
from tests.fakes.aio import reap_tasks
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123456:LIMITS"


def _redis_reachable() -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
        return True
    except RedisError:
        return False


@pytest.mark.parametrize("store", ["postgresql", "redis"])
def test_three_processes_with_one_token_stay_within_telegrams_30_a_second(store: str) -> None:
    """As the compose file runs them: the bot and two reminder workers, each allowed 30 a second."""
    if store == "postgresql":
        engine = postgres_engine()
        if engine is None:
            pytest.skip(NO_POSTGRES)
        engine.dispose()
    elif not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS_URL}")
    result = run(processes=3, messages=120, store=store)
    assert result["exit_codes"] == [0, 0, 0] and result["received"] == 120
    # Slots are 1/30 s apart. On a busy machine a send can leave a little after its slot and bunch
    # with the next ones, so a second may see a few more (each process alone: about 90).
    assert result["per_s"] <= 30.6 and result["max_in_any_second"] <= 33


def test_messages_to_one_chat_go_out_about_a_second_apart() -> None:
    async def scenario() -> list[float]:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url), lambda msg: [])
            await channel.open_for_delivery()
            try:
                await asyncio.gather(*(channel.deliver("42", Reply(f"Teil {i}"), f"k{i}") for i in range(3)))
            finally:
                await channel.app.shutdown()
                await reap_tasks()
            return list(fake.sent_at)

    arrivals = asyncio.run(scenario())
    assert len(arrivals) == 3
    assert all(later - earlier >= 0.95 for earlier, later in pairwise(arrivals))


def test_slots_are_spaced_by_the_interval_and_free_again_later() -> None:
    now = [100.0]
    slots = LocalSlots(clock=lambda: now[0])
    assert [slots.reserve_now("t", 0.5) for _ in range(3)] == [0.0, 0.5, 1.0]
    assert slots.reserve_now("other", 0.5) == 0.0  # budgets do not share slots
    now[0] = 110.0
    assert slots.reserve_now("t", 0.5) == 0.0  # an idle budget does not save up a burst
    assert slots.reserve_now("t", 0.5) == 0.5


def test_replies_still_go_out_while_the_shared_budget_is_unreachable(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    monkeypatch.setattr(telegram_limits, "_shared", None)  # restored after the test
    share_flood_limits(engine)

    async def scenario() -> int:
        async with FakeBotApi(TOKEN) as fake:
            channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=fake.base_url), lambda msg: [])
            await channel.open_for_delivery()
            try:
                await asyncio.gather(*(channel.deliver(str(100 + i), Reply("Antwort"), f"k{i}") for i in range(3)))
            finally:
                await channel.app.shutdown()
                await reap_tasks()
            return len(fake.sent_at)

    assert asyncio.run(scenario()) == 3
    assert len([r for r in caplog.records if "shared flood limit unavailable" in r.getMessage()]) == 1
    engine.dispose()
