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


# Scripts of languages the knowledge may not serve; a message mostly in one of them is in that language.
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff\u0750-\u077f]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")  # Cyrillic letters only Ukrainian writes
_LETTER = re.compile(r"[^\W\d_]")
# Common words of languages written in Latin letters, as fold() spells them ("nasıl" → "nas l").
_LATIN: dict[str, frozenset[str]] = {
    "tr": frozenset("merhaba selam nasil nas l nerede ne zaman icin cin bir bu ve ile var yok ben sen biz misiniz musunuz mi mu mu istiyorum lazim gerekiyor tesekkurler tesekkur ederim evet hayir kimlik belge nufus yardim lutfen".split()),
    "fr": frozenset("bonjour salut je vous est une les des pour avec comment merci ou puis suis mon ma votre".split()),
    "es": frozenset("hola como donde quiero necesito gracias por para una los las que tengo puedo buenos dias".split()),
    "it": frozenset("ciao buongiorno dove come voglio grazie sono della posso ho bisogno".split()),
    "pl": frozenset("dzien dobry jak gdzie jest czy mam chce prosze dziekuje potrzebuje".split()),
}
# Letters that only one of these languages writes: two of them name the language.
_LETTERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tr", re.compile(r"[ğışİĞŞ]")),
    ("vi", re.compile(r"[ơưđĐạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")),
    ("pl", re.compile(r"[ąęłńśźżĄĘŁŃŚŹŻ]")),
)


def known_words(text: str) -> int:
    """How many of the text's words are German or English function words."""
    return sum(1 for w in fold(text).split() if w in _DE or w in _EN)


def foreign_language(text: str, by_words: bool = True) -> str | None:
    """The language of a message that is neither German nor English (ISO 639-1 code) by its
    script, its letters or (``by_words``) its common words; None when nothing shows one. For
    messages in which :func:`detect_language` found little: one "sie" makes no Polish German."""
    sample = text[:500]
    letters = _LETTER.findall(sample)
    if not letters:
        return None
    for code, script in _SCRIPTS:
        if len(script.findall(sample)) * 2 >= len(letters):
            return "uk" if code == "ru" and _UKRAINIAN.search(sample) else code
    words = fold(sample).split()
    for code, special in _LETTERS:
        if len(special.findall(sample)) >= 2 or (code == "tr" and by_words and special.search(sample)):
            return code
    if not by_words:
        return None
    best, hits = None, 0
    for code, common in _LATIN.items():
        count = sum(1 for w in words if w in common)
        if count > hits:
            best, hits = code, count
    if best is not None and (hits >= 2 or (hits == 1 and len(words) <= 2)):
        return best
    return None


# How people name languages in German and English, by language code.
LANGUAGE_WORDS = {
    "deutsch": "de", "german": "de", "english": "en", "englisch": "en", "tuerkisch": "tr", "turkish": "tr", "arabisch": "ar",
    "arabic": "ar", "ukrainisch": "uk", "ukrainian": "uk", "russisch": "ru", "russian": "ru", "franzoesisch": "fr", "french": "fr",
    "spanisch": "es", "spanish": "es", "italienisch": "it", "italian": "it", "polnisch": "pl", "polish": "pl", "persisch": "fa",
    "persian": "fa", "farsi": "fa", "dari": "fa", "kurdisch": "ku", "kurdish": "ku", "rumaenisch": "ro", "romanian": "ro",
}
