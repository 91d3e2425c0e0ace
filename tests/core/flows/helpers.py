"""What the flow tests share: a chat through the collecting channel, against the in-memory reminder book."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.core.memory_book import MemoryReminderBook
from bot.core.models import Appointment, ChatRef, Reply
from bot.core.ports import MemoryUserStates
from tests.conftest import CollectingChannel

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # a Monday
CHAT = ChatRef("test", "chat-1")
DISTRICTS = {"suedstadt": "Südstadt", "nordstadt": "Nordstadt", "altstadt-ost": "Altstadt Ost"}
LINKED = Appointment("b-17", dt.datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN), "buergerbuero", "Reisepass", "terminvergabe")
TOKEN = "1A" + "x" * 48


class Chat(CollectingChannel):
    book: MemoryReminderBook | None
    states: MemoryUserStates

    def payloads(self, reply: Reply) -> list[str]:
        return [c.payload or "" for c in reply.choices]


MakeChat = Callable[..., Chat]


def flow_state(chat: Chat) -> dict[str, str]:
    return {k: v for k, v in chat.states.load(CHAT).extra.items() if k.startswith("rem.")}


def upcoming(chat: Chat) -> list[Appointment]:
    assert chat.book is not None
    return chat.book.upcoming(CHAT, NOW)


def json_block(reply: Reply) -> dict[str, object]:
    found = re.search(r"```json\n(.*)\n```", reply.text, re.DOTALL)
    assert found, reply.text
    data: dict[str, object] = json.loads(found.group(1))
    return data
