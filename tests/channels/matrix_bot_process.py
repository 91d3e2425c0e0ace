"""The Matrix adapter in a process of its own, for tests that SIGKILL it.

``python -m tests.channels.matrix_bot_process HOMESERVER USER_ID STORE_DIR KNOWLEDGE_DIR [--pause S]``
logs in with the tests' password, prints ``ready`` once the first sync is through and runs until
it is killed. ``--pause`` makes every answer take that long, as a slow dialogue would, so that a
kill lands in the middle of a batch.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from bot.channels.matrix import MatrixChannel, MatrixSettings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from tests.channels.test_matrix import PASSWORD
from tests.conftest import MONDAY_10


async def run(args: argparse.Namespace) -> None:
    live = LiveKnowledge([Path(args.knowledge)])
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(),
                        DialogueSettings(popular=("personalausweis", "sperrmuell")), clock=lambda: MONDAY_10)

    def handle(incoming: Incoming) -> Sequence[Reply]:
        time.sleep(args.pause)  # blocks the loop on purpose: the answer is not sent before it returns
        return dialogue.handle(incoming)

    channel = MatrixChannel(MatrixSettings(homeserver=args.homeserver, user_id=args.user_id, store_dir=Path(args.store),
                                           password=PASSWORD, sync_timeout_ms=500, encryption=False), handle)
    await channel.start()
    await channel.ready.wait()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("homeserver")
    parser.add_argument("user_id")
    parser.add_argument("store")
    parser.add_argument("knowledge")
    parser.add_argument("--pause", type=float, default=0.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
