"""Scripted conversations (tests/data/conversations.yaml) through the dialogue every channel uses,
on the default Musterstadt knowledge: follow-ups, opening hours, words for choices, what is noted
for the team, and the reply language per message."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml

from bot.config import Settings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.models import Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.texts import TEXTS
from tests.conftest import REPO, CollectingChannel

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # a Monday
SCRIPTS = yaml.safe_load((REPO / "tests" / "data" / "conversations.yaml").read_text(encoding="utf-8"))["conversations"]
HINTS = ("nothing_pending", "choose_number", "facet_no_topic", "choice_declined")
FALLBACKS = ("fallback", "fallback_unnoted")


@cache
def knowledge() -> LiveKnowledge:
    return LiveKnowledge([REPO / "faq", REPO / "intents"])


def kind_of(reply: Reply, chat: CollectingChannel) -> str:
    def starts(*keys: str) -> bool:
        return any(reply.text.startswith(TEXTS[key][lang].split("{")[0]) for key in keys for lang in TEXTS[key])

    if starts("languages_served"):
        return "languages"
    if starts(*HINTS):
        return "hint"
    if starts("shop_hours"):
        return "shop"
    if starts("hours_title") or reply.text.startswith(("**Öffnungszeiten:", "**Opening hours:")):
        return "hours"
    if starts(*FALLBACKS):
        return "fallback"
    entries = knowledge().snapshot.knowledge.entries
    if reply.entry_id is not None:
        title = entries[reply.entry_id].text(reply.language).title
        return "facet" if reply.text.startswith(f"**{title}: ") else "answer"
    return "choices" if reply.choices else "flow"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s["name"] for s in SCRIPTS])
def test_scripted_conversation(script: dict[str, Any]) -> None:
    live = knowledge()
    unanswered = MemoryUnansweredLog()
    dialogue = Dialogue(
        lambda: live.snapshot, MemoryUserStates(), unanswered, DialogueSettings(threshold=Settings().matching.threshold), clock=lambda: NOW,
        is_holiday=holidays.country_holidays("DE", subdiv="NW").__contains__, book=MemoryReminderBook(),
    )
    chat = CollectingChannel(dialogue)
    for number, turn in enumerate(script["turns"], 1):
        before = len(unanswered.records)
        replies = chat.command(turn["command"]) if "command" in turn else chat.say(turn["say"])
        reply = replies[-1]
        where = f"turn {number} ({turn.get('say') or turn.get('command')!r}): {reply.text[:200]!r}"
        if turn["kind"] != "any":
            assert kind_of(reply, chat) == turn["kind"], where
        if "entry" in turn:
            assert reply.entry_id == turn["entry"], where
        if "lang" in turn:
            assert reply.language == turn["lang"], where
        if "contains" in turn:
            assert turn["contains"] in reply.text, where
        if "noted" in turn:
            assert (len(unanswered.records) > before) == turn["noted"], where


def test_the_scripts_cover_every_kind_of_reply() -> None:
    assert len(SCRIPTS) >= 25
    kinds = {turn["kind"] for script in SCRIPTS for turn in script["turns"]}
    assert kinds >= {"answer", "facet", "hours", "choices", "hint", "fallback", "languages", "shop", "flow"}
