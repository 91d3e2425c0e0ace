"""What the core needs from the outside world, as Protocols that adapters implement."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from bot.core.models import UserState


class UserStateStore(Protocol):
    def load(self, channel: str, chat_id: str) -> UserState: ...
    def save(self, channel: str, chat_id: str, state: UserState) -> None: ...
    def delete(self, channel: str, chat_id: str) -> None: ...


class UnansweredLog(Protocol):
    """Questions the bot could not answer, for staff. Never given a user or chat id."""

    def record(self, text: str, language: str, channel: str, at: dt.datetime) -> None: ...


class MemoryUserStates:
    """User states kept in memory: the console, tests, and single-process bots without a database."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], UserState] = {}

    def load(self, channel: str, chat_id: str) -> UserState:
        return self._states.get((channel, chat_id)) or UserState()

    def save(self, channel: str, chat_id: str, state: UserState) -> None:
        self._states[(channel, chat_id)] = state

    def delete(self, channel: str, chat_id: str) -> None:
        self._states.pop((channel, chat_id), None)


class MemoryUnansweredLog:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, dt.datetime]] = []

    def record(self, text: str, language: str, channel: str, at: dt.datetime) -> None:
        self.records.append((text, language, channel, at))
