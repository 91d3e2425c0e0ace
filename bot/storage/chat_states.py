"""The durable part of a chat's state in the database (implements core.ports.UserStateStore).

Only the language choice is stored, one row per chat and profile; offered choices are seconds-long
conversational context that the cache in front of this store keeps in memory.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from bot.core.models import ChatRef, UserState
from bot.storage.tables import ChatStateRow


class SqlUserStates:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, chat: ChatRef) -> UserState:
        with Session(self._engine) as s:
            row = s.get(ChatStateRow, _key(chat))
            if row is None:
                return UserState()
            return UserState(language=row.language)

    def save(self, chat: ChatRef, state: UserState) -> None:
        with Session(self._engine) as s, s.begin():
            if state.language is None:
                # Nothing worth keeping: store no row for chats that only asked questions.
                s.execute(delete(ChatStateRow).where(*_of_chat(chat), ChatStateRow.profile == chat.profile))
                return
            row = s.get(ChatStateRow, _key(chat))
            if row is None:
                row = ChatStateRow(**_key(chat))
                s.add(row)
            row.language = state.language
            row.updated_at = dt.datetime.now(dt.UTC)

    def export(self, chat: ChatRef) -> dict[str, UserState]:
        with Session(self._engine) as s:
            return {row.profile: UserState(language=row.language) for row in s.scalars(select(ChatStateRow).where(*_of_chat(chat)))}

    def forget(self, chat: ChatRef) -> None:
        with Session(self._engine) as s, s.begin():
            s.execute(delete(ChatStateRow).where(*_of_chat(chat)))


def _key(chat: ChatRef) -> dict[str, str]:
    return {"channel": chat.channel, "chat_id": chat.chat_id, "profile": chat.profile}


def _of_chat(chat: ChatRef) -> tuple[Any, ...]:
    """The chat's rows with every profile."""
    return (ChatStateRow.channel == chat.channel, ChatStateRow.chat_id == chat.chat_id)
