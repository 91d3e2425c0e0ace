"""Telegram throughput: answered messages per second and reply latency of Bürgerbot, against a bare PTB echo bot.

What is measured: ``--messages`` N text messages from ``--chats`` C private chats are pushed, in one
burst, into the fake Bot API (``tests/fakes/telegram_api.py``), which runs in its own process so
that the bot under test has a core of its own on this 2-core machine. The bot long-polls
``getUpdates`` and answers with ``sendMessage``. All timestamps are taken inside the fake process
(one clock):

* ``answered_per_s``: answered messages / (last ``sendMessage`` received − first ``getUpdates``
  answer that delivered a message of the burst);
* ``p50_ms``/``p99_ms``: per message, push into the fake → its ``sendMessage`` arriving at the fake.
  As the whole burst is queued at once, this includes the time a message waits behind the backlog
  (the last messages wait about N / throughput); ``service_p50_ms``/``service_p99_ms`` are measured
  from the ``getUpdates`` answer that delivered the message instead, i.e. without the wait in the
  fake's queue.

The k-th reply to a chat is taken to answer the k-th message pushed to that chat (chats get their
messages round-robin, so two messages of one chat are never handled at the same time). Every
message of the question mix gets exactly one ``sendMessage``; more than that is counted as
``extra_sends``.

Bot under test: ``TelegramChannel`` + the production ``Dialogue``, wrapped by the metrics
(``bot.ops.metrics.Metrics.observe``) as ``buergerbot run`` does (``bot.wiring.build_dialogue`` with
``open_storage``: the default Musterstadt knowledge in ``faq/`` and ``intents/``, city clock,
holiday calendar, chat states and unanswered questions in the database, by default a new SQLite
file in a temporary folder as shipped, ``--database-url`` for another; update ids claimed in the
same database). Questions: half of the messages are
drawn from ``tests/data/musterstadt_eval.jsonl`` (citizens' own phrasings, ~25 % out of scope),
half from the example questions of the knowledge base (German and English, the Telegram
``language_code`` set to the question's language); fixed seed.

Two limits of the adapter are lifted for this run, because they model Telegram's real flood
limits and would otherwise be all that is measured:

* the per-chat limiter (about 1 message a second per chat) via ``TelegramSettings(per_chat_per_second=...)``
  (``--per-chat-per-second``, default 1000; reported as ``per_chat_per_second``);
* PTB's ``AIORateLimiter(overall_max_rate=30)`` (Telegram's ~30 messages/s per bot), by building
  the channel with ``TelegramSettings(overall_per_second=0)`` (reported as ``overall_flood_limit_lifted``).

``as_shipped`` runs the adapter with its settings as shipped (per-chat limit and the 30/s flood
limit in place) on ``--as-shipped-messages`` messages from as many chats (0 to skip): once as a
burst, to show the flood limit at work (expect ≈ 30 answered/s), and once paced at
``--as-shipped-rate`` messages/s (default 20, below the flood limit), whose ``p50_ms``/``p99_ms``
are the reply latency a citizen sees when the bot is busy but not overloaded.

Baseline, in the same run against a fresh fake of its own: a bare python-telegram-bot
``Application`` with one ``MessageHandler`` that replies the text (no rate limiter), with the same
``concurrent_updates`` (``--concurrency``, default 4 like ``TelegramSettings``). ``ratio`` =
``answered_per_s`` / ``echo_answered_per_s``. Each bot first answers a small warm-up burst (not
measured). Both bots are measured ``--rounds`` times (default 2), alternating which goes first,
each time with a fresh fake and new chats; the top-level numbers are medians over the rounds,
``rounds_answered_per_s`` lists each round.

``bot_cpu_share``/``fake_cpu_share`` are the CPU seconds of the bot's and the fake's process
during the measured burst per wall second (1.0 = one core saturated), to tell which side was the
bottleneck; ``bot_cpu_ms_per_message`` is the bot process's CPU time per answered message, which
other load on the machine disturbs less than the rates. ``load_avg_1m`` is there because this
machine is shared: read the rates together with it. ``--profile PREFIX`` writes a cProfile of
each bot process during its first measured burst.

Usage: ``python benchmarks/telegram_throughput.py --json [--messages 3000] [--chats 300]``.
One JSON object goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.telegram_throughput
    from benchmarks import harness
else:  # python benchmarks/telegram_throughput.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

TOKEN = "123456:BENCH-TOKEN"
TARGETS = {"answered_per_s": 500, "ratio": 1.0}
WARMUP_MESSAGES = 60

COUNTS = ("answered", "expected", "extra_sends")  # summed over the rounds, the rest is a median

log = logging.getLogger("telegram_throughput")
progress = harness.progress_logger("telegram_throughput")


# ================================================================================================
# The fake Bot API, in its own process (hidden ``--fake-server``): JSON lines on stdin/stdout.
# ================================================================================================


@dataclass
class Burst:
    """One burst of pushed messages and what the fake saw of their answers."""

    expected: int
    push_time: dict[int, float] = field(default_factory=dict)  # update_id → monotonic
    per_chat: dict[int, list[int]] = field(default_factory=dict)  # chat → update_ids in push order
    delivered: dict[int, float] = field(default_factory=dict)  # update_id → first getUpdates answer
    replies: dict[int, int] = field(default_factory=dict)  # chat → sendMessage calls so far
    latency_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    first_delivery: float | None = None
    last_send: float | None = None
    extra_sends: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


def _timed_fake_class() -> type:
    from tests.fakes.telegram_api import FakeBotApi, JSONDict

    class TimedFakeBotApi(FakeBotApi):  # type: ignore[misc]
        """The test fake, plus timestamps of deliveries and answers for the current burst."""

        burst: Burst | None = None

        async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
            updates: list[JSONDict] = await super()._get_updates(params)
            burst, now = self.burst, time.monotonic()
            if burst is not None:
                for update in updates:
                    uid = update["update_id"]
                    if uid in burst.push_time and uid not in burst.delivered:
                        burst.delivered[uid] = now
                        if burst.first_delivery is None:
                            burst.first_delivery = now
            return updates

        async def _send_message(self, params: JSONDict) -> JSONDict:
            message: JSONDict = await super()._send_message(params)
            burst, now = self.burst, time.monotonic()
            chat = params.get("chat_id")
            if burst is not None and isinstance(chat, int) and chat in burst.per_chat:
                k = burst.replies.get(chat, 0)
                burst.replies[chat] = k + 1
                ids = burst.per_chat[chat]
                if k >= len(ids):
                    burst.extra_sends += 1
                else:
                    uid = ids[k]
                    burst.latency_ms.append((now - burst.push_time[uid]) * 1000)
                    burst.service_ms.append((now - burst.delivered.get(uid, burst.push_time[uid])) * 1000)
                    burst.last_send = now
                    if len(burst.latency_ms) == burst.expected:
                        burst.done.set()
            return message

    return TimedFakeBotApi


async def _fake_burst(fake: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    messages: list[list[Any]] = cmd["messages"]
    burst = Burst(expected=len(messages))
    fake.burst = burst
    cpu0 = harness.cpu_seconds()
    rate, t0 = cmd.get("rate"), time.monotonic()
    for i, (chat_id, text, lang) in enumerate(messages):
        if rate:  # paced: message i goes in at t0 + i / rate
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        update = fake.push_message(chat_id, text, language_code=lang)
        uid = update["update_id"]
        burst.push_time[uid] = time.monotonic()
        burst.per_chat.setdefault(chat_id, []).append(uid)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(burst.done.wait(), cmd["timeout"])
    end = burst.last_send or time.monotonic()
    await asyncio.sleep(cmd.get("settle", 0.3))  # extra answers would arrive now
    cpu = harness.cpu_seconds() - cpu0
    fake.burst = None
    start = burst.first_delivery or end
    wall = max(end - start, 1e-9)
    return {
        "expected": burst.expected,
        "answered": len(burst.latency_ms),
        "extra_sends": burst.extra_sends,
        "timed_out": not burst.done.is_set(),
        "seconds": wall,
        "latency_ms": burst.latency_ms,
        "service_ms": burst.service_ms,
        "fake_cpu_s": cpu,
    }


async def serve_fake() -> None:
    # Update ids from a random start, as Telegram's: each round's fresh fake must not hand out ids
    # the bot under test has claimed in an earlier round (same database).
    fake = _timed_fake_class()(TOKEN, first_update_id=random.randrange(1, 2**31 - 10**7))
    await fake.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def answer(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    answer({"base_url": fake.base_url})
    try:
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["op"] == "burst":
                answer(await _fake_burst(fake, cmd))
            elif cmd["op"] == "stop":
                break
    finally:
        await fake.stop()


class FakeProcess:
    """The parent's handle on a fake Bot API child process."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls) -> AsyncIterator[FakeProcess]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--fake-server",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(harness.REPO), limit=64 * 1024 * 1024,
        )
        try:
            assert proc.stdout is not None
            hello = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
            yield cls(proc, hello["base_url"])
        finally:
            if proc.returncode is None:
                with contextlib.suppress(Exception):
                    assert proc.stdin is not None
                    proc.stdin.write(b'{"op": "stop"}\n')
                    await proc.stdin.drain()
                    await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def burst(self, messages: list[tuple[int, str, str]], timeout: float, rate: float | None = None) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps({"op": "burst", "messages": messages, "timeout": timeout, "rate": rate}) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake Bot API process died")
        result: dict[str, Any] = json.loads(line)
        return result


