"""The hand-over's rules and words, without any I/O: when to offer a person, what the citizen
consents to, what the team sees in the staff room, and what a staff line in a thread means.

The dialogue asks the desk (bot/handover/desk.py) through the ``HandoverDesk`` port; the desk
asks this module. Nothing here knows Matrix or the database, so it is tested with plain values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import yaml

from bot.core.hours import open_state
from bot.core.matching.normalise import fold
from bot.core.models import CONTEXT_PREFIX, Button, Office, Reply, UserState
from bot.core.ports import HANDOVER_NO, HANDOVER_YES, HandoverTurn
from bot.core.texts import text, weekday_name

MISSES = CONTEXT_PREFIX + "handover.misses"  # messages in a row the bot could not answer
TURNS = CONTEXT_PREFIX + "handover.turns"  # the last few messages and what the bot said, as JSON
MISSES_BEFORE_OFFER = 2
MAX_TURN_CHARS = 300  # of one remembered message: enough for a question, not for a pasted letter
MAX_RELAY_CHARS = 4000  # of one relayed message

# Words that ask for a person, folded (bot.core.matching.normalise.fold): a message that is (mostly)
# one of these asks for the team even when the intents do not recognise it.
PERSON_WORDS = frozenset(
    "mitarbeiter mitarbeiterin mitarbeitende mensch menschen person sachbearbeiter sachbearbeiterin berater beraterin "
    "human agent operator staff someone somebody person real".split()
)
_ASKING = frozenset(
    "ich will moechte mochte bitte einen eine einem einer jemand jemandem gerne mal mit sprechen reden verbinden echten echte richtigen richtige mir "
    "i want to talk speak a an with please can connect me need real".split()
)


class CaseState(StrEnum):
    QUEUED = "queued"  # asked outside the team's hours: waits for them
    WAITING = "waiting"  # in the staff room, nobody has taken it yet
    CLAIMED = "claimed"  # a team member handles it
    CLOSED = "closed"


OPEN_STATES = (CaseState.QUEUED, CaseState.WAITING, CaseState.CLAIMED)


class CloseReason(StrEnum):
    STAFF = "staff"  # !close in the thread
    TIMEOUT = "timeout"  # no message for too long
    UNANSWERED = "unanswered"  # nobody of the team answered in time


def say(key: str, lang: str, **values: object) -> str:
    """One of the hand-over's texts (``handover_<key>`` in the message catalogues, bot/locales)."""
    return text("handover_" + key, lang, **values)


# -- when to offer ---------------------------------------------------------------------------------
def asks_for_person(said: str) -> bool:
    """Whether a message asks for a person ("Mitarbeiter", "ich will einen Menschen", "human
    please", "agent"), rather than asking about one ("Personalausweis", "person search")."""
    words = fold(said).split()
    if not words or len(words) > 8:
        return False
    named = [w for w in words if w in PERSON_WORDS]
    return bool(named) and all(w in PERSON_WORDS or w in _ASKING for w in words)


@dataclass(frozen=True)
class Turn:
    said: str
    answered: bool
    reply: str  # the first line of the bot's reply


def remembered(state: UserState) -> list[Turn]:
    try:
        raw = json.loads(state.extra.get(TURNS, "[]"))
        return [Turn(str(t[0]), bool(t[1]), str(t[2])) for t in raw]
    except (ValueError, TypeError, IndexError):
        return []


def note_turn(state: UserState, turn: HandoverTurn, keep: int) -> bool:
    """Remember the message (within the conversation's context) and count the misses in a row;
    whether a hand-over is to be offered now."""
    if not turn.said.strip():  # a command: only the menu's "a person, please" asks for the offer
        return turn.wants_person
    first_line = turn.replies[0].text.strip().split("\n", 1)[0] if turn.replies else ""
    turns = [*remembered(state), Turn(turn.said[:MAX_TURN_CHARS], not turn.missed, first_line[:MAX_TURN_CHARS])]
    state.extra[TURNS] = json.dumps([[t.said, t.answered, t.reply] for t in turns[-max(keep, 1):]], ensure_ascii=False)
    misses = int(state.extra.get(MISSES, "0") or 0) + 1 if turn.missed else 0
    wants = turn.wants_person or asks_for_person(turn.said)
    due = wants or misses >= MISSES_BEFORE_OFFER
    state.extra[MISSES] = "0" if due else str(misses)
    return due


def forget_turns(state: UserState) -> None:
    state.extra.pop(TURNS, None)
    state.extra.pop(MISSES, None)


def the_question(turns: Sequence[Turn]) -> str:
    """What the team is asked: the last message the bot could not answer that is not a request
    for a person, else the last message that is no such request, else the last message."""
    if not turns:
        return ""
    real = [t for t in turns if not asks_for_person(t.said)]
    unanswered = [t for t in real if not t.answered]
    return (unanswered or real or list(turns))[-1].said


