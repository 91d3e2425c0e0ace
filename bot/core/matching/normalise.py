"""Text normalisation shared by indexing and querying, so both sides always fold alike."""

from __future__ import annotations

import re
import unicodedata

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
    text = text[:MAX_MATCH_CHARS]
    if text.isascii():
        return _NON_WORD.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    folded = fold(text)
    return folded.split() if folded else []
