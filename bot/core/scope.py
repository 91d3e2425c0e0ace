"""Questions that are not the city's business: another city or Land, shops, the football club, the
weather, things the bot cannot do. They get an honest "not me" instead of the nearest entry, which
would state the city's own facts as if they applied ("Hundesteuer in Köln" → our dog tax rates).

What counts comes from the ``scope:`` knowledge files (faq/scope.yaml), so staff can add a place or
a word without a release.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.core.matching.normalise import fold
from bot.core.texts import TEXTS, text

PLACE = "place"
# Before a place name: "in Köln", "aus Köln", "nach Köln", "for Munich".
_PREPOSITIONS = ("in", "im", "aus", "nach", "von", "vom", "bei", "fuer", "for", "from", "to", "at")
_ORIGIN = ("aus", "von", "vom", "from")
# The words around the city's name when a message only turns back to it after another place.
_BACK_HERE = frozenset(
    "und and ok okay oder or aber but hier here bei uns in im what about how wie ist es is it das that dann then so "
    "auch also too da there denn bitte please der dem".split()
)
# An office named right before a place is that place's office: "Standesamt Essen", "Bürgeramt Halle".
_OFFICE_BEFORE = r"\w*amt|\w*stelle|\w*behoerde|rathaus|buergerbuero|stadt|city of"
# What ties another place to a question for this city: a move here or away ("von Köln hergezogen,
# muss ich mein Auto ummelden?", "Job in der Schweiz, muss ich mich hier abmelden?"), a birth there
# (the certificate comes from there, the bot says so), something bought there and brought home, or
# the message asking about here as well.
_TIES = re.compile(
    r"(?<!\S)(zieh\w*|\w*zogen|\w*zieht|umzug\w*|\w*zuzug\w*|zuziehen|mov(e|es|ed|ing)|relocat\w*|neu hier|new here|"
    r"hergekommen|came here|come here|ankomm\w*|angekommen|arrived|austrag\w*|geboren|born|gekauft|bought|nach hause|home|"
    r"hier|here|hierher|bei euch|bei ihnen)(?!\S)"
)
# Words that tie a question about where someone comes from to this city ("ich komme aus Köln und
# muss mich anmelden", "Kennzeichen aus Köln behalten").
_ARRIVAL = re.compile(
    r"(?<!\S)(kam|came|comes?|komme|kommt|stamm\w*|anmeld\w*|ummeld\w*|umschreib\w*|register\w*|kennzeichen|plates?|behalten|keep|mitnehm\w*|"
    r"bring\w*|umgemeldet|uebertrag\w*|transfer\w*)(?!\S)"
)


@dataclass(frozen=True)
class OutOfScope:
    reason: str  # "place" or one of the topics' reasons ("shops", "weather", …)
    place: str | None = None  # the place named, as the list spells it


def _alternatives(words: Iterable[str]) -> str | None:
    """A regex alternation of folded phrases; a trailing "*" allows any ending."""
    parts = []
    for word in words:
        stem = word.strip().endswith("*")
        folded = fold(word.strip().rstrip("*"))
        if folded:
            parts.append(re.escape(folded) + (r"\w*" if stem else ""))
    # Longest first, so "frankfurt am main" wins over "frankfurt".
    return "|".join(sorted(parts, key=len, reverse=True)) or None


def _phrase_pattern(words: Iterable[str], before: str = "") -> re.Pattern[str] | None:
    """One regex finding any of the phrases as whole words, optionally right after ``before``."""
    alternatives = _alternatives(words)
    return re.compile(rf"(?<!\S){before}({alternatives})(?!\S)") if alternatives else None


def spellings(name: str) -> set[str]:
    """How people type a place: "Köln" as "koeln" and as "koln"."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return {form for form in (fold(name), fold(bare)) if form}


