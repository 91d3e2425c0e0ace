"""The durable part of a chat's state in the database (implements core.ports.UserStateStore).

Only the language choice is stored; offered choices are seconds-long conversational context that
the cache in front of this store keeps in memory.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from bot.core.models import UserState
from bot.storage.tables import ChatStateRow


class SqlUserStates:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, channel: str, chat_id: str) -> UserState:
        with Session(self._engine) as s:
            row = s.get(ChatStateRow, (channel, chat_id))
            if row is None:
                return UserState()
            return UserState(language=row.language)

    def save(self, channel: str, chat_id: str, state: UserState) -> None:
        if state.language is None:
            # Nothing worth keeping: store no row for chats that only asked questions.
            self.delete(channel, chat_id)
            return
        with Session(self._engine) as s, s.begin():
            row = s.get(ChatStateRow, (channel, chat_id))
            if row is None:
                row = ChatStateRow(channel=channel, chat_id=chat_id)
                s.add(row)
            row.language = state.language
            row.updated_at = dt.datetime.now(dt.UTC)

    def delete(self, channel: str, chat_id: str) -> None:
        with Session(self._engine) as s, s.begin():
            s.execute(delete(ChatStateRow).where(ChatStateRow.channel == channel, ChatStateRow.chat_id == chat_id))
