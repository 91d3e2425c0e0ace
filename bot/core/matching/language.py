"""Language detection for German and English from function words and spelling.

Two languages with very different function words do not need a statistical model: counting a few
hundred common words decides even short questions, in microseconds and deterministically.
"""

from __future__ import annotations

import re

from bot.core.matching.normalise import fold

_DE = set(
    ["aber", "alle", "als", "also", "am", "an", "auch", "auf", "aus", "bei", "beim", "bin", "bis", "bitte", "brauche", "da", "dann", "das", "dass", "dem", "den", "der", "des", "die", "dies", "diese", "dieser", "doch", "du", "ein", "eine", "einem", "einen", "einer", "es", "fuer", "gibt", "habe", "haben", "hat", "hallo", "ich", "ihr", "im", "in", "ist", "ja", "kann", "kein", "keine", "koennen", "man", "mein", "meine", "meinen", "meiner", "mich", "mir", "mit", "muss", "nach", "nicht", "noch", "nur", "oder", "ob", "sich", "sie", "sind", "so", "soll", "ueber", "um", "und", "uns", "von", "vom", "was", "weil", "welche", "wer", "werden", "wie", "wieviel", "wo", "woher", "wohin", "wir", "wird", "zu", "zum", "zur", "danke", "guten", "tag", "morgen", "abend", "moechte", "wann", "warum", "wegen", "beantragen", "bekomme", "neue", "neuen", "neuer", "melden", "anmelden", "kosten", "termin"]
)
_EN = set(
    ["a", "about", "after", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "does", "for", "from", "get", "got", "have", "has", "hello", "hi", "how", "i", "if", "in", "is", "it", "its", "me", "my", "need", "of", "on", "or", "please", "should", "so", "that", "the", "their", "there", "this", "to", "want", "was", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "thanks", "thank", "apply", "register", "much", "cost", "long", "get", "new", "lost", "open", "book"]
)
_UMLAUT = re.compile(r"[äöüß]", re.IGNORECASE)


def detect_language(text: str, default: str | None = None) -> str | None:
    """Return "de", "en", or ``default`` when the text gives no evidence either way."""
    words = fold(text).split()
    de = sum(1 for w in words if w in _DE) + (2 if _UMLAUT.search(text[:500]) else 0)
    en = sum(1 for w in words if w in _EN)
    if de > en:
        return "de"
    if en > de:
        return "en"
    return default
