"""The scripted multi-turn dialogues of tests/data/dialogues.yaml, turn by turn through the dialogue
every channel uses, on the shipped knowledge (faq/, intents/) and the profiles of
buergerbot.example.toml. Each reply is read with the project's own decision reader
(bot.core.decision), so the kind and entry judged here are the ones `ask --json` and `eval` report.

The dialogues are held-out material: they are never edited to pass. A dialogue that fails for a
known gap of the bot is marked xfail(strict=True) with the gap named, so fixing the gap turns it red
and the mark has to go.

Reading the kinds the dialogue file uses but bot.core.decision does not know (it reports them as
`message`, or as `answer` for the question that starts the deletion):

- confirm   a reply offering a flow's yes/no (saving a reminder, deleting the chat's data), or a
            flow's result for that yes/no (saved, not saved, deleted, kept). Its `entry` is the
            intent whose action starts that flow.
- hint      the one-liners for a digit, a yes/no or a word with nothing pending (nothing_pending,
            choose_number, choice_declined).
- language  a switch of the reply language (language_set) or the languages the bot understands
            (languages_served).
- fallback  besides decision's fallback: the question back for a facet asked with no topic in the
            conversation (facet_no_topic, "Worum geht es dabei?"). It is the bot's no-answer for a
            follow-up once the context has expired, and like the fallback it answers no entry.

Hours replies: decision_of reports them with the entry on opening hours (the usage report counts
them there); the file's `entry: null` for hours means no entry's text was answered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import ProfileConfig, Settings, load_settings
from bot.core.decision import Decision, decision_of
from bot.core.dialogue import Dialogue
from bot.core.facets import COST, DOCUMENTS, DURATION, ONLINE, WHERE
from bot.core.flows.appointment import CHOICE_NO, CHOICE_YES
from bot.core.flows.privacy import CHOICE_CONFIRM_DELETE, CHOICE_KEEP, DELETE_INTENT
from bot.core.knowledge import KnowledgeBase
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.models import Reply, ReplyKind
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.texts import TEXTS, text
from bot.wiring import dialogue_settings, holiday_check
from tests.conftest import REPO, CollectingChannel

BERLIN = ZoneInfo("Europe/Berlin")
DIALOGUES: list[dict[str, Any]] = yaml.safe_load((REPO / "tests" / "data" / "dialogues.yaml").read_text(encoding="utf-8"))
# Dialogues without `now` resolve no dates; a Thursday morning, when the offices are open.
DEFAULT_NOW = "2026-12-03T10:00:00+01:00"
DEFAULT_PROFILE = "buerger"

HINT_TEXTS = ("nothing_pending", "choose_number", "choice_declined")
LANGUAGE_TEXTS = ("language_set", "languages_served")
NO_TOPIC_TEXTS = ("facet_no_topic",)
# A flow's results for its yes/no, by the intent action that starts the flow.
FLOW_RESULT_TEXTS = {
    "reminders": ("confirm_appointment", "saved", "not_saved"),
    DELETE_INTENT: ("confirm_delete_question", "data_deleted", "data_deleted_reminders", "data_kept"),
}
FLOW_CHOICES = {"reminders": (CHOICE_YES, CHOICE_NO), DELETE_INTENT: (CHOICE_CONFIRM_DELETE, CHOICE_KEEP)}
# The dialogue file's facet names, as the bot's facets (bot.core.facets).
FACETS = {"costs": COST, "documents": DOCUMENTS, "duration": DURATION, "where": WHERE, "form": ONLINE}
# What an hours reply says about the day (or moment) asked.
DAY_STATE_TEXTS = {
    "open": ("hours_day_open", "hours_at_open", "open_now"),
    "closed": ("hours_day_closed", "hours_at_closed", "closed_now", "closed_long"),
}

LANGUAGES_GAP = "needs the languages of issue 17 (Ukrainian, Turkish, Arabic, …): the bot serves only German and English"
WORDING_GAP = "everyday wording: "
KNOWN_GAPS = {
    "english-list-answered-with-digit": WORDING_GAP + "'I moved' offers only kfz-adressaenderung, not registering or changing one's own address",
    "choice-das-zweite": WORDING_GAP + "'umzug' answers wohnsitz-ummelden outright instead of asking between moving here and moving within the city",
    "choice-by-title": WORDING_GAP + "'bin umgezogen' answers wohnsitz-ummelden outright instead of asking between moving here and moving within the city",
    "car-registration-after-moving-here": "disambiguation: a move with a question about the car goes to registering one's own address, not kfz-adressaenderung",
    "newcomer-story-welcome-center": WORDING_GAP + "a newcomer's story ending in 'where do I register my flat?' goes to wohnungssuche, not wohnsitz-anmelden",
}


@cache
def knowledge() -> LiveKnowledge:
    return LiveKnowledge([REPO / "faq", REPO / "intents"])


@cache
def example_settings() -> Settings:
    settings, errors = load_settings(REPO / "buergerbot.example.toml")
    assert settings is not None, errors
    return settings


def profile_named(name: str) -> ProfileConfig:
    return next(profile for profile in example_settings().profiles if profile.name == name)


def template_pattern(key: str) -> re.Pattern[str]:
    """A text of bot.core.texts in any of its languages, its {placeholders} matching anything on the line."""
    variants = []
    for template in TEXTS[key].values():
        parts = re.split(r"\{\w+\}", template.rstrip("."))
        variants.append(".+?".join(re.escape(part) for part in parts))
    return re.compile("|".join(f"(?:{variant})" for variant in variants))


def says(replies: Sequence[Reply], keys: Sequence[str]) -> bool:
    return any(template_pattern(key).search(reply.text) for reply in replies for key in keys)


def flow_of(replies: Sequence[Reply]) -> str | None:
    """The action of the flow whose yes/no the replies offer or answer."""
    for action, payloads in FLOW_CHOICES.items():
        if any(button.payload in payloads for reply in replies for button in (*reply.choices, *reply.buttons)):
            return action
    for action, keys in FLOW_RESULT_TEXTS.items():
        if any(reply.text.startswith(text(key, reply.language).split("{")[0]) for reply in replies for key in keys):
            return action
    return None


def intent_with_action(kb: KnowledgeBase, action: str) -> str:
    return next(entry.id for entry in kb.entries.values() if entry.action == action)


def dialogue_kind(decision: Decision, replies: Sequence[Reply]) -> str:
    """The dialogue file's kind for a turn's replies (see the module docstring)."""
    if flow_of(replies) is not None:
        return "confirm"
    if decision.kind is not ReplyKind.MESSAGE:
        return decision.kind.value
    if says(replies, LANGUAGE_TEXTS):
        return "language"
    if says(replies, HINT_TEXTS):
        return "hint"
    if says(replies, NO_TOPIC_TEXTS):
        return "fallback"
    return ReplyKind.MESSAGE.value


def office_names(kb: KnowledgeBase, office_id: str) -> set[str]:
    office = kb.offices[office_id]
    return {*office.names.values()}


def warns_closed(replies: Sequence[Reply]) -> bool:
    """A reminder's confirmation that says the office is closed then."""
    return any(word.casefold() in reply.text.casefold() for reply in replies for word in TEXTS["hours_closed"].values())


