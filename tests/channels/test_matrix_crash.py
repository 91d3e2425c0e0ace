"""The Matrix adapter killed with SIGKILL in the middle of a backlog, against a real Synapse: after
a restart every question is answered, none twice."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from nio import JoinedMembersResponse

from tests.channels.test_matrix import PASSWORD, Citizen
from tests.conftest import REPO
from tests.fakes.aio import eventually
from tests.matrix_server import SynapseServer, run_scenario, unique


class BotProcess:
    """``tests.channels.matrix_bot_process`` as a child process."""

    def __init__(self, server: SynapseServer, user_id: str, store: Path, knowledge: Path) -> None:
        self.args = [server.base_url, user_id, str(store), str(knowledge)]
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, pause: float = 0.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.channels.matrix_bot_process", *self.args, "--pause", str(pause),
            cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert line.strip() == b"ready", f"the bot process did not start (exit code {self.process.returncode})"

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no handler runs, nothing is flushed
        await self.process.wait()


def test_sigkill_in_a_backlog_answers_every_question_once(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)
    bot_id = synapse.user_id(bot_name)
    questions = ["Perso beantragen", "Sperrmüll anmelden"] * 10

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        bot = BotProcess(synapse, bot_id, tmp_path / "bot", tiny_kb)
        await bot.start()
        room = await citizen.room_with([bot_id])

        async def bot_joined() -> bool:
            members = await citizen.client.joined_members(room)
            return isinstance(members, JoinedMembersResponse) and any(m.user_id == bot_id for m in members.members)

        await eventually(bot_joined, every=0.2)
        await asyncio.sleep(1)  # the bot has stored a sync token past the join
        await bot.kill()
        for question in questions:  # the backlog, sent while the bot is down
            await citizen.say(room, question)
        await bot.start(pause=0.3)
        await citizen.wait_notices(3, timeout=60)
        await bot.kill()  # in the middle of the backlog
        assert len(citizen.notices) < len(questions)
        await bot.start()
        try:
            await citizen.wait_notices(len(questions), timeout=60)
            await asyncio.sleep(3)  # time for any answer given twice to show up
            await citizen.sync()
        finally:
            await bot.kill()
            await citizen.client.close()
        bodies = [event.body for _, event in citizen.notices]
        assert len(bodies) == len(questions), bodies
        expected = ["personalausweis" if "Perso" in q else "sperrmuell" for q in questions]
        assert [key for key, body in zip(expected, bodies, strict=True) if key in body] == expected  # in order

    run_scenario(synapse, scenario, timeout=180)
