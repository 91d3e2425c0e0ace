"""Fixtures of the flow tests: the tiny knowledge with the real intents about reminders and data."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.hours import HolidayCheck, no_holidays
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from tests.conftest import REPO
from tests.core.flows.helpers import DISTRICTS, LINKED, NOW, TOKEN, Chat, MakeChat


@pytest.fixture
def kb_dir(tiny_kb: Path) -> Path:
    """The tiny knowledge plus the real intents about reminders and data."""
    shutil.copy(REPO / "intents" / "my-data.yaml", tiny_kb / "my-data.yaml")
    return tiny_kb


@pytest.fixture
def make(kb_dir: Path) -> MakeChat:
    live = LiveKnowledge([kb_dir])

    def build(book: MemoryReminderBook | str | None = "default", clock: dt.datetime = NOW, states: MemoryUserStates | None = None,
              profile: str = "default", is_holiday: HolidayCheck = no_holidays, **settings: object) -> Chat:
        if book == "default":
            book = MemoryReminderBook(tokens={TOKEN: LINKED}, cases={"RP-2026-004711"}, districts=DISTRICTS)
        states = states or MemoryUserStates()
        dialogue = Dialogue(
            lambda: live.snapshot, states, MemoryUnansweredLog(), DialogueSettings(popular=("personalausweis",), **settings),  # type: ignore[arg-type]
            clock=lambda: clock, is_holiday=is_holiday, book=book if isinstance(book, MemoryReminderBook) else None,
        )
        chat = Chat(dialogue, profile=profile)
        chat.book = book if isinstance(book, MemoryReminderBook) else None
        chat.states = states
        return chat

    return build