def marks(dialogue: dict[str, Any]) -> list[pytest.MarkDecorator]:
    if "languages" in dialogue.get("tags", ()):
        return [pytest.mark.xfail(strict=True, reason=LANGUAGES_GAP)]
    if dialogue["name"] in KNOWN_GAPS:
        return [pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[dialogue["name"]])]
    return []


def run_dialogue(dialogue: dict[str, Any]) -> None:
    live = knowledge()
    kb = live.snapshot.knowledge
    settings = example_settings()
    profile = profile_named(dialogue.get("profile", DEFAULT_PROFILE))
    now = [dt.datetime.fromisoformat(dialogue.get("now", DEFAULT_NOW)).astimezone(BERLIN)]
    unanswered = MemoryUnansweredLog()
    bot = Dialogue(
        lambda: live.snapshot, MemoryUserStates(), unanswered, dialogue_settings(settings, profile), clock=lambda: now[0],
        is_holiday=holiday_check(settings), book=MemoryReminderBook(),
    )
    chat = CollectingChannel(bot, profile=profile.name)
    previous: Decision | None = None
    for number, turn in enumerate(dialogue["turns"], 1):
        now[0] += dt.timedelta(minutes=turn.get("wait", 0))
        noted_before = len(unanswered.records)
        replies = chat.say(str(turn["user"]))
        decision = decision_of(replies, kb, bot.settings.hours_entry)
        expect = turn["expect"]
        kind = dialogue_kind(decision, replies)
        where = f"turn {number} ({turn['user']!r}) -> {kind} {decision.as_dict()}: {' | '.join(r.text[:160] for r in replies)!r}"

        assert kind == expect["kind"], f"{where} [kind]"
        assert decision.language == expect["language"], f"{where} [language]"
        if kind == "confirm":
            action = flow_of(replies)
            assert action is not None and intent_with_action(kb, action) == expect["entry"], f"{where} [entry]"
        elif "pick" in expect:
            assert previous is not None and len(previous.suggested) >= expect["pick"], f"{where} [pick]"
            assert decision.entry_id == previous.suggested[expect["pick"] - 1], f"{where} [pick]"
        else:
            answered = None if kind == "hours" and decision.entry_id == bot.settings.hours_entry else decision.entry_id
            assert answered == expect["entry"], f"{where} [entry]"
        if "suggested" in expect:
            assert set(expect["suggested"]) <= set(decision.suggested), f"{where} [suggested]"
        if "facet" in expect:
            entry = kb.entries[expect["entry"]]
            heading = f"**{entry.text(decision.language).title}: {text('facet_' + FACETS[expect['facet']], decision.language)}**"
            assert any(reply.text.startswith(heading) for reply in replies), f"{where} [facet]"
        if "office" in expect:
            mentioned = {office.id for office in kb.offices.values() if any(name in r.text for r in replies for name in office_names(kb, office.id))}
            if expect["office"] is None:
                assert not mentioned, f"{where} [office]"
            else:
                assert expect["office"] in mentioned, f"{where} [office]"
        if "state" in expect:
            assert says(replies, DAY_STATE_TEXTS[expect["state"]]), f"{where} [state]"
            other = "closed" if expect["state"] == "open" else "open"
            assert not says(replies, DAY_STATE_TEXTS[other]), f"{where} [state]"
        if kind == "confirm":
            assert warns_closed(replies) == (expect.get("warns") == "closed"), f"{where} [warns]"
        if expect.get("noted") is False:
            assert len(unanswered.records) == noted_before, f"{where} [noted]"
        previous = decision


@pytest.mark.parametrize(
    "dialogue", [pytest.param(dialogue, id=dialogue["name"], marks=marks(dialogue)) for dialogue in DIALOGUES]
)
def test_dialogue(dialogue: dict[str, Any]) -> None:
    run_dialogue(dialogue)


def test_the_known_gaps_name_dialogues_of_the_file() -> None:
    names = [dialogue["name"] for dialogue in DIALOGUES]
    assert len(names) == len(set(names))
    assert set(KNOWN_GAPS) <= set(names)
