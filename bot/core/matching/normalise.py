"""Text normalisation shared by indexing and querying, so both sides always fold alike."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Messages longer than this are cut before matching: a question never needs more, and it keeps
# a 100 kB paste from costing more than an ordinary message.
MAX_MATCH_CHARS = 500

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, umlauts spelt out (ä → ae, ß → ss), accents, punctuation and emoji removed.

    "Führerschein", "Fuehrerschein" and "FÜHRERSCHEIN!" all fold to "fuehrerschein", so staff
    and citizens may write umlauts either way.
    """
    return _fold(text[:MAX_MATCH_CHARS])


# One message is folded by each step that reads it (language, facets, office hours, reminder
# flows, the matcher), and the knowledge's off-topic questions for every fallback: the cache
# makes that one fold each. Keys are cut to MAX_MATCH_CHARS, so it holds at most a few MB.
@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    if text.isascii():
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    folded = fold(text)
    return folded.split() if folded else []