# ================================================================================================
# The bots under test (in the parent process)
# ================================================================================================


def spread(questions: list[tuple[str, str]], chats: int, first_chat: int) -> list[tuple[int, str, str]]:
    """Round-robin over chats, so consecutive messages come from different chats."""
    return [(first_chat + i % chats, text, lang) for i, (text, lang) in enumerate(questions)]


Starter = Callable[[str], Awaitable[Callable[[], Awaitable[None]]]]


def buergerbot_starter(live: Any, data_dir: Path, database_url: str | None, concurrency: int, per_chat: float | None, lift_flood_limit: bool) -> Starter:
    """TelegramChannel + the production dialogue, counted by the metrics as in `buergerbot run`;
    ``per_chat`` None keeps the shipped per-chat limit."""
    from bot.channels.telegram import TelegramChannel, TelegramSettings
    from bot.ops.metrics import Metrics
    from bot.storage.database import make_engine
    from bot.storage.telegram_updates import SqlSeenUpdates

    dialogue = harness.production_dialogue(live, data_dir, database_url)
    handle = Metrics().observe(dialogue.handle, "default")
    # Update ids claimed in the same database, as `buergerbot run` does (bot.wiring.build_channels).
    seen = SqlSeenUpdates(make_engine(database_url or f"sqlite:///{data_dir / 'buergerbot.db'}"))

    async def start(base_url: str) -> Callable[[], Awaitable[None]]:
        settings = TelegramSettings(token=TOKEN, base_url=base_url, concurrency=concurrency, poll_timeout=10)
        if per_chat is not None:
            settings = dataclasses.replace(settings, per_chat_per_second=per_chat)
        if lift_flood_limit:
            settings = dataclasses.replace(settings, overall_per_second=0)
        channel = TelegramChannel(settings, handle, seen)
        await channel.start()
        return channel.stop

    return start


