"""Reminder fan-out: worker processes deliver due reminders from PostgreSQL to the fake Telegram Bot API.

    python benchmarks/reminder_fanout.py --json [--workers 3] [--reminders N] [--stored M] [--kill-one]

Seeds a fresh schema with ``N`` due reminders (two per chat) and ``M - N`` reminders due in a month,
starts the fake Bot API (tests/fakes/telegram_api.py) in its own process and ``--workers`` real
``buergerbot worker`` processes with Telegram's flood limits lifted, waits until every due row is
finished, and counts what the fake received for each reminder (each text carries its reference).

Keys: ``delivered_per_s`` (rows marked sent / time from the first to the last send), ``duplicates``
(extra copies the fake received), ``lost`` (due reminders the fake never received), ``in_doubt``
(sends a killed worker left unconfirmed, each sent again after its lease: at least once, so a
duplicate is possible only for these; see bot/reminders/worker.py),
``peak_rss_mb`` (largest VmHWM of the workers). Baseline in the same run: ``baseline_per_s``, the
same number of processes sending the same messages with python-telegram-bot and no database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.reminder_fanout
    from benchmarks import harness
else:  # python benchmarks/reminder_fanout.py
    import harness  # type: ignore[no-redef]

from sqlalchemy import func, select, text

from bot.core.models import ChatRef, NoticeKind
from bot.reminders.queue import Due, enqueue
from bot.storage.database import make_engine, migrate
from bot.storage.tables import ReminderRow

TOKEN = "123456:fanout"
REF = re.compile(r"RP-9\d{7}")
IN_FLIGHT = 32  # as many as a worker has in flight: 2 lanes x 16


# -- the fake Bot API in its own process ----------------------------------------------------------
async def serve_fake() -> None:
    from tests.fakes.telegram_api import FakeBotApi

    fake = FakeBotApi(TOKEN)
    await fake.start()
    print(json.dumps({"base_url": fake.base_url}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        texts = [p.get("text", "") for m, p in fake.sent if m == "sendMessage"]
        fake.sent.clear()
        print(json.dumps({"texts": texts}), flush=True)
    await fake.stop()


class Fake:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--fake-server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=str(harness.REPO))
        assert self.proc.stdout is not None
        self.base_url = json.loads(self.proc.stdout.readline())["base_url"]

    def take_texts(self) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("take\n")
        self.proc.stdin.flush()
        return list(json.loads(self.proc.stdout.readline())["texts"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


# -- seeding and watching the queue ----------------------------------------------------------------
def fresh_schema(base_url: str) -> tuple[str, str]:
    schema = f"fanout_{os.getpid()}_{int(time.time())}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base_url else "?"
    return schema, f"{base_url}{sep}options=-csearch_path%3D{schema}"


def drop_schema(base_url: str, schema: str) -> None:
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_SEED = """
INSERT INTO reminders (dedupe_key, subject_id, channel, profile, chat_id, language, kind, params, due_at, expires_at, status, attempts)
SELECT 'bench:' || g, 's' || g, 'telegram', 'default', (100000 + (g - 1) / 2)::text, CASE WHEN g % 2 = 0 THEN 'de' ELSE 'en' END,
       'case_status',
       '{"reference": "RP-' || (90000000 + g) || '", "document": "reisepass", "status": "ready_for_pickup"}',
       now() + (CAST(:later AS integer) * interval '30 days') - interval '1 minute', NULL, 'pending', 0
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g
"""


def seed(url: str, due: int, stored: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(_SEED), {"first": 1, "last": due, "later": 0})
            for start in range(due + 1, stored + 1, 200_000):
                conn.execute(text(_SEED), {"first": start, "last": min(stored, start + 199_999), "later": 1})
            conn.execute(text("ANALYZE reminders"))
        else:
            now = dt.datetime.now(dt.UTC)
            enqueue(conn, [
                Due(f"bench:{g}", f"s{g}", ChatRef("telegram", str(100000 + (g - 1) // 2), "default"), "de" if g % 2 == 0 else "en",
                    NoticeKind.CASE_STATUS, {"reference": f"RP-{90000000 + g}", "document": "reisepass", "status": "ready_for_pickup"},
                    now - dt.timedelta(minutes=1) if g <= due else now + dt.timedelta(days=30))
                for g in range(1, stored + 1)
            ])
    engine.dispose()


def queue_state(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        by_status = dict(conn.execute(select(ReminderRow.status, func.count()).where(ReminderRow.due_at <= now).group_by(ReminderRow.status)).all())
        first, last = conn.execute(select(func.min(ReminderRow.sent_at), func.max(ReminderRow.sent_at)).where(ReminderRow.status == "sent")).one()
        doubtful = conn.execute(select(func.coalesce(func.sum(ReminderRow.doubtful_sends), 0)).where(ReminderRow.due_at <= now)).scalar_one()
    engine.dispose()
    return {"by_status": {k: int(v) for k, v in by_status.items()}, "first": first, "last": last, "in_doubt": int(doubtful)}


def database_cpu_seconds() -> float:
    """CPU of every local PostgreSQL process (server, backends, WAL writer): a rough share, as other
    users of the same server count too."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" (", 1)[1].startswith("postgres)"):
                total += harness.process_cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return total


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# -- the run -----------------------------------------------------------------------------------------
def run(workers: int = 3, reminders: int = 10_000, stored: int | None = None, kill_one: bool = False,
        database_url: str = "postgresql://postgres@127.0.0.1:5432/test", timeout: float = 600, log: harness.Progress | None = None) -> dict[str, Any]:
    log = log or (lambda msg: None)
    stored = max(stored or reminders, reminders)
    sqlite = database_url.startswith("sqlite")
    schema, url = ("", database_url) if sqlite else fresh_schema(database_url)
    fake = Fake()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        log(f"seeding {reminders} due of {stored} stored reminders")
        seed(url, reminders, stored)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "fanout.toml"
            config.write_text(
                f'data_dir = "{tmp}"\n'
                "[http]\nport = 0\n"
                "[reminders]\npoll_seconds = 0.2\nlease_seconds = 10\nbatch_size = 500\nquiet_hours = [\"00:00\", \"00:00\"]\n"
                f'[[profiles]]\nname = "default"\n[profiles.telegram]\nbase_url = "{fake.base_url}"\ntoken_env = "FANOUT_TOKEN"\n'
                "overall_per_second = 0\nper_chat_per_second = 0\n"
            )
            env = {**os.environ, "FANOUT_TOKEN": TOKEN, "BUERGERBOT_DATABASE_URL": url}
            started = time.monotonic()
            for _ in range(workers):
                procs.append(subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "worker"], cwd=str(harness.REPO), env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            killed = False
            fake_cpu = database_cpu = 0.0
            peaks: dict[int, float] = {}
            cpu_at_first_send: dict[int, float] = {}  # start-up (imports, knowledge) is not delivery work
            sent_at_first_look = 0
            while time.monotonic() - started < timeout:
                time.sleep(0.25)
                for p in procs:
                    if p.poll() is None:
                        peaks[p.pid] = max(peaks.get(p.pid, 0.0), peak_rss_mb(p.pid))
                state = queue_state(url)["by_status"]
                if not cpu_at_first_send and state.get("sent", 0):
                    cpu_at_first_send = {p.pid: harness.process_cpu_seconds(p.pid) for p in procs}
                    fake_cpu, database_cpu = harness.process_cpu_seconds(fake.proc.pid), database_cpu_seconds()
                    sent_at_first_look = state["sent"]
                open_rows = state.get("pending", 0) + state.get("sending", 0)
                if kill_one and not killed and state.get("sent", 0) >= reminders // 3:
                    procs[0].send_signal(signal.SIGKILL)
                    killed = True
                    log(f"killed worker {procs[0].pid} after {state.get('sent', 0)} sent")
                if open_rows == 0:
                    break
            wall = time.monotonic() - started
            cpu_used = sum(harness.process_cpu_seconds(p.pid) - cpu_at_first_send.get(p.pid, 0.0) for p in procs if p.poll() is None)
            if cpu_at_first_send:
                fake_cpu, database_cpu = harness.process_cpu_seconds(fake.proc.pid) - fake_cpu, database_cpu_seconds() - database_cpu
            for p in procs:
                if p.poll() is None:
                    peaks[p.pid] = max(peaks.get(p.pid, 0.0), peak_rss_mb(p.pid))
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
        state = queue_state(url)
        texts = fake.take_texts()
        got = Counter(m.group(0) for t in texts if (m := REF.search(t)))
        expected = {f"RP-{90000000 + g}" for g in range(1, reminders + 1)}
        duplicates = sum(n - 1 for ref, n in got.items() if n > 1)
        lost = sum(1 for ref in expected if ref not in got)
        span = (state["last"] - state["first"]).total_seconds() if state["first"] and state["last"] else 0.0
        sent = state["by_status"].get("sent", 0)

        def per_reminder(cpu_s: float) -> float | None:
            return round(1000 * cpu_s / (sent - sent_at_first_look), 3) if sent > sent_at_first_look else None

        return {
            "workers": workers, "reminders": reminders, "stored": stored, "kill_one": kill_one,
            "delivered_per_s": round(sent / span, 1) if span else None,
            "wall_incl_startup_s": round(wall, 2),
            # CPU of the surviving workers from the first send on, per reminder sent in that time.
            "worker_cpu_ms_per_reminder": per_reminder(cpu_used) if not kill_one else None,
            "fake_cpu_ms_per_reminder": per_reminder(fake_cpu),
            "database_cpu_ms_per_reminder": per_reminder(database_cpu),
            "duplicates": duplicates, "lost": lost, "in_doubt": state["in_doubt"],
            "statuses": state["by_status"], "received": sum(got.values()), "unexpected": sum(n for ref, n in got.items() if ref not in expected),
            "peak_rss_mb": round(max(peaks.values(), default=0.0), 1), "peak_rss_mb_each": [round(v, 1) for v in peaks.values()],
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        fake.close()
        if not sqlite:
            drop_schema(database_url, schema)


def baseline(processes: int, messages: int) -> dict[str, Any]:
    """The same messages sent by as many processes through python-telegram-bot on the same HTTP layer,
    with as many in flight, and no database: what the fake and the library allow on this machine."""
    fake = Fake()
    try:
        # Shares differ by at most one message, so all of them are sent (10,000 over 3: 3,333, 3,333, 3,334).
        bounds = [messages * i // processes for i in range(processes + 1)]
        procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--bare-sender", fake.base_url, str(start), str(end - start)],
                                  cwd=str(harness.REPO), stdout=subprocess.PIPE, text=True) for start, end in pairwise(bounds)]
        spans = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
        elapsed = max(s["end"] for s in spans) - min(s["start"] for s in spans)
        received = len(fake.take_texts())
        return {"baseline_per_s": round(received / elapsed, 1), "baseline_received": received}
    finally:
        fake.close()


