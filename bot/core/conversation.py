"""What a conversation carries from one message to the next, and the short words people answer with.

The last topic lives in ``UserState.extra`` under ``ctx.*`` keys with the time it was answered, so
a follow-up ("when are they open?") finds it and an old one expires. Choice words ("ja", "the
first", "das zweite") are read here, so every offered list and confirmation accepts them alike.
"""

from __future__ import annotations

import datetime as dt

from bot.core.matching.normalise import fold
from bot.core.models import CONTEXT_PREFIX, UserState

TOPIC = CONTEXT_PREFIX + "entry"
TOPIC_AT = CONTEXT_PREFIX + "at"
OFFICE = CONTEXT_PREFIX + "office"  # the office whose opening hours were asked last
OFFICE_AT = CONTEXT_PREFIX + "office_at"
NO_OFFICE = "-"  # hours were asked of no city office (a shop): a follow-up may name one
ELSEWHERE = CONTEXT_PREFIX + "elsewhere"  # the topic last asked about another place, for "and here?"
ELSEWHERE_AT = CONTEXT_PREFIX + "elsewhere_at"
LIST_LANGUAGE = CONTEXT_PREFIX + "list"  # the language of the list a number picks from
REPLY_LANGUAGE = CONTEXT_PREFIX + "lang"  # the language of the last reply, for a next message that carries none

YES = frozenset("ja j jo jep jawohl yes y yep yeah yup ok okay oki klar genau passt richtig stimmt korrekt sicher gerne gern sure correct right".split())
NO = frozenset("nein n ne nee noe no nope nah falsch wrong behalten keep".split())
# What the confirmations ask to do: "speichern" says yes, "nicht speichern" no.
_DO = frozenset("speichern save loeschen delete".split())
_NOT = frozenset("nicht not dont don t".split())
# Words that may stand around a yes, a no or an ordinal without changing it ("ja bitte", "die erste").
_FILLER = frozenset(
    "bitte please gerne danke thanks thank you na ja auf jeden fall alles everything das die der den dem the one option thema "
    "topic nummer number nr ich nehme take i ll will want moechte mochte lieber rather doch".split()
)
_ORDINALS: dict[str, int] = {}
for _position, _words in enumerate(
    (
        "1 erste erster erstes ersten first 1st 1te 1ter", "2 zweite zweiter zweites zweiten second 2nd 2te 2ter",
        "3 dritte dritter drittes dritten third 3rd 3te 3ter", "4 vierte vierter viertes vierten fourth 4th",
        "5 fuenfte fuenfter fuenftes fuenften fifth 5th",
    ),
    start=1,
):
    for _word in _words.split():
        _ORDINALS[_word] = _position
_LAST = frozenset("letzte letzter letztes letzten last".split())
INSULTS = frozenset(
    "idiot idioten dumm dummer dumme bloed blod bloeder scheiss scheisse scheissbot arschloch fick ficken fuck fucking shit stupid "
    "useless nutzlos nutzloser depp trottel penner bastard hurensohn wichser moron dumb crap sucks kacke mistding".split()
)
# Replies that carry no question: a thumbs-up, "hm", "lol".
_NOISE = frozenset("hm hmm hmmm aha ah oh oha lol haha hahaha hihi ok okay k kk na so achso".split())


def words_of(said: str) -> list[str]:
    return fold(said).split()


def answer_word(said: str) -> bool | None:
    """True for a yes ("Ja", "ok", "jawohl", "ja bitte"), False for a no ("nope", "nein danke"),
    None for anything else."""
    words = words_of(said)
    if not words or len(words) > 4:
        return None
    negated = any(w in _NOT for w in words)
    yes = [w for w in words if w in YES or (w in _DO and not negated)]
    no = [w for w in words if w in NO or (w in _DO and negated)]
    rest = [w for w in words if w not in YES and w not in NO and w not in _DO and w not in _NOT and w not in _FILLER]
    if rest or (yes and (no or negated)):
        return None
    if yes:
        return True
    return False if no or negated else None


# A yes that may only acknowledge ("ok, thanks"): it saves a reminder, but deletes nothing.
_SOFT_YES = frozenset("ok okay oki passt gerne gern richtig stimmt korrekt right correct sure".split())


def firm_yes(said: str) -> bool:
    """A yes that clearly agrees ("Ja", "jawohl", "ja, alles löschen"), not just "ok"."""
    return answer_word(said) is True and any(w not in _SOFT_YES and (w in YES or w in _DO) for w in words_of(said))


def position_word(said: str, count: int) -> int | None:
    """The position (0-based) that "das zweite", "the first one", "Nr. 2" or "2" picks from a list
    of ``count`` ("the last" is its last); None when the message is something else. The position
    may lie outside the list ("das dritte" of two)."""
    words = words_of(said)
    if not words or len(words) > 5:
        return None
    picked = [_ORDINALS[w] for w in words if w in _ORDINALS] + [count for w in words if w in _LAST]
    rest = [w for w in words if w not in _ORDINALS and w not in _LAST and w not in _FILLER and w != "no"]
    if len(picked) != 1 or rest:
        return None
    return picked[0] - 1


def worth_noting(said: str) -> bool:
    """Whether an unanswered message is a question for the team: not a bare number or letter, not
    a yes, no or "lol", not an insult."""
    words = words_of(said)
    if not any(len(w) > 1 and not w.isdigit() for w in words):
        return False
    if answer_word(said) is not None or position_word(said, 1) is not None or all(w in _NOISE or w in YES or w in NO for w in words):
        return False
    return not insulting(said)


def insulting(said: str) -> bool:
    return any(w in INSULTS or w.startswith(("scheiss", "fick", "fuck")) for w in words_of(said))


def remember_topic(state: UserState, entry_id: str, now: dt.datetime) -> None:
    state.extra = {**state.extra, TOPIC: entry_id, TOPIC_AT: now.isoformat(timespec="seconds")}


def remember_office(state: UserState, office_id: str, now: dt.datetime) -> None:
    state.extra = {**state.extra, OFFICE: office_id, OFFICE_AT: now.isoformat(timespec="seconds")}


def remember_elsewhere(state: UserState, entry_id: str, now: dt.datetime) -> None:
    state.extra = {**state.extra, ELSEWHERE: entry_id, ELSEWHERE_AT: now.isoformat(timespec="seconds")}


def topic_elsewhere(state: UserState, now: dt.datetime, minutes: int) -> str | None:
    """The topic last asked about another place ("Personalausweis in München?"), if that was at
    most ``minutes`` ago: "und hier?" asks it of the city."""
    return _fresh(state, ELSEWHERE, ELSEWHERE_AT, now, minutes)


def last_topic(state: UserState, now: dt.datetime, minutes: int) -> str | None:
    """The entry answered last in this chat, if that was at most ``minutes`` ago."""
    return _fresh(state, TOPIC, TOPIC_AT, now, minutes)


def last_office(state: UserState, now: dt.datetime, minutes: int) -> str | None:
    """The office whose opening hours were asked last, if that was at most ``minutes`` ago."""
    return _fresh(state, OFFICE, OFFICE_AT, now, minutes)


def _fresh(state: UserState, key: str, at_key: str, now: dt.datetime, minutes: int) -> str | None:
    entry_id, at = state.extra.get(key), state.extra.get(at_key)
    if not entry_id or not at:
        return None
    try:
        then = dt.datetime.fromisoformat(at)
    except ValueError:
        return None
    if (then.tzinfo is None) != (now.tzinfo is None):
        then = then.replace(tzinfo=now.tzinfo)
    return entry_id if dt.timedelta(0) <= now - then <= dt.timedelta(minutes=minutes) else None
