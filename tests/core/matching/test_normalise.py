from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.matching.language import detect_language
from bot.core.matching.normalise import MAX_MATCH_CHARS, fold, tokens


def test_umlauts_fold_both_ways() -> None:
    assert fold("Führerschein") == fold("Fuehrerschein") == fold("FÜHRERSCHEIN!") == "fuehrerschein"
    assert fold("Straße") == fold("Strasse") == "strasse"


def test_punctuation_emoji_and_accents_removed() -> None:
    assert fold("Café 🙂 – geöffnet??") == "cafe geoeffnet"
    assert tokens("  ") == []
    assert tokens("🎉🎉🎉") == []


def test_html_is_just_text() -> None:
    assert fold("<script>alert(1)</script> Perso") == "script alert 1 script perso"


@given(st.text())
def test_fold_is_idempotent_and_plain(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in once)
    assert len(once) <= 2 * MAX_MATCH_CHARS  # ß → ss may lengthen, never beyond twice


def test_language_detection() -> None:
    assert detect_language("Wie beantrage ich einen neuen Personalausweis?") == "de"
    assert detect_language("How do I register my address?") == "en"
    assert detect_language("Müll") == "de"
    assert detect_language("Perso", default="en") == "en"
