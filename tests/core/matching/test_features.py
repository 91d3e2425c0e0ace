from __future__ import annotations

import pytest

from bot.core.matching.features import Analyser

KNOWN = ["identity", "dank", "anmelden", "kindergeld", "register", "ausweis"]


def words_after_repair(text: str, lang: str = "de") -> set[str]:
    feats = Analyser({}, KNOWN).features(text, lang, repair=True)
    return {f[2:] for f in feats if f.startswith("w|")}


@pytest.mark.parametrize(("typed", "meant"), [
    ("anmeldne", "anmeld"),  # two letters swapped: one slip
    ("kindergled", "kindergeld"),
    ("registr", "regist"),  # a letter missing
    ("auswies", "ausweis"),
])
def test_one_slip_is_repaired(typed: str, meant: str) -> None:
    assert meant in words_after_repair(typed, "de" if typed != "registr" else "en")


@pytest.mark.parametrize("word", [
    "dentist",  # three edits from "identity": a different word, not a typo
    "dann",  # four-letter words have too many neighbours one slip away ("dank")
])
def test_real_words_stay_themselves(word: str) -> None:
    assert words_after_repair(word, "en") == {word}
