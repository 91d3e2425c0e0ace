"""Web chat throughput: 1,000 concurrent WebSocket sessions asking questions, Bürgerbot against a bare aiohttp WebSocket echo server.

What is measured: the server under test runs in its own process (``--serve``), so that it has a core
of its own on this 2-core machine; this process opens ``--sessions`` WebSocket sessions at once
(each says ``hello`` as the widget does) and then

* ``answered_per_s``: every session asks ``--questions`` questions one after another (the next
  when the answer came), all sessions at once: answers / seconds from the first question to the
  last answer; ``p50_ms``/``p99_ms`` are question → answer per question under that full load;
* ``paced``: questions at ``--rate`` per second (default 200), spread over the sessions, for
  ``--paced-seconds``: ``p50_ms``/``p99_ms`` are the latency a citizen sees when the server is busy
  but not overloaded (target p99 ≤ 100 ms);
* ``memory_per_session_kb``: the server's resident memory after opening the sessions and one
  answered question each (so each holds an answer in its outbox), minus before, per session.

Bot under test: ``WebChannel`` with the production ``Dialogue`` (``benchmarks/harness.py``:
Musterstadt knowledge, SQLite chat states), wrapped by the metrics as ``buergerbot run`` does; the
limits per session and per address are lifted (every session comes from 127.0.0.1). Questions: the
channel benchmarks' mix (``harness.question_mix``). Baseline: a bare aiohttp WebSocket handler that
sends back an item with the question, in the same run; ``ratio`` = ``answered_per_s`` /
``echo_answered_per_s``. Between the two, ``channel_echo`` is the same ``WebChannel`` with a
handler that returns the question as the answer: ``channel_ratio`` (its rate over the bare echo's)
is what the adapter itself costs, apart from the dialogue. ``server_cpu_ms_per_answer`` is the
server process's CPU time per answer, which other load on this shared machine disturbs less than
the rates. ``client_cpu_share`` tells whether this process (all sessions' clients)
was the bottleneck. ``dialogue_cpu_ms_per_turn`` is the CPU time of the dialogue turn alone (the
thread's own CPU time around the profile's handle, over all the run's turns): set against the bare
echo's ``server_cpu_ms_per_answer`` it shows how much of the gap is the answer's real work, which
no adapter change removes.

Usage: ``python benchmarks/web_throughput.py --json`` (``--help`` lists the load options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.web_throughput
    from benchmarks import harness
else:  # python benchmarks/web_throughput.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

progress = harness.progress_logger("web")
TARGETS = {"ratio": 0.8, "paced_p99_ms": 100.0}


# --- the servers (in their own process) ----------------------------------------------------------


async def serve_buergerbot(data_dir: Path, database_url: str | None) -> None:
    from bot.channels.web import WebChannel, WebSettings
    from bot.core.models import Incoming, Reply
    from bot.ops.metrics import Metrics

    live = harness.musterstadt_knowledge(progress)
    dialogue = harness.production_dialogue(live, data_dir, database_url)
    handle = Metrics().observe(dialogue.handle, "buerger")
    turns, cpu_seconds = 0, 0.0

    def timed(message: Incoming) -> Sequence[Reply]:
        nonlocal turns, cpu_seconds
        started = time.thread_time()  # this pool thread's own CPU: other threads' work is not counted
        try:
            return handle(message)
        finally:
            cpu_seconds += time.thread_time() - started
            turns += 1

    lifted = 1_000_000_000
    settings = WebSettings(port=0, messages_per_minute=lifted, ip_messages_per_minute=lifted, new_sessions_per_minute=lifted, max_sessions=100_000)
    channel = WebChannel(settings, {"buerger": timed})
    await channel.start()
    await _serving(channel.server.port)
    print(json.dumps({"dialogue_cpu_ms_per_turn": round(cpu_seconds * 1000 / turns, 3) if turns else None}), flush=True)


async def serve_channel_echo() -> None:
    from bot.channels.web import WebChannel, WebSettings
    from bot.core.models import Incoming, Reply

    def echo(message: Incoming) -> list[Reply]:
        return [Reply(message.text)]

    lifted = 1_000_000_000
    settings = WebSettings(port=0, messages_per_minute=lifted, ip_messages_per_minute=lifted, new_sessions_per_minute=lifted, max_sessions=100_000)
    channel = WebChannel(settings, {"buerger": echo})
    await channel.start()
    await _serving(channel.server.port)


async def serve_echo() -> None:
    from aiohttp import WSMsgType, web

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        seq = 0
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message.get("type") == "hello":
                await ws.send_json({"type": "welcome", "next_seq": 1})
            else:
                seq += 1
                await ws.send_json({"type": "answer", "seq": seq, "cid": message.get("cid"), "said": message.get("text"), "replies": []})
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await _serving(int(runner.addresses[0][1]))


async def _serving(port: int) -> None:
    print(json.dumps({"port": port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # until the measuring process says stop


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- the measuring side ------------------------------------------------------------------------


class Client:
    """One page: a WebSocket session that asks and waits for the answer to each question."""

    def __init__(self, ws: Any, number: int) -> None:
        self.ws = ws
        self.number = number
        self.asked = 0

    async def ask(self, question: str) -> float:
        self.asked += 1
        cid = f"q{self.asked}"
        began = time.perf_counter()
        await self.ws.send_str(json.dumps({"type": "message", "cid": cid, "text": question}))
        while True:
            item = json.loads((await self.ws.receive()).data)
            if item.get("cid") == cid:
                return (time.perf_counter() - began) * 1000


async def measure(name: str, args: argparse.Namespace, questions: list[str], data_dir: Path) -> dict[str, Any]:
    import aiohttp

    command = [sys.executable, __file__, "--serve", name, "--data-dir", str(data_dir)]
    if args.database_url:
        command += ["--database-url", args.database_url]
    server = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert server.stdout is not None and server.stdin is not None
    port = json.loads(await server.stdout.readline())["port"]
    progress(f"{name}: serving on port {port}")
    closing: dict[str, Any] = {}
    rng = random.Random(args.seed)
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            rss_before = _rss_kb(server.pid)
            clients = []
            for start in range(0, args.sessions, 100):  # in groups, like pages opening over a moment
                sockets = await asyncio.gather(*(http.ws_connect(f"http://127.0.0.1:{port}/ws") for _ in range(start, min(start + 100, args.sessions))))
                for n, ws in enumerate(sockets, start):
                    await ws.send_str(json.dumps({"type": "hello", "session": f"bench{name}{n:010d}", "profile": "buerger", "last_seq": 0, "lang": "de"}))
                    await ws.receive()  # the welcome
                    clients.append(Client(ws, n))
            await asyncio.gather(*(c.ask(rng.choice(questions)) for c in clients))  # warm-up, and one answer in every outbox
            rss_open = _rss_kb(server.pid)

            cpu_server, cpu_client = harness.process_cpu_seconds(server.pid), harness.cpu_seconds()
            began = time.perf_counter()

            async def session(client: Client) -> list[float]:
                return [await client.ask(rng.choice(questions)) for _ in range(args.questions)]

            latencies = [ms for per in await asyncio.gather(*(session(c) for c in clients)) for ms in per]
            wall = time.perf_counter() - began
            server_cpu = harness.process_cpu_seconds(server.pid) - cpu_server
            server_share = server_cpu / wall
            client_share = (harness.cpu_seconds() - cpu_client) / wall

            paced: list[float] = []
            tasks = []
            interval = 1.0 / args.rate
            paced_began = time.perf_counter()
            for i in range(int(args.rate * args.paced_seconds)):
                delay = paced_began + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                client = clients[i % len(clients)]
                tasks.append(asyncio.create_task(client.ask(rng.choice(questions))))
            paced = list(await asyncio.gather(*tasks))
            for c in clients:
                await c.ws.close()
    finally:
        server.stdin.write(b"stop\n")
        with contextlib.suppress(ConnectionError):
            await server.stdin.drain()
        with contextlib.suppress(TimeoutError):  # what the server says when it stops (the echoes say nothing)
            closing = json.loads(await asyncio.wait_for(server.stdout.readline(), 10) or "{}")
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            server.kill()
    summary = {
        "answered_per_s": round(len(latencies) / wall, 1),
        **harness.latency_percentiles(latencies),
        "answered": len(latencies),
        "paced": {"offered_per_s": args.rate, "answered": len(paced), **harness.latency_percentiles(paced)},
        "memory_per_session_kb": round((rss_open - rss_before) / args.sessions, 1),
        "server_rss_mb": round(rss_open / 1024, 1),
        "server_cpu_share": round(server_share, 2),
        "server_cpu_ms_per_answer": round(server_cpu * 1000 / len(latencies), 3),
        "client_cpu_share": round(client_share, 2),
        **closing,
    }
    progress(f"{name}: {summary}")
    return summary


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = harness.note_load(progress)
    live = harness.musterstadt_knowledge(progress)
    questions = [q for q, _ in harness.question_mix(live, 2000, args.seed)]
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        results = {name: await measure(name, args, questions, Path(tmp)) for name in ("buergerbot", "channel_echo", "echo")}
    main, echo, channel = results["buergerbot"], results["echo"], results["channel_echo"]
    ratio = main["answered_per_s"] / echo["answered_per_s"] if echo["answered_per_s"] else None
    return {
        "answered_per_s": main["answered_per_s"],
        "echo_answered_per_s": echo["answered_per_s"],
        "ratio": harness.rounded(ratio, 3),
        "p50_ms": main["p50_ms"],
        "p99_ms": main["p99_ms"],
        "echo_p50_ms": echo["p50_ms"],
        "echo_p99_ms": echo["p99_ms"],
        "paced_p99_ms": main["paced"]["p99_ms"],
        "channel_echo_answered_per_s": channel["answered_per_s"],
        "channel_ratio": harness.rounded(channel["answered_per_s"] / echo["answered_per_s"], 3) if echo["answered_per_s"] else None,
        "server_cpu_ms_per_answer": main["server_cpu_ms_per_answer"],
        "dialogue_cpu_ms_per_turn": main.get("dialogue_cpu_ms_per_turn"),
        "channel_echo_server_cpu_ms_per_answer": channel["server_cpu_ms_per_answer"],
        "echo_server_cpu_ms_per_answer": echo["server_cpu_ms_per_answer"],
        "memory_per_session_kb": main["memory_per_session_kb"],
        "sessions": args.sessions,
        "questions_per_session": args.questions,
        "targets": TARGETS,
        "meets_targets": {"ratio": ratio is not None and ratio >= TARGETS["ratio"],
                          "paced_p99_ms": main["paced"]["p99_ms"] is not None and main["paced"]["p99_ms"] <= TARGETS["paced_p99_ms"]},
        "buergerbot": main,
        "channel_echo": channel,
        "echo": echo,
        "load_avg_1m": harness.load_avg_1m(load_before),
    }


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=3, help="questions each session asks in the full-load phase")
    parser.add_argument("--rate", type=float, default=200.0, help="questions per second of the paced phase")
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    harness.add_channel_arguments(parser)
    parser.add_argument("--serve", choices=("buergerbot", "channel_echo", "echo"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.sessions + 256)), hard))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args.serve == "echo":
        asyncio.run(serve_echo())
        return 0
    if args.serve == "channel_echo":
        asyncio.run(serve_channel_echo())
        return 0
    if args.serve == "buergerbot":
        asyncio.run(serve_buergerbot(args.data_dir, args.database_url))
        return 0
    if args.sessions < 1 or args.questions < 1 or args.rate <= 0:
        parser.error("--sessions, --questions and --rate must be positive")
    os.environ.setdefault("PYTHONPATH", str(harness.REPO))
    began = time.perf_counter()
    return harness.print_result(asyncio.run(run(args)), began, indent=2 if not args.json else None)


if __name__ == "__main__":
    sys.exit(main())