def echo_starter(concurrency: int) -> Starter:
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await message.reply_text(message.text)

    async def start(base_url: str) -> Callable[[], Awaitable[None]]:
        app = Application.builder().token(TOKEN).base_url(base_url).concurrent_updates(concurrency).build()
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
        await app.initialize()
        assert app.updater is not None
        await app.updater.start_polling(timeout=10, allowed_updates=Update.ALL_TYPES)
        await app.start()

        async def stop() -> None:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

        return stop

    return start


async def measure(
    name: str, starter: Starter, warmup: list[tuple[int, str, str]], burst: list[tuple[int, str, str]], timeout: float,
    profile: str | None = None, rate: float | None = None,
) -> dict[str, Any]:
    async with FakeProcess.running() as fake:
        stop = await starter(fake.base_url)
        try:
            if warmup:
                w = await fake.burst(warmup, timeout)
                progress(f"{name}: warm-up {w['answered']}/{w['expected']} answered")
            how = f"paced at {rate:g}/s" if rate else "burst"
            progress(f"{name}: {how}, {len(burst)} messages from {len({c for c, _, _ in burst})} chats")
            with harness.profiled(profile, progress, f"{name}: cProfile of the measured burst", lines=40):
                began, cpu0 = time.monotonic(), harness.cpu_seconds()
                result = await fake.burst(burst, timeout, rate)
                wall, cpu = time.monotonic() - began, harness.cpu_seconds() - cpu0
        finally:
            await stop()
    lat, svc = result.pop("latency_ms"), result.pop("service_ms")
    answered, seconds = result["answered"], result["seconds"]
    summary = {
        "answered": answered,
        "expected": result["expected"],
        "extra_sends": result["extra_sends"],
        "timed_out": result["timed_out"],
        "seconds": round(seconds, 3),
        "answered_per_s": round(answered / seconds, 1) if answered else 0.0,
        **harness.latency_percentiles(lat),
        **harness.latency_percentiles(svc, "service_"),
        # the burst command also covers pushing and the settle pause: an upper bound of the wall time
        "bot_cpu_share": round(cpu / wall, 2),
        "fake_cpu_share": round(result["fake_cpu_s"] / wall, 2),
        "bot_cpu_ms_per_message": round(cpu / answered * 1000, 3) if answered else None,
        "fake_cpu_ms_per_message": round(result["fake_cpu_s"] / answered * 1000, 3) if answered else None,
    }
    progress(f"{name}: {summary}")
    return summary


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = harness.note_load(progress)
    live = harness.musterstadt_knowledge(progress)
    questions = harness.question_mix(live, args.messages + WARMUP_MESSAGES, args.seed)
    warmup_q, burst_q = questions[:WARMUP_MESSAGES], questions[WARMUP_MESSAGES:]
    results: dict[str, list[dict[str, Any]]] = {"buergerbot": [], "echo": []}
    shipped: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        starters = {
            "buergerbot": buergerbot_starter(live, Path(tmp), args.database_url, args.concurrency, args.per_chat_per_second, lift_flood_limit=True),
            "echo": echo_starter(args.concurrency),
        }
        for r, name, profile in harness.abba_rounds(args.rounds, args.profile):
            first_chat = 10_000_000 * (r + 1)  # new chats every round
            results[name].append(await measure(
                f"{name} (round {r + 1}/{args.rounds})", starters[name], spread(warmup_q, args.chats, first_chat),
                spread(burst_q, args.chats, first_chat + 1_000_000), args.timeout, profile,
            ))
        n = min(args.as_shipped_messages, len(burst_q))
        if n > 0:
            stock = buergerbot_starter(live, Path(tmp), args.database_url, args.concurrency, None, lift_flood_limit=False)
            shipped["burst"] = await measure("buergerbot as shipped", stock, [], spread(burst_q[:n], n, 90_000_000), args.timeout)
            shipped["paced"] = await measure("buergerbot as shipped", stock, [], spread(burst_q[-n:], n, 91_000_000), args.timeout,
                                             rate=args.as_shipped_rate)
            shipped["paced"]["offered_per_s"] = args.as_shipped_rate
    both = harness.Comparison.of(results, COUNTS)
    main, ratio = both.buergerbot, both.ratio
    out: dict[str, Any] = {
        **both.headline(),
        "messages": args.messages,
        "chats": args.chats,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "per_chat_per_second": args.per_chat_per_second,
        "overall_flood_limit_lifted": True,
        "targets": TARGETS,
        "meets_targets": {
            "answered_per_s": bool(main["answered_per_s"] and main["answered_per_s"] >= TARGETS["answered_per_s"]),
            "ratio": ratio is not None and ratio >= TARGETS["ratio"],
        },
        "buergerbot": main,
        "echo": both.echo,
    }
    if shipped:
        out["as_shipped"] = {"per_chat_per_second": 1.0, "overall_max_rate": 30, **shipped}
    out["load_avg_1m"] = harness.load_avg_1m(load_before)
    return out


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent_updates of both bots")
    parser.add_argument("--per-chat-per-second", type=float, default=1000.0, help="TelegramSettings.per_chat_per_second for the measured run")
    parser.add_argument("--rounds", type=int, default=2, help="measured bursts per bot, alternating which bot goes first; medians are reported")
    parser.add_argument("--as-shipped-messages", type=int, default=300, help="messages (one per chat) for the runs with the shipped flood limits (0: skip)")
    parser.add_argument("--as-shipped-rate", type=float, default=20.0, help="offered messages per second of the paced as-shipped run")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a burst may take at most")
    harness.add_channel_arguments(parser)
    parser.add_argument("--profile", metavar="PREFIX", help="cProfile the bot process during the measured bursts into PREFIX.buergerbot.prof and PREFIX.echo.prof (slows the bots down)")
    parser.add_argument("--fake-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_server:
        asyncio.run(serve_fake())
        return 0
    if args.messages < 1 or args.chats < 1 or args.rounds < 1:
        parser.error("--messages, --chats and --rounds must be positive")
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    began = time.perf_counter()
    return harness.print_result(asyncio.run(run(args)), began)


if __name__ == "__main__":
    sys.exit(main())