async def bare_sender(base_url: str, first: int, count: int) -> None:
    from telegram import Bot

    from bot.channels.telegram_http import AiohttpRequest

    bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest(connection_pool_size=64))
    async with bot:
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def one(g: int) -> None:
            async with sem:
                await bot.send_message(100000 + (g - 1) // 2, f"<b>Neues zu Ihrem Antrag</b>\nIhr Reisepass (Vorgang RP-{90000000 + g}) liegt bereit.",
                                       parse_mode="HTML")

        start = time.time()
        await asyncio.gather(*(one(g) for g in range(first + 1, first + count + 1)))
        print(json.dumps({"start": start, "end": time.time()}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--fake-server":
        asyncio.run(serve_fake())
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-sender":
        asyncio.run(bare_sender(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        return
    parser = harness.argument_parser(__doc__ or "")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=None, help="rows in the table in all (the rest due in a month)")
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one worker after a third is sent")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    log = harness.progress_logger("reminder_fanout")
    result = run(args.workers, args.reminders, args.stored, args.kill_one, args.database_url, log=log)
    if not args.no_baseline:
        result.update(baseline(args.workers, args.reminders))
        if result.get("delivered_per_s") and result["baseline_per_s"]:
            result["ratio_to_baseline"] = round(result["delivered_per_s"] / result["baseline_per_s"], 2)
    harness.print_result(result, began)


if __name__ == "__main__":
    main()
