"""Telegram flood limits across processes: several processes send with one bot token to the fake Bot API.

    python benchmarks/telegram_flood.py --json [--processes 3] [--messages 150] [--store postgresql|redis|local]

Each process is a real ``TelegramChannel`` (python-telegram-bot and its rate limiter,
bot/channels/telegram_limits.py) allowed Telegram's 30 messages a second, as each process of the
shipped compose file is. They start sending at the same moment, every message to another chat, and
the fake Bot API (tests/fakes/telegram_api.py) notes when each message arrives. ``store`` is where
the processes share the token's budget: a fresh schema of the local PostgreSQL, the local Redis, or
``local`` (each process alone: what the limit would be without sharing).

Keys: ``per_s`` (messages after the first / time from the first to the last arrival),
``max_in_any_second`` (most arrivals in any window of one second), ``received``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.telegram_flood
    from benchmarks import harness
else:  # python benchmarks/telegram_flood.py
    import harness  # type: ignore[no-redef]

TOKEN = "123456:flood"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/15"


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` (sorted) within any half-open window of ``window`` seconds."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def sender(base_url: str, store: str, where: str, start_at: float, first: int, count: int) -> None:
    from bot.channels.telegram import TelegramChannel, TelegramSettings
    from bot.channels.telegram_limits import share_flood_limits
    from bot.core.models import Reply
    from bot.storage.database import make_engine

    engine = make_engine(where) if store == "postgresql" else None
    share_flood_limits(engine, where if store == "redis" else None)
    channel = TelegramChannel(TelegramSettings(token=TOKEN, base_url=base_url, overall_per_second=30, per_chat_per_second=1), lambda msg: [])
    await channel.open_for_delivery()
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(channel.deliver(str(1000 + g), Reply(f"Nachricht {g}"), f"flood:{g}") for g in range(first, first + count)))
    finally:
        await channel.app.shutdown()
        if engine is not None:
            engine.dispose()


async def measure(processes: int, messages: int, store: str, where: str) -> dict[str, Any]:
    from tests.fakes.telegram_api import FakeBotApi

    async with FakeBotApi(TOKEN) as fake:
        # Late enough for every process to have imported and connected, so that all send at once.
        start_at = time.time() + 8.0
        bounds = [messages * i // processes for i in range(processes + 1)]
        env = {**os.environ, "PYTHONPATH": str(harness.REPO)}
        procs = [
            await asyncio.create_subprocess_exec(sys.executable, str(Path(__file__).resolve()), "--sender", fake.base_url, store, where,
                                                 str(start_at), str(bounds[i]), str(bounds[i + 1] - bounds[i]), cwd=str(harness.REPO), env=env)
            for i in range(processes)
        ]
        codes = [await p.wait() for p in procs]
        times = sorted(fake.sent_at)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "processes": processes, "messages": messages, "store": store, "exit_codes": codes, "received": len(times),
        "per_s": round((len(times) - 1) / span, 1) if span else None, "max_in_any_second": max_in_window(times),
    }


def run(processes: int = 3, messages: int = 150, store: str = "postgresql", database_url: str = PG_URL, redis_url: str = REDIS_URL) -> dict[str, Any]:
    if store == "postgresql":
        from sqlalchemy import text

        from bot.storage.database import make_engine, migrate

        schema = f"flood_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = make_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{database_url}{'&' if '?' in database_url else '?'}options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        try:
            return asyncio.run(measure(processes, messages, store, url))
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    if store == "redis":
        from redis import Redis

        client = Redis.from_url(redis_url)
        client.flushdb()  # a database of its own (15): earlier runs' slots would delay this one
        client.close()
        return asyncio.run(measure(processes, messages, store, redis_url))
    return asyncio.run(measure(processes, messages, store, ""))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--sender":
        base_url, store, where, start_at, first, count = sys.argv[2:8]
        asyncio.run(sender(base_url, store, where, float(start_at), int(first), int(count)))
        return
    parser = harness.argument_parser(__doc__ or "")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--store", choices=["postgresql", "redis", "local"], default="postgresql")
    parser.add_argument("--database-url", default=PG_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args()
    began = time.perf_counter()
    harness.print_result(run(args.processes, args.messages, args.store, args.database_url, args.redis_url), began)


if __name__ == "__main__":
    main()
