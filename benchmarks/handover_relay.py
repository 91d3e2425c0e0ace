"""Hand-over relay latency on a real Synapse: citizen → staff room thread → citizen, beside the plain answer path.

What is measured: a real Synapse (``tests/matrix_server.py``, SQLite, rate limits relaxed) runs in a
temporary folder. One bot process as the hand-over tests build it (``tests/handover/test_staff_room.py``:
the Matrix channel over the dialogue with the hand-over desk on SQLite, the staff room service with
its own account, an unencrypted staff room unless ``--encrypted``) serves one citizen in a direct chat
and one team member in the staff room.

* Plain answer path: the citizen sends ``--messages`` N questions the knowledge answers, one at a
  time; ``answer_p50_ms``/``answer_p99_ms``: ``origin_server_ts`` of the question → of the bot's reply.
* Relay path: the citizen opens a hand-over, then sends N messages one at a time; the team member
  answers each in the thread as soon as its copy shows there. ``to_staff_*``: the citizen's message
  → the bot's copy in the thread; ``to_citizen_*``: the team member's answer → the bot's notice in the
  citizen's chat; ``round_trip_*``: the sum of both legs per message (the team member's reading and
  typing time left out). All from Synapse's timestamps, so the clients' polling does not count.

The tiny knowledge base of the tests (``tests/conftest.py``) is used: the matcher is not what is
measured. ``load_avg_1m`` is there because this machine is shared.

Usage: ``python benchmarks/handover_relay.py --json [--messages 30] [--encrypted]``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__:  # python -m benchmarks.handover_relay
    from benchmarks import harness
else:  # python benchmarks/handover_relay.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import harness  # type: ignore[no-redef]

progress = harness.progress_logger("handover_relay")


def tiny_knowledge(root: Path) -> Path:
    from tests.conftest import TINY_ENTRIES, TINY_OFFICES, TINY_SYNONYMS

    root.mkdir(parents=True)
    (root / "offices.yaml").write_text(TINY_OFFICES, encoding="utf-8")
    (root / "synonyms.yaml").write_text(TINY_SYNONYMS, encoding="utf-8")
    (root / "entries.yaml").write_text(TINY_ENTRIES, encoding="utf-8")
    return root


async def wait_for(person: Any, room: str, wanted: Any, timeout: float = 60) -> Any:
    """The first notice of ``room`` not seen before that ``wanted(body)`` accepts."""
    deadline = time.monotonic() + timeout
    while True:
        for room_id, event in person.notices:
            if room_id == room and event.event_id not in person.taken and wanted(event.body):
                person.taken.add(event.event_id)
                return event
        if time.monotonic() > deadline:
            raise TimeoutError(f"no matching notice in {room}")
        await person.sync()
        await asyncio.sleep(0.02)


async def server_ts(person: Any, room: str, event_id: str) -> int:
    from nio import RoomGetEventResponse

    got = await person.client.room_get_event(room, event_id)
    assert isinstance(got, RoomGetEventResponse), got
    return int(got.event.server_timestamp)


async def measure(server: Any, tmp: Path, messages: int, encrypted: bool) -> dict[str, Any]:
    from tests.handover.test_staff_room import Scene, in_thread

    scene = Scene(server, tiny_knowledge(tmp / "kb"), tmp, encrypted=encrypted)
    await scene.start()
    for person in (scene.citizen, scene.alice):
        person.taken = set()
    try:
        dm = await scene.direct_chat(scene.citizen)
        progress(f"plain answer path: {messages} questions")
        answer_ms = []
        for _ in range(messages):
            asked = await scene.citizen.say(dm, "Perso beantragen")
            reply = await wait_for(scene.citizen, dm, lambda body: "Titel personalausweis" in body)
            answer_ms.append(reply.server_timestamp - await server_ts(scene.citizen, dm, asked))
        await scene.citizen.say(dm, "Mitarbeiter bitte")
        await wait_for(scene.citizen, dm, lambda body: "Chat-Kennung" in body)
        await scene.citizen.say(dm, "ja")
        await wait_for(scene.citizen, dm, lambda body: "H-00001" in body)
        root = await wait_for(scene.alice, scene.room, lambda body: body.startswith("Neue Übergabe H-00001"))
        progress(f"relay path: {messages} messages each way")
        to_staff, to_citizen = [], []
        for index in range(messages):
            said = await scene.citizen.say(dm, f"Nachricht {index}")
            copy = await wait_for(scene.alice, scene.room, lambda body, i=index: body == f"Bürger/in: Nachricht {i}")
            to_staff.append(copy.server_timestamp - await server_ts(scene.citizen, dm, said))
            answer = await in_thread(scene.alice, scene.room, root.event_id, f"Antwort {index}")
            relayed = await wait_for(scene.citizen, dm, lambda body, i=index: body.endswith(f"Antwort {i}"))
            to_citizen.append(relayed.server_timestamp - await server_ts(scene.alice, scene.room, answer))
    finally:
        await scene.stop()
    round_trip = [a + b for a, b in zip(to_staff, to_citizen, strict=True)]
    return {
        "messages": messages,
        "encrypted_staff_room": encrypted,
        **harness.latency_percentiles(answer_ms, "answer_"),
        **harness.latency_percentiles(to_staff, "to_staff_"),
        **harness.latency_percentiles(to_citizen, "to_citizen_"),
        **harness.latency_percentiles(round_trip, "round_trip_"),
    }


async def run(messages: int, encrypted: bool, tmp: Path) -> dict[str, Any]:
    from tests.fakes.aio import reap_tasks
    from tests.matrix_server import SynapseServer

    (tmp / "synapse").mkdir()
    server = SynapseServer(tmp / "synapse")
    progress("starting Synapse")
    server.start()
    try:
        return await measure(server, tmp / "bench", messages, encrypted)
    finally:
        await reap_tasks()
        server.stop()


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--encrypted", action="store_true", help="an end-to-end encrypted staff room")
    args = parser.parse_args()
    if args.messages < 1:
        parser.error("--messages must be positive")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    load_before = harness.note_load(progress)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="handover-bench-") as tmp:
        (Path(tmp) / "bench").mkdir()
        result = asyncio.run(run(args.messages, args.encrypted, Path(tmp)))
    result["load_avg_1m"] = harness.load_avg_1m(load_before)
    return harness.print_result(result, began)


if __name__ == "__main__":
    sys.exit(main())