# -- the offer ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Availability:
    open_now: bool
    back_at: dt.datetime | None  # the next opening when closed (None: not within two weeks)


def team_availability(office: Office | None, now: dt.datetime, is_holiday: Callable[[dt.date], bool]) -> Availability:
    """Whether the team is there now, from its office's hours; a team without an office in the
    knowledge counts as there (the configuration check reports the missing office)."""
    if office is None:
        return Availability(True, None)
    state = open_state(office, now, is_holiday)
    return Availability(state.open_now, state.opens_at)


def back_phrase(back: dt.datetime, now: dt.datetime, lang: str) -> str:
    days = (back.date() - now.date()).days
    clock = back.strftime("%H:%M")
    if days in (0, 1):
        return say("back_today" if days == 0 else "back_tomorrow", lang, time=clock)
    return say("back_on", lang, day=weekday_name(back.weekday(), lang), time=clock)


def offer_reply(lang: str, office: Office | None, office_id: str, now: dt.datetime, is_holiday: Callable[[dt.date], bool],
                retention_days: int) -> Reply:
    """The offer with what the citizen consents to, and yes/no choices."""
    name = office.name(lang) if office is not None else office_id
    there = team_availability(office, now, is_holiday)
    if there.open_now:
        intro, yes = say("offer_open", lang, office=name), say("yes_open", lang)
    elif there.back_at is not None:
        intro, yes = say("offer_closed", lang, office=name, back=back_phrase(there.back_at, now, lang)), say("yes_queue", lang)
    else:
        intro, yes = say("offer_closed_long", lang, office=name), say("yes_queue", lang)
    body = intro + "\n\n" + say("consent", lang, days=retention_days)
    return Reply(body, choices=(Button(yes, payload=HANDOVER_YES), Button(say("no", lang), payload=HANDOVER_NO)), language=lang)


# -- the staff room ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseSummary:
    """What the team sees of a hand-over: never a chat id, never a name the chat app gave."""

    number: str
    profile: str
    channel: str
    language: str
    question: str
    turns: tuple[Turn, ...]
    queued: bool


def case_number(case_id: int) -> str:
    return f"H-{case_id:05d}"


def thread_opening(case: CaseSummary, lang: str) -> str:
    lines = [say("staff_new", lang, number=case.number, profile=case.profile, channel=case.channel, language=case.language,
                 queued=say("staff_queued", lang) if case.queued else "")]
    lines += ["", f"{say('staff_question', lang)}: {case.question or say('staff_no_question', lang)}"]
    earlier = [t for t in case.turns if t.said != case.question or not t.answered]
    if earlier:
        lines += ["", f"{say('staff_turns', lang)}:"]
        for turn in earlier:
            lines.append(f"> {say('staff_citizen', lang)}: {turn.said}")
            if turn.reply:
                lines.append(f"< {say('staff_bot', lang)}: {turn.reply}")
    lines += ["", say("staff_help", lang)]
    return "\n".join(lines)


def citizen_line(said: str, lang: str) -> str:
    return f"{say('staff_citizen', lang)}: {said[:MAX_RELAY_CHARS]}"


class StaffCommand(StrEnum):
    CLAIM = "claim"
    CLOSE = "close"
    FAQ = "faq"


_COMMAND = re.compile(r"^\s*!(claim|close|faq)\b", re.IGNORECASE)


def staff_command(body: str) -> StaffCommand | None:
    """The command a staff message in a thread gives; None for an answer to relay."""
    found = _COMMAND.match(body)
    return StaffCommand(found.group(1).lower()) if found else None


def strip_reply_fallback(body: str) -> str:
    """A staff message without the quoted lines a reply in older clients starts with ("> <@a:b> …")."""
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def close_reason_line(reason: CloseReason, who: str | None, lang: str) -> str:
    return say("staff_reason_" + reason.value, lang, who=who or "?")


def closing_text(reason: CloseReason, lang: str) -> str:
    return say("closed_" + reason.value, lang)


def draft_entry(number: str, language: str, question: str, answers: Sequence[str]) -> str:
    """A draft knowledge entry from a closed hand-over (YAML): the citizen's question as the
    example, the team's answers as the answer. Staff edit it and move it into faq/ themselves."""
    entry_id = "entwurf-" + number.lower()
    answer = "\n\n".join(a.strip() for a in answers if a.strip())
    block = {
        "entries": [{
            "id": entry_id,
            "kind": "faq",
            language: {"title": "<<Titel>>" if language == "de" else "<<Title>>", "questions": [question], "answer": answer},
        }],
    }
    header = f"# Draft from hand-over {number}: check the wording, add the other languages, then move it into faq/.\n"
    return header + yaml.safe_dump(block, allow_unicode=True, sort_keys=False)
