"""Telegram's flood limits, kept per bot token across every process that sends with it.

Telegram allows a bot about 30 messages a second in all, about one a second in one chat and 20 a
minute in one group. The bot process and any number of reminder workers send with the same token,
so the 30 a second is one budget: a send reserves the next free slot of that budget, spaced
1/30 s apart, and waits for it. The slots live where every process sees them:

* PostgreSQL (the deployment's database): one row per token in ``flood_budgets``, moved on by one
  atomic ``INSERT … ON CONFLICT DO UPDATE`` on the database's clock (one round trip a message);
* Redis, when configured (``BUERGERBOT_REDIS_URL``): the same in a Lua script on Redis's clock;
* in the process, for SQLite (one process by design) and tests.

The per-chat pace stays in the process: a chat is answered by one process, and a reminder for it
and an answer to it at the same moment are rare enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.blocking import run_blocking

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
GROUP_INTERVAL = 3.0  # 20 messages a minute in one group


class SlotStore(Protocol):
    async def reserve(self, key: str, interval: float) -> float:
        """Take the next free slot of ``key``, whose slots are ``interval`` seconds apart; returns
        how many seconds from now that slot begins (0 when it is free at once)."""
        ...

    async def close(self) -> None: ...


class LocalSlots:
    """Slots in this process (SQLite deployments, tests); at most ``max_keys`` of them kept."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max = max_keys
        self._next: OrderedDict[str, float] = OrderedDict()

    def reserve_now(self, key: str, interval: float) -> float:
        now = self._clock()
        start = max(self._next.get(key, now), now)
        self._next[key] = start + interval
        self._next.move_to_end(key)
        if len(self._next) > self._max:
            self._next.popitem(last=False)  # the least recently used, long free again
        return start - now

    async def reserve(self, key: str, interval: float) -> float:
        return self.reserve_now(key, interval)

    async def close(self) -> None:
        pass


# The database's clock, not the hosts': processes on several machines share the slots.
_RESERVE_SQL = """
INSERT INTO flood_budgets (key, next_at) VALUES (:key, extract(epoch from clock_timestamp()) + :interval)
ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(flood_budgets.next_at, extract(epoch from clock_timestamp())) + :interval
RETURNING next_at - :interval - extract(epoch from clock_timestamp())
"""


class PostgresSlots:
    """Slots in the ``flood_budgets`` table: the row lock orders the processes' reservations."""

    def __init__(self, engine: Engine) -> None:
        from sqlalchemy import text

        self._engine = engine
        self._sql = text(_RESERVE_SQL)

    def _reserve(self, key: str, interval: float) -> float:
        with self._engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")  # a slot lost in a crash costs nothing
            wait = conn.execute(self._sql, {"key": key, "interval": interval}).scalar_one()
        return max(0.0, float(wait))

    async def reserve(self, key: str, interval: float) -> float:
        # In a thread: a send waits for the database only, never blocks the other sends and updates.
        return await run_blocking(self._reserve, key, interval)

    async def close(self) -> None:
        pass


# KEYS[1]: the budget; ARGV[1]: the interval in microseconds. Redis's clock; the key expires once idle.
_RESERVE_LUA = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now_us)
-- '%.0f': Lua's own number formatting keeps 14 digits, too few for microseconds since 1970
redis.call('SET', KEYS[1], string.format('%.0f', start + interval), 'PX', math.ceil((start + interval - now_us) / 1000) + 60000)
return start - now_us
"""


class RedisSlots:
    """Slots in Redis, one key per budget, moved on by a Lua script (atomic in Redis)."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._script = self._redis.register_script(_RESERVE_LUA)

    async def reserve(self, key: str, interval: float) -> float:
        wait_us = await self._script(keys=[f"buergerbot:flood:{key}"], args=[round(interval * 1_000_000)])
        return max(0.0, int(wait_us) / 1_000_000)

    async def close(self) -> None:
        await self._redis.aclose()


def slot_store(engine: Engine | None = None, redis_url: str | None = None) -> SlotStore:
    """Where the processes of this deployment share their flood budgets: Redis when configured,
    else the PostgreSQL database, else this process alone."""
    if redis_url:
        return RedisSlots(redis_url)
    if engine is not None and engine.dialect.name == "postgresql":
        return PostgresSlots(engine)
    return LocalSlots()


_shared: SlotStore | None = None


def share_flood_limits(engine: Engine | None = None, redis_url: str | None = None) -> None:
    """Make the Telegram channels built in this process share their tokens' budgets through the
    deployment's Redis or database (called once at start-up, before the channels send)."""
    global _shared
    _shared = slot_store(engine, redis_url)


def budget_key(token: str) -> str:
    """The budget's name: a hash of the token, which itself is stored nowhere."""
    return "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class FloodLimits(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter for one bot token: the shared budget of
    ``overall_per_second`` (0: none), and ``per_chat_per_second`` per chat in this process (0: none;
    groups at most 20 a minute). A 429 that gets through anyway pauses every send of this process
    for the time Telegram names, up to ``max_retries`` times."""

    def __init__(self, token: str, overall_per_second: float = 30.0, per_chat_per_second: float = 1.0,
                 store: SlotStore | None = None, max_retries: int = 3) -> None:
        self._key = budget_key(token)
        self._overall = 1.0 / overall_per_second if overall_per_second > 0 else 0.0
        self._per_chat = 1.0 / per_chat_per_second if per_chat_per_second > 0 else 0.0
        self._store = store
        self._fallback = LocalSlots()
        self._degraded = False
        self._chats = LocalSlots()
        self._max_retries = max_retries
        self._open = asyncio.Event()
        self._open.set()

    async def initialize(self) -> None:
        if self._store is None:
            self._store = _shared or self._fallback

    async def shutdown(self) -> None:
        pass

    async def _wait_for_slots(self, chat_id: object) -> None:
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[call-overload]
        group = (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str)
        pace = max(self._per_chat, GROUP_INTERVAL) if group and self._per_chat else self._per_chat
        if pace:
            # The chat's slot first, the budget's after it: a slot of the budget is taken only
            # when the message can use it.
            await _sleep(self._chats.reserve_now(str(chat_id), pace))
        if self._overall:
            await _sleep(await self._reserve())

    async def _reserve(self) -> float:
        store = self._store or _shared or self._fallback
        self._store = store
        try:
            wait = await store.reserve(self._key, self._overall)
        except Exception as exc:  # the database or Redis is away: answers must still go out
            if not self._degraded:
                log.warning("shared flood limit unavailable (%s); this process counts alone until it is back", type(exc).__name__)
            self._degraded = True
            return self._fallback.reserve_now(self._key, self._overall)
        if self._degraded:
            log.info("shared flood limit available again")
            self._degraded = False
        return wait

    async def process_request(
        self, callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]], args: Any, kwargs: dict[str, Any],
        endpoint: str, data: dict[str, Any], rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        chat_id = data.get("chat_id")
        for attempt in range(retries + 1):
            await self._open.wait()
            if chat_id is not None:  # getUpdates, getMe, setMyCommands… are not messages
                await self._wait_for_slots(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                pause = _seconds(exc.retry_after) + 0.1
                log.warning("telegram flood limit hit (%s); every send waits %.1f s", endpoint, pause)
                self._open.clear()
                await asyncio.sleep(pause)
                self._open.set()
        raise AssertionError("unreachable")


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
