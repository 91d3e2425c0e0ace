"""What every flow works with: the setup of the turn, the shared flow state and the message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.flows.state import FlowState
from bot.core.hours import HolidayCheck, no_holidays
from bot.core.knowledge import KnowledgeBase
from bot.core.models import ChatRef, Incoming, Reply
from bot.core.ports import ReminderBook, UnansweredLog, UserStateStore
from bot.core.schedule import ReminderPolicy

# Stripped from the ends of a word before it is read as a reference or a subject.
EDGE_PUNCTUATION = ",.;:!?()[]{}\"'„“”‚‘’«»<>"


@dataclass(frozen=True)
class FlowSetup:
    book: ReminderBook | None  # None: this deployment has no reminders, and the flows say so
    kb: KnowledgeBase
    now: dt.datetime  # the city's local time, timezone-aware
    office_named: Callable[[str], str | None]  # the office a text names (Dialogue.office_named)
    states: UserStateStore  # the data export shows, and deleting removes, what every bot keeps about the chat
    unanswered: UnansweredLog  # the chat's questions noted for staff: the person's data too
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)  # what the saved appointment's reminders will be
    is_holiday: HolidayCheck = no_holidays  # the city's public holidays, for the warning that an office is closed then


class Flow:
    """The common ground of the flows of one turn; they share the flow state."""

    def __init__(self, setup: FlowSetup, state: FlowState, message: Incoming, said: str) -> None:
        self.setup = setup
        self.state = state
        self.message = message
        self.said = said  # the message's text, cleaned of control characters

    @property
    def book(self) -> ReminderBook:
        """The reminder book; every entry point checks first that there is one."""
        if self.setup.book is None:
            raise RuntimeError("reminder flow without a reminder book")
        return self.setup.book

    @property
    def chat(self) -> ChatRef:
        return self.message.chat

    @property
    def lang(self) -> str:
        return self.state.lang

    def reply(self, body: str) -> Reply:
        return Reply(body, language=self.lang)

    def in_city_time(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.setup.now.tzinfo) if self.setup.now.tzinfo else moment
