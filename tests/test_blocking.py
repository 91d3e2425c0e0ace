"""The boundary between the event loop and blocking work (bot.blocking): chats in parallel, each in order."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from bot.blocking import ChatTurns, chat_key, run_blocking
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from tests.conftest import MONDAY_10
from tests.fakes.slow_states import SLOW_SECONDS, SlowStates


def dialogue_with(states: MemoryUserStates, kb: Path) -> Dialogue:
    live = LiveKnowledge([kb])
    return Dialogue(lambda: live.snapshot, states, MemoryUnansweredLog(), DialogueSettings(), clock=lambda: MONDAY_10)


def test_a_slow_database_for_one_chat_does_not_delay_another_chat(tiny_kb: Path) -> None:
    turns = ChatTurns(dialogue_with(SlowStates(slow_chat="slow"), tiny_kb).handle)
    answered_at: dict[str, float] = {}

    async def ask(chat: str, text: str) -> None:
        incoming = Incoming("telegram", chat, text)
        async with turns.in_order(chat_key(incoming)):
            replies = await turns.answer(incoming)
        assert "Antwort zu sperrmuell" in replies[0].text
        answered_at[chat] = time.monotonic()

    async def main() -> None:
        began = time.monotonic()
        slow = asyncio.create_task(ask("slow", "Sperrmüll anmelden"))
        await asyncio.sleep(0.05)  # the slow chat's turn is waiting for its store now
        await ask("quick", "Sperrmüll anmelden")
        assert answered_at["quick"] - began < SLOW_SECONDS / 2
        await slow
        assert answered_at["slow"] - began >= SLOW_SECONDS

    asyncio.run(main())


def test_the_event_loop_keeps_running_while_a_turn_waits_for_the_database(tiny_kb: Path) -> None:
    turns = ChatTurns(dialogue_with(SlowStates(slow_chat="slow"), tiny_kb).handle)

    async def main() -> None:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await turns.answer(Incoming("telegram", "slow", "Sperrmüll anmelden"))
        ticker.cancel()
        assert ticks >= 50  # about 100 in the second the store took; none if the turn blocked the loop

    asyncio.run(main())


def test_messages_of_one_chat_are_answered_in_order_and_chats_in_parallel() -> None:
    finished: list[str] = []
    running: set[str] = set()
    most_at_once = 0
    lock = threading.Lock()

    def handle(incoming: Incoming) -> list[Reply]:
        nonlocal most_at_once
        with lock:
            running.add(incoming.text)
            most_at_once = max(most_at_once, len(running))
        # The first message of each chat takes longest: were the chat's turns not kept in order,
        # the later ones would overtake it.
        time.sleep(0.3 if incoming.text.endswith("-0") else 0.02)
        with lock:
            running.discard(incoming.text)
        return [Reply(incoming.text)]

    turns = ChatTurns(handle)

    async def ask(chat: str, number: int) -> None:
        incoming = Incoming("matrix", chat, f"{chat}-{number}")
        async with turns.in_order(chat_key(incoming)):
            [reply] = await turns.answer(incoming)
            finished.append(reply.text)

    async def main() -> None:
        began = time.monotonic()
        await asyncio.gather(*(ask(chat, number) for number in range(4) for chat in ("a", "b", "c")))
        # In parallel: the three chats' slow first turns overlap (one after the other would take 0.9 s).
        assert time.monotonic() - began < 0.8
        assert turns.chats_waiting == 0

    asyncio.run(main())
    for chat in ("a", "b", "c"):
        assert [text for text in finished if text.startswith(chat)] == [f"{chat}-{number}" for number in range(4)]
    assert most_at_once >= 2


def test_run_blocking_runs_in_the_pool_and_passes_arguments() -> None:
    def where(prefix: str, *, suffix: str) -> str:
        return f"{prefix}{threading.current_thread().name}{suffix}"

    name = asyncio.run(run_blocking(where, "<", suffix=">"))
    assert name.startswith("<blocking") and name.endswith(">")