@dataclass(frozen=True)
class Scope:
    """The scope files' lists, folded and ready to search a message."""

    own_places: frozenset[str] = frozenset()
    other_places: Mapping[str, str] = field(default_factory=dict)  # folded spelling → name as listed
    after_preposition: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # reason → words
    city_matters: tuple[str, ...] = ()
    _own: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _other: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _after: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _topics: tuple[tuple[str, re.Pattern[str]], ...] = field(default=(), compare=False, repr=False)
    _matters: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls, own_places: Iterable[str] = (), other_places: Iterable[str] = (), after_preposition: Iterable[str] = (),
        topics: Mapping[str, Iterable[str]] | None = None, city_matters: Iterable[str] = (),
    ) -> Scope:
        own = frozenset(form for name in own_places for form in spellings(name))
        # A name the city lists as its own is never another place ("Mitte" is also Berlin's).
        other = {form: name for name in other_places for form in spellings(name) if form not in own}
        after = {form: name for name in after_preposition for form in spellings(name) if form not in own}
        reasons = {reason: tuple(words) for reason, words in (topics or {}).items()}
        matters = tuple(city_matters)
        compiled = tuple((reason, pattern) for reason, words in reasons.items() if (pattern := _phrase_pattern(words)) is not None)
        prepositions = "|".join(_PREPOSITIONS)
        return cls(
            own, other, after, reasons, matters,
            _own=_phrase_pattern(own), _other=_phrase_pattern(other),
            _after=_phrase_pattern(after, rf"(?:{prepositions}|{_OFFICE_BEFORE}) "),
            _topics=compiled, _matters=_phrase_pattern(matters),
        )

    def merged(self, other: Scope) -> Scope:
        """Both files' lists, as when staff add a file of their own."""
        topics = {reason: (*self.topics.get(reason, ()), *other.topics.get(reason, ())) for reason in {*self.topics, *other.topics}}
        return Scope.of(
            {*self.own_places, *other.own_places}, {*self.other_places.values(), *other.other_places.values()},
            {*self.after_preposition.values(), *other.after_preposition.values()}, topics, (*self.city_matters, *other.city_matters),
        )

    def place_named(self, said: str) -> str | None:
        """Another place the message is about, as the list spells it; None when it names none, also
        names the city, or comes from that place to live here."""
        folded = fold(said)
        if not folded or (self._other is None and self._after is None):
            return None
        found = self._other.search(folded) if self._other is not None else None
        # "Berlin-Mitte" is Berlin's district, not the city's own "Mitte".
        if self._own is not None and any(own.start() != (found.end() + 1 if found else -1) for own in self._own.finditer(folded)):
            return None
        place = self.other_places[found.group(1)] if found else None
        start = found.start() if found else -1
        if place is None and self._after is not None:
            after = self._after.search(folded)
            if after is not None:
                place, start = self.after_preposition[after.group(1)], after.start(1)
        if place is None:
            return None
        if _TIES.search(folded):
            return None
        before = folded[:start].split()[-1:]
        if before and before[0] in _ORIGIN and _ARRIVAL.search(folded):
            return None
        return place

    def topic(self, said: str) -> str | None:
        """The reason a message is none of the city's business ("weather"), unless it also asks for
        what the city does about it ("eine Kneipe eröffnen" is a licence)."""
        folded = fold(said)
        reason = next((reason for reason, pattern in self._topics if pattern.search(folded)), None)
        if reason is None or (self._matters is not None and self._matters.search(folded)):
            return None
        return reason

    def back_here(self, said: str) -> bool:
        """Whether a message only turns back to the city itself ("und hier in Musterstadt?", "ok and
        in Musterstadt?"): it names an own place and nothing else of its own."""
        folded = fold(said)
        if self._own is None or self._own.search(folded) is None:
            return False
        return all(word in _BACK_HERE for word in self._own.sub(" ", folded).split())

    def judge(self, said: str) -> OutOfScope | None:
        place = self.place_named(said)
        if place is not None:
            return OutOfScope(PLACE, place)
        reason = self.topic(said)
        return OutOfScope(reason) if reason is not None else None


def scope_text(judged: OutOfScope, lang: str) -> str:
    """What the bot says to a question that is not the city's business: why not, and what it can do."""
    key = f"out_of_scope_{judged.reason}"
    if key not in TEXTS:
        return text("out_of_scope", lang)
    return text(key, lang, place=judged.place) if judged.place else text(key, lang)


def names_any(said: str, names: Iterable[str]) -> bool:
    """Whether the message names one of these places as whole words (the waste calendars' districts)."""
    pattern = _phrase_pattern(form for name in names for form in spellings(name))
    return pattern is not None and pattern.search(fold(said)) is not None
