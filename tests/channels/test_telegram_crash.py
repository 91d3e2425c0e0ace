"""The Telegram adapter killed with SIGKILL in the middle of a backlog, against the fake Bot API:
after a restart every update is answered, none twice, each chat's in order."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.storage.database import make_engine, migrate
from tests.channels.test_telegram import TOKEN
from tests.conftest import REPO
from tests.fakes.telegram_api import FakeBotApi


class BotProcess:
    """``tests.channels.telegram_bot_process`` as a child process."""

    def __init__(self, base_url: str, database: Path, knowledge: Path) -> None:
        self.args = [base_url, str(database), str(knowledge)]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, pause: float = 0.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PTB_TIMEDELTA": "true"}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.channels.telegram_bot_process", *self.args, "--pause", str(pause), "--lease", "1",
            cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert line.strip() == b"ready", f"the bot process did not start (exit code {self.process.returncode})"

    async def kill(self) -> None:
        assert self.process is not None
        if self.process.returncode is not None:
            return
        self.process.kill()  # SIGKILL: no handler runs, nothing is flushed, nothing confirmed
        await self.process.wait()


def test_sigkill_in_a_backlog_answers_every_update_once(tiny_kb: Path, tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    engine.dispose()
    chats = [501, 502, 503, 504, 505]
    questions = ["Perso beantragen", "Sperrmüll anmelden"]

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            asked: dict[int, list[str]] = {chat: [] for chat in chats}
            for round_ in range(4):  # 20 updates, each chat's four in a known order
                for chat in chats:
                    question = questions[(chat + round_) % 2]
                    asked[chat].append(question)
                    fake.push_message(chat, question)
            bot = BotProcess(fake.base_url, database, tiny_kb)
            await bot.start(pause=0.2)
            try:
                await fake.wait_for(5, timeout=60)
                # The next reply reaches Telegram, but its confirmation does not reach the bot
                # before the kill: the worst moment, the one a restart must not answer again.
                fake.hang_next("sendMessage", 30)
                await fake.wait_for(6, timeout=60)
                await bot.kill()
                assert len(fake.pending_updates) >= 14  # the backlog was not confirmed ahead of its answers
                await bot.start()
                await fake.wait_for(20, timeout=60)
                await asyncio.sleep(3)  # time for any answer given twice to show up
                assert fake.pending_updates == []  # every update confirmed once answered
            finally:
                await bot.kill()
            for chat in chats:
                answers = [message["text"] for message in fake.messages_to(chat)]
                expected = ["personalausweis" if "Perso" in q else "sperrmuell" for q in asked[chat]]
                assert len(answers) == len(expected), (chat, answers)
                assert all(key in answer for key, answer in zip(expected, answers, strict=True)), (chat, answers)

    asyncio.run(main())
