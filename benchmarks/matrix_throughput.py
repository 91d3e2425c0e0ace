"""Matrix throughput: answered messages per second and reply latency of Bürgerbot on a real Synapse, against a bare nio echo bot.

What is measured: a real Synapse (``tests/matrix_server.py``, SQLite, every ``rc_*`` rate limit
relaxed) runs in a temporary folder as its own process. One citizen account creates ``--rooms`` R
direct rooms with the bot invited; once the bot has joined all of them, ``--messages`` N citizens'
questions (``m.text``) are sent round-robin over the rooms, as fast as Synapse accepts them (one
sending coroutine per room, each waiting for Synapse's answer before its next message). The
citizen's client syncs meanwhile and collects the bot's ``m.notice`` replies until there are N
(or ``--timeout``).

* ``answered_per_s``: answered messages / (``origin_server_ts`` of the last reply − that of the
  first message), both stamped by Synapse;
* ``p50_ms``/``p99_ms``: per message, ``origin_server_ts`` of the message → of its reply (the k-th
  notice in a room answers the k-th message there: both bots answer a room in order);
  ``seen_p50_ms``/``seen_p99_ms`` are the citizen's view instead: start of the send request → the
  reply arriving in the citizen's sync;
* ``send_per_s``: how fast the messages went in (first → last message timestamp), to tell a bot
  that keeps up with the senders (answered ≈ sent) from one that falls behind;
* ``synapse_cpu_share``/``bench_cpu_share``: CPU seconds of the Synapse process and of this
  process (bot under test + citizen client) per wall second of the phase (1.0 = one core).

Bot under test: ``MatrixChannel`` (encryption off, settings otherwise as shipped: concurrency 8,
30 s long-poll sync) + the production ``Dialogue`` (``bot.wiring.build_dialogue`` with ``open_storage``
over the default Musterstadt knowledge in ``faq/`` and ``intents/``; chat states and unanswered
questions in a new SQLite database in a temporary folder as shipped, ``--database-url`` for
another). The questions: half drawn from ``tests/data/musterstadt_eval.jsonl``, half from the
knowledge base's example questions (German and English), fixed seed; each gets one reply.

Baseline, in the same run, same Synapse, same citizen, new rooms: a bare matrix-nio echo bot
(``AsyncClient.sync_forever`` with a callback that joins invited rooms and one that
``room_send``\\ s each ``m.text`` body back as ``m.notice``; its sync filter only raises the
timeline limit, as nio's default lets Synapse cut timelines at 10 events and the echo bot would
then skip messages). ``ratio`` = ``answered_per_s`` / ``echo_answered_per_s``. Both are largely
bound by Synapse, which shares this 2-core machine with the bots. Each bot is measured ``--rounds`` times (default 2; a new bot account and new rooms
each time), alternating which goes first, since Synapse's database grows during the run; the
top-level numbers are medians over the rounds, ``rounds_answered_per_s`` lists each round.
``load_avg_1m`` is there because this machine is shared: read the rates together with it.
``--profile PREFIX`` writes a cProfile of this process during each bot's first phase.

Usage: ``python benchmarks/matrix_throughput.py --json [--messages 300] [--rooms 20]``.
One JSON object goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.matrix_throughput
    from benchmarks import harness
else:  # python benchmarks/matrix_throughput.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

from tests.matrix_server import unique

TARGETS = {"ratio": 0.9}
PASSWORD = "benchmark horse battery staple"
SYNC_FILTER = {
    "room": {"timeline": {"limit": 1000}, "ephemeral": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}},
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
}

COUNTS = ("answered", "expected", "extra_replies", "limited_timelines")  # summed over the rounds, the rest is a median

log = logging.getLogger("matrix_throughput")
progress = harness.progress_logger("matrix_throughput")


# ================================================================================================
# The citizen: creates rooms, sends, and watches the replies come in
# ================================================================================================


@dataclass
class RoomLog:
    sent_ts: list[int] = field(default_factory=list)  # origin_server_ts of our messages, in order
    sent_started: dict[str, float] = field(default_factory=dict)  # event_id → wall time the send began
    sent_ids: list[str] = field(default_factory=list)  # event ids in sending order
    reply_ts: list[int] = field(default_factory=list)  # origin_server_ts of the bot's notices
    reply_seen: list[float] = field(default_factory=list)  # wall time the citizen's sync showed them


class Citizen:
    def __init__(self, server: Any, store: Path) -> None:
        from nio import AsyncClient, AsyncClientConfig

        self.localpart = unique("citizen")
        server.register(self.localpart, PASSWORD)
        self.user_id = server.user_id(self.localpart)
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(server.base_url, self.user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False))
        self.rooms: dict[str, RoomLog] = {}
        self.bot_id = ""
        self.replies = 0
        self.own_ts: dict[str, int] = {}  # event id → origin_server_ts of our messages, from the sync
        self.limited_timelines = 0
        self.enough = asyncio.Event()
        self.expected = 0
        self._sync_task: asyncio.Task[None] | None = None

    async def login(self) -> None:
        from nio import LoginResponse

        resp = await self.client.login(PASSWORD)
        if not isinstance(resp, LoginResponse):
            raise RuntimeError(f"citizen login failed: {resp}")

    async def open_rooms(self, bot_id: str, count: int, timeout: float = 120) -> list[str]:
        """Create ``count`` direct rooms with the bot invited; return once the bot has joined all."""
        from nio import JoinedMembersResponse, RoomCreateResponse

        self.bot_id = bot_id
        ids: list[str] = []
        for _ in range(count):
            resp = await self.client.room_create(invite=[bot_id], is_direct=True)
            if not isinstance(resp, RoomCreateResponse):
                raise RuntimeError(f"room_create failed: {resp}")
            ids.append(resp.room_id)
        deadline = time.monotonic() + timeout
        waiting = set(ids)
        while waiting:
            for room_id in list(waiting):
                members = await self.client.joined_members(room_id)
                if isinstance(members, JoinedMembersResponse) and any(m.user_id == bot_id for m in members.members):
                    waiting.discard(room_id)
            if waiting:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bot joined {count - len(waiting)} of {count} rooms within {timeout:.0f} s")
                await asyncio.sleep(0.2)
        self.rooms = {room_id: RoomLog() for room_id in ids}
        return ids

    async def start_watching(self, expected: int) -> None:
        """Sync once to skip the history, then keep syncing in the background."""
        from nio import SyncResponse

        self.expected, self.replies, self.limited_timelines = expected, 0, 0
        self.enough = asyncio.Event()
        resp = await self.client.sync(timeout=0, sync_filter=SYNC_FILTER, full_state=True)
        if not isinstance(resp, SyncResponse):
            raise RuntimeError(f"citizen sync failed: {resp}")
        self._sync_task = asyncio.create_task(self._watch())

    async def stop_watching(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None

    async def _watch(self) -> None:
        from nio import SyncResponse

        while True:
            resp = await self.client.sync(timeout=5_000, sync_filter=SYNC_FILTER)
            now = time.time()
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            for room_id, info in resp.rooms.join.items():
                log_ = self.rooms.get(room_id)
                if log_ is None:
                    continue
                if info.timeline.limited:
                    self.limited_timelines += 1
                for event in info.timeline.events:
                    source = getattr(event, "source", {}) or {}
                    if source.get("type") != "m.room.message":
                        continue
                    msgtype = source.get("content", {}).get("msgtype")
                    if event.sender == self.user_id and msgtype == "m.text":
                        self.own_ts[source["event_id"]] = int(source["origin_server_ts"])
                    elif event.sender == self.bot_id and msgtype == "m.notice":
                        log_.reply_ts.append(int(source["origin_server_ts"]))
                        log_.reply_seen.append(now)
                        self.replies += 1
            if self.replies >= self.expected:
                self.enough.set()

    async def send_all(self, plan: dict[str, list[str]]) -> None:
        """One coroutine per room, each sending its messages one after the other."""
        await asyncio.gather(*(self._send_room(room_id, texts) for room_id, texts in plan.items()))

    async def _send_room(self, room_id: str, texts: list[str]) -> None:
        from nio import RoomSendError

        room = self.rooms[room_id]
        for text in texts:
            for _ in range(20):
                started = time.time()
                resp = await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
                if not isinstance(resp, RoomSendError):
                    room.sent_ids.append(resp.event_id)
                    room.sent_started[resp.event_id] = started
                    break
                await asyncio.sleep((resp.retry_after_ms or 200) / 1000)
            else:
                raise RuntimeError(f"could not send to {room_id}")

    async def fill_timestamps(self) -> None:
        """origin_server_ts of every message we sent (the send answer only carries the event id)."""
        from nio import RoomGetEventResponse

        for room_id, room in self.rooms.items():
            room.sent_ts = []
            for event_id in room.sent_ids:
                if event_id in self.own_ts:
                    room.sent_ts.append(self.own_ts[event_id])
                    continue
                resp = await self.client.room_get_event(room_id, event_id)
                if not isinstance(resp, RoomGetEventResponse):
                    raise RuntimeError(f"room_get_event failed: {resp}")
                room.sent_ts.append(int(resp.event.source["origin_server_ts"]))

    async def close(self) -> None:
        await self.stop_watching()
        await self.client.close()


# ================================================================================================
# The bots under test
# ================================================================================================

Starter = Callable[[Any, str, Path], Awaitable[Callable[[], Awaitable[None]]]]


def buergerbot_starter(live: Any, data_dir: Path, database_url: str | None) -> Starter:
    from bot.channels.matrix import MatrixChannel, MatrixSettings

    dialogue = harness.production_dialogue(live, data_dir, database_url)

    async def start(server: Any, localpart: str, store: Path) -> Callable[[], Awaitable[None]]:
        settings = MatrixSettings(homeserver=server.base_url, user_id=server.user_id(localpart), store_dir=store, password=PASSWORD, encryption=False)
        channel = MatrixChannel(settings, dialogue.handle)
        await channel.start()
        await asyncio.wait_for(channel.ready.wait(), 60)
        return channel.stop

    return start


async def start_echo(server: Any, localpart: str, store: Path) -> Callable[[], Awaitable[None]]:
    from nio import AsyncClient, AsyncClientConfig, InviteMemberEvent, LoginResponse, MatrixRoom, RoomMessageText

    user_id = server.user_id(localpart)
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(server.base_url, user_id, store_path=str(store), config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False))
    resp = await client.login(PASSWORD)
    if not isinstance(resp, LoginResponse):
        raise RuntimeError(f"echo login failed: {resp}")

    async def on_invite(room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == user_id and event.membership == "invite":
            await client.join(room.room_id)

    async def on_text(room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != user_id:
            await client.room_send(room.room_id, "m.room.message", {"msgtype": "m.notice", "body": event.body})

    client.add_event_callback(on_invite, InviteMemberEvent)  # type: ignore[arg-type]
    client.add_event_callback(on_text, RoomMessageText)  # type: ignore[arg-type]
    # nio's default sync lets Synapse cut each room's timeline at 10 events, and a bare bot then skips
    # messages under load: the one filter the baseline gets is a timeline limit high enough for all.
    task = asyncio.create_task(client.sync_forever(timeout=30_000, full_state=True, sync_filter={"room": {"timeline": {"limit": 1000}}}))
    task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or progress(f"echo bot: sync_forever ended: {t.exception()!r}"))

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()

    return stop


async def measure(
    name: str, server: Any, citizen: Citizen, starter: Starter, questions: list[str], rooms: int, store: Path, timeout: float, profile: str | None = None,
) -> dict[str, Any]:
    localpart = unique(name)
    server.register(localpart, PASSWORD)
    stop = await starter(server, localpart, store / localpart)
    try:
        progress(f"{name}: creating {rooms} direct rooms, waiting for the bot to join")
        room_ids = await citizen.open_rooms(server.user_id(localpart), rooms)
        plan: dict[str, list[str]] = {room_id: [] for room_id in room_ids}
        for i, text in enumerate(questions):
            plan[room_ids[i % rooms]].append(text)
        await citizen.start_watching(len(questions))
        progress(f"{name}: sending {len(questions)} messages over {rooms} rooms")
        with harness.profiled(profile, progress, f"{name}: cProfile of this process (bot + citizen)", lines=30):
            began, cpu0, syn0 = time.monotonic(), harness.cpu_seconds(), harness.process_cpu_seconds(server.pid)
            await citizen.send_all(plan)
            sent_after = time.monotonic() - began
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(citizen.enough.wait(), timeout)
            wall = time.monotonic() - began
            cpu, syn = harness.cpu_seconds() - cpu0, harness.process_cpu_seconds(server.pid) - syn0
        await asyncio.sleep(0.5)  # extra replies would show up now
        await citizen.stop_watching()
    finally:
        await stop()
    await citizen.fill_timestamps()
    latency, seen, sent_ts, reply_ts = [], [], [], []
    answered = extra = 0
    for room in citizen.rooms.values():
        sent_ts += room.sent_ts
        for k, ts in enumerate(room.reply_ts):
            if k >= len(room.sent_ts):
                extra += 1
                continue
            answered += 1
            reply_ts.append(ts)
            latency.append(ts - room.sent_ts[k])
            seen.append((room.reply_seen[k] - room.sent_started[room.sent_ids[k]]) * 1000)
    first, last_sent = min(sent_ts), max(sent_ts)
    last_reply = max(reply_ts) if reply_ts else first
    span = max(last_reply - first, 1) / 1000
    summary = {
        "answered": answered,
        "expected": len(questions),
        "extra_replies": extra,
        "timed_out": answered < len(questions),
        "seconds": round(span, 3),
        "answered_per_s": round(answered / span, 2),
        "send_per_s": round(len(sent_ts) / max((last_sent - first) / 1000, 1e-3), 2),
        "send_seconds": round(sent_after, 2),
        **harness.latency_percentiles(latency),
        **harness.latency_percentiles(seen, "seen_"),
        "bench_cpu_share": round(cpu / wall, 2),
        "synapse_cpu_share": round(syn / wall, 2),
        "limited_timelines": citizen.limited_timelines,
    }
    progress(f"{name}: {summary}")
    return summary


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from tests.matrix_server import SynapseServer

    live = harness.musterstadt_knowledge(progress)
    questions = [text for text, _ in harness.question_mix(live, args.messages, args.seed)]  # the same draws as on Telegram
    server = SynapseServer(tmp / "synapse", rate_limited=False)
    progress("starting Synapse")
    server.start()
    progress(f"Synapse up in {server.startup_seconds:.1f} s on {server.base_url}")
    results: dict[str, list[dict[str, Any]]] = {"buergerbot": [], "echo": []}
    try:
        citizen = Citizen(server, tmp / "citizen")
        await citizen.login()
        starters: dict[str, Starter] = {"buergerbot": buergerbot_starter(live, tmp / "data", args.database_url), "echo": start_echo}
        try:
            for r, name, profile in harness.abba_rounds(args.rounds, args.profile):
                progress(f"{name}: round {r + 1}/{args.rounds}")
                results[name].append(await measure(name, server, citizen, starters[name], questions, args.rooms, tmp / "bots", args.timeout, profile))
        finally:
            await citizen.close()
        server.check_alive()
    except BaseException:
        progress(server.log_tail())
        raise
    finally:
        server.stop()
    both = harness.Comparison.of(results, COUNTS)
    return {
        **both.headline(),
        "messages": args.messages,
        "rooms": args.rooms,
        "rounds": args.rounds,
        "targets": TARGETS,
        "meets_targets": {"ratio": both.ratio is not None and both.ratio >= TARGETS["ratio"]},
        "buergerbot": both.buergerbot,
        "echo": both.echo,
    }


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="measured phases per bot, alternating which bot goes first; medians are reported")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the replies after the last message went out")
    harness.add_channel_arguments(parser)
    parser.add_argument("--profile", metavar="PREFIX", help="cProfile this process (bot under test + citizen) during each bot's first phase into PREFIX.<bot>.prof")
    args = parser.parse_args()
    if args.messages < 1 or args.rooms < 1 or args.rounds < 1:
        parser.error("--messages, --rooms and --rounds must be positive")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    load_before = harness.note_load(progress)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="matrix-bench-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    result["load_avg_1m"] = harness.load_avg_1m(load_before)
    return harness.print_result(result, began)


if __name__ == "__main__":
    sys.exit(main())
