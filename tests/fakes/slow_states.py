"""A chat-state store that is slow for one chat, as a database in trouble might be."""

from __future__ import annotations

import time

from bot.core.models import ChatRef, UserState
from bot.core.ports import MemoryUserStates

SLOW_SECONDS = 1.0


class SlowStates(MemoryUserStates):
    """Writes of ``slow_chat``'s state take ``SLOW_SECONDS``."""

    def __init__(self, slow_chat: str) -> None:
        super().__init__()
        self.slow_chat = slow_chat

    def save(self, chat: ChatRef, state: UserState) -> None:
        if chat.chat_id == self.slow_chat:
            time.sleep(SLOW_SECONDS)
        super().save(chat, state)
