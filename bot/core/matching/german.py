"""German verbs that come apart in a sentence, put back together for matching.

"Wo melde ich mich an?" means *anmelden* and "Wann wird der Müll abgeholt?" means *abholen*, but
the stems of the words as written ("meld", "abgeholt") miss the entries that say "Anmeldung" or
"Abholung". Only a rejoined form whose stem the knowledge base itself uses is added, so a chance
combination of words never invents a feature.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Sequence

# Separable verb particles common in questions to a city (an-melden, ab-holen, um-ziehen, …).
PARTICLES = frozenset({
    "ab", "an", "auf", "aus", "bei", "ein", "fest", "fort", "her", "hin", "los", "mit", "nach",
    "um", "vor", "weg", "weiter", "wieder", "zu", "zurueck", "zusammen",
})
_PREFIXES = ("", *sorted(PARTICLES, key=len, reverse=True))
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\n]+")
_MIN_PARTICIPLE = 6

Stem = Callable[[str], str]


def clauses(text: str) -> list[str]:
    """The text cut where a clause may end: a particle closes its own clause, not the sentence."""
    return _CLAUSE_BREAK.split(text)


def rejoined_verbs(clause: Sequence[str], stem: Stem, known_stems: Container[str]) -> list[str]:
    """Stems of verbs whose particle stands at the end of the clause ("melde mich an" → anmeld)."""
    if len(clause) < 2 or clause[-1] not in PARTICLES:
        return []
    particle = clause[-1]
    found = (_known_verb_stem(particle + w, stem, known_stems) for w in clause[:-1] if w not in PARTICLES)
    return [s for s in found if s is not None]


def participle_stem(word: str, stem: Stem, known_stems: Container[str]) -> str | None:
    """The verb stem of a past participle the stemmer leaves whole ("abgeholt" → abhol,
    "angemeldet" → anmeld, "gemeldet" → meld), if the knowledge base uses that stem."""
    if len(word) < _MIN_PARTICIPLE or not word.endswith(("t", "en")):
        return None
    for prefix in _PREFIXES:
        if not word.startswith(prefix + "ge"):
            continue
        rest = word[len(prefix) + 2:]
        if len(rest) >= 3 and (s := _known_verb_stem(prefix + rest, stem, known_stems)) is not None:
            return s
    return None


def _known_verb_stem(form: str, stem: Stem, known_stems: Container[str]) -> str | None:
    """The stem of a verb form, trying it without its person ending too (the Snowball stemmer
    keeps the "t" of "abholt" and "meldet"), if the knowledge base uses that stem."""
    for ending in ("", "et", "st", "t", "en"):
        if form.endswith(ending) and len(form) - len(ending) >= 4:
            s = stem(form[: len(form) - len(ending)])
            if s in known_stems:
                return s
    return None
