"""The Telegram adapter in a process of its own, for tests that SIGKILL it.

``python -m tests.channels.telegram_bot_process BASE_URL DATABASE KNOWLEDGE_DIR [--pause S] [--lease S]``
polls the fake Bot API at BASE_URL with update claims in the SQLite file DATABASE (migrated by the
test), prints ``ready`` once started and runs until it is killed. ``--pause`` makes every answer
take that long, as a slow dialogue would, so that a kill lands in the middle of a backlog;
``--lease`` is ``TelegramSettings.claim_lease``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from bot.channels.telegram import TelegramChannel, TelegramSettings
from bot.core.models import Incoming, Reply
from bot.storage.database import make_engine
from bot.storage.telegram_updates import SqlSeenUpdates
from tests.channels.test_telegram import TOKEN, dialogue_for


async def run(args: argparse.Namespace) -> None:
    dialogue = dialogue_for(Path(args.knowledge))

    def handle(incoming: Incoming) -> Sequence[Reply]:
        time.sleep(args.pause)  # in the pool, as a slow turn would be
        return dialogue.handle(incoming)

    settings = TelegramSettings(token=TOKEN, base_url=args.base_url, poll_timeout=1, concurrency=1, claim_lease=args.lease)
    channel = TelegramChannel(settings, handle, SqlSeenUpdates(make_engine(f"sqlite:///{args.database}")))
    await channel.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("database")
    parser.add_argument("knowledge")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=1.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
