"""Follow-up questions about one side of the last topic: what it costs, what to bring, how long it
takes, where to go, whether it works online ("Was kostet das?", "how long?", "wo ist das?").

An entry's structured fields (``fees``, ``documents``, ``duration``, its office and form link)
answer first; an entry without them still answers from its own line about it ("- Kosten: …",
"- Bring: …"), so older entries need no change to serve follow-ups.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.core.matching.normalise import fold
from bot.core.models import Entry

COST = "cost"
DOCUMENTS = "documents"
DURATION = "duration"
WHERE = "where"
ONLINE = "online"

# Checked in this order on the folded message: "wie lange dauert das" is about time, not place.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (COST, re.compile(r"\b(?:kostet|kosten|gebuehr\w*|preis|teuer|bezahlen|zahlen|cost|costs|fee|fees|price|how\s+much|pay)\b")),
    (DURATION, re.compile(r"\b(?:wie\s+lange|dauer\w*|dauert|bearbeitungszeit|wann\s+(?:ist\s+\w+\s+)?fertig|how\s+long|takes?|duration|processing\s+time)\b")),
    (DOCUMENTS, re.compile(
        r"\b(?:unterlagen|dokumente|mitbringen|mitnehmen|brauche\s+ich|benoetige\s+ich|nachweise?|documents?|papers|bring|what\s+do\s+i\s+need|need\s+to\s+bring)\b"
    )),
    (ONLINE, re.compile(r"\b(?:online|formular|internet|website|form|link)\b")),
    (WHERE, re.compile(r"\b(?:wo|wohin|adresse|where|address|welches\s+amt|which\s+office)\b")),
)
# Words of a follow-up that name nothing ("und", "das", "dafür"); what remains names a topic.
_FILLER = frozenset(
    "und aber noch auch denn eigentlich das dafuer dafur dazu es ist sind wie was wo wann ich man muss kann bitte mal so ungefaehr "
    "in etwa welche welcher welches eine einen ein der die den dem which and but also the it that this for is are what how where when do does i we need can please "
    "about roughly much long there so to my me with of on at bei mit zum zur fuer mir mich dort da hin then again geht gibt auch "
    "also too have has go gehen get muss muessen per pro year jahr im monat month".split()
)
# How the lines about a facet begin in answers ("- Kosten: …", "- Bring: …").
_LINES: dict[str, re.Pattern[str]] = {
    COST: re.compile(r"^\s*[-*]?\s*(?:\*\*)?(?:kosten|geb(?:ü|ue)hr(?:en)?|preis|h(?:ö|oe)he|steuer|fees?|costs?|price|amount|tax)\b", re.IGNORECASE),
    DOCUMENTS: re.compile(r"^\s*[-*]?\s*(?:\*\*)?(?:mitbringen|unterlagen|nachweise|bring|documents|needed|proof)\b", re.IGNORECASE),
    DURATION: re.compile(r"^\s*[-*]?\s*(?:\*\*)?(?:dauer|bearbeitungszeit|duration|processing time)\b|\b(?:dauert|takes)\b", re.IGNORECASE),
}


def asked_facet(said: str) -> str | None:
    """The side of a topic a message asks about, or None."""
    folded = fold(said)
    return next((facet for facet, pattern in _ASKS if pattern.search(folded)), None)


def names_no_topic(said: str) -> bool:
    """Whether a message is only its question words ("und wie lange dauert das?"): nothing of it
    names a topic of its own."""
    folded = fold(said)
    for _, pattern in _ASKS:
        folded = pattern.sub(" ", folded)
    return all(word in _FILLER for word in folded.split())


def facet_lines(entry: Entry, facet: str, lang: str) -> list[str]:
    """What the entry says about the facet in ``lang``: its structured field, else its own lines
    about it; empty when it says nothing about it."""
    local = entry.text(lang)
    field: dict[str, Callable[[], list[str]]] = {
        COST: lambda: [local.fees] if local.fees else [],
        DOCUMENTS: lambda: [f"- {document}" for document in local.documents],
        DURATION: lambda: [local.duration] if local.duration else [],
    }
    structured = field[facet]() if facet in field else []
    if structured:
        return structured
    pattern = _LINES.get(facet)
    if pattern is None:
        return []
    return [line.strip() for line in local.answer.splitlines() if pattern.search(line)]


_LANGUAGE_FILLER = frozenset(
    "und auf in bitte please and the answer antworten antworte antwort das noch mal einmal nochmal again now jetzt lieber rather "
    "can you kannst du sie koennen it that this geht es gibt s version auch also do speak sprichst sprechen verstehst understand "
    "spricht jemand someone anyone".split()
)


def asked_language(said: str, words_for: dict[str, str]) -> str | None:
    """The language a short follow-up asks for ("und auf Englisch?", "in English please"), as a code
    by ``words_for`` (a language's name → its code); None for any other message."""
    words = fold(said).split()
    named = [words_for[w] for w in words if w in words_for]
    if len(named) != 1 or any(w not in words_for and w not in _LANGUAGE_FILLER for w in words):
        return None
    return named[0]
