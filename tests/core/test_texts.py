"""The message catalogues: the shipped ones complete, a city's checked with file and line, and one
fallback chain per language for a text a catalogue lacks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import texts
from bot.core.texts import SHIPPED_DIR, Catalogues, install, language_name, load_catalogues, text, weekday_name


@pytest.fixture
def restore_catalogues() -> Iterator[None]:
    before = texts.active()
    yield
    install(before)


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_catalogues_have_the_same_keys_and_placeholders() -> None:
    loaded = load_catalogues([])
    assert loaded.problems == []
    german, english = loaded.catalogues.messages["de"], loaded.catalogues.messages["en"]
    assert set(german) == set(english)
    assert sorted(p.name for p in SHIPPED_DIR.glob("*.yaml")) == ["de.yaml", "en.yaml"]
    differing = [key for key in german if texts._placeholders(german[key]) != texts._placeholders(english[key])]
    assert differing == []


def test_the_public_tables_are_read_from_the_catalogues() -> None:
    assert text("fallback_phone", "de", office="Bürgerbüro", phone="115") == "Persönlich hilft Ihnen das Bürgerbüro: **115**."
    assert weekday_name(0, "de") == "Montag" and weekday_name(6, "en") == "Sunday"
    assert texts.MONTH_NAMES["de"][2] == "März"
    assert language_name("en", "de") == "Englisch" and language_name("xx", "de") == "xx"
    assert texts.TEXTS["popular"] == {"de": "Häufig gefragt:", "en": "Frequently asked:"}


def test_a_missing_text_follows_the_default_chain_language_then_english_then_german() -> None:
    catalogues = Catalogues({"de": {"only_de": "nur deutsch", "both": "beide"}, "en": {"both": "both"}, "uk": {"own": "власний"}})
    assert catalogues.chain("uk") == ("uk", "en", "de")
    assert catalogues.chain("en") == ("en", "de")
    assert catalogues.lookup("own", "uk") == "власний"
    assert catalogues.lookup("both", "uk") == "both"
    assert catalogues.lookup("only_de", "uk") == "nur deutsch"
    assert catalogues.lookup("nowhere", "uk") is None


def test_a_configured_chain_replaces_the_default(tmp_path: Path) -> None:
    write(tmp_path / "locales", "uk.yaml", "popular: 'Часто питають:'\n")
    catalogues = load_catalogues([tmp_path / "locales"], {"uk": ["de"]}).catalogues
    assert catalogues.chain("uk") == ("uk", "de", "en")
    assert catalogues.lookup("popular", "uk") == "Часто питають:"
    assert catalogues.lookup("did_you_mean", "uk") == "Meinten Sie …?"


def test_a_city_catalogue_adds_a_language_and_changes_a_shipped_sentence(tmp_path: Path, restore_catalogues: None) -> None:
    folder = tmp_path / "locales"
    write(folder, "uk.yaml", "popular: 'Часто питають:'\nlanguage_uk: українська\n")
    write(folder, "de.yaml", "popular: 'Oft gefragt:'\n")
    install(load_catalogues([folder]).catalogues)
    assert text("popular", "uk") == "Часто питають:"
    assert text("popular", "de") == "Oft gefragt:"
    assert text("popular", "en") == "Frequently asked:"
    assert text("did_you_mean", "uk") == "Did you mean …?"
    assert language_name("uk", "uk") == "українська"
    assert texts.TEXTS["popular"]["uk"] == "Часто питають:"
    install(load_catalogues([]).catalogues)
    assert texts.TEXTS["popular"] == {"de": "Häufig gefragt:", "en": "Frequently asked:"}
    assert "uk" not in texts.LANGUAGE_NAMES_IN


def test_broken_yaml_is_an_error_with_file_and_line_and_the_file_is_left_out(tmp_path: Path) -> None:
    path = write(tmp_path, "uk.yaml", "popular: 'Часто питають:'\nfallback: [не закрито\n")
    loaded = load_catalogues([tmp_path])
    [problem] = [p for p in loaded.problems if p.severity == "error"]
    assert problem.path == str(path) and problem.line == 3 and "YAML syntax" in problem.message
    assert "uk" not in loaded.catalogues.messages


def test_unknown_keys_placeholders_and_missing_texts_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "uk.yaml", (
        "popular: 'Часто питають:'\n"
        "popullar: 'Часто питають:'\n"
        "fallback_phone: 'Подзвоніть {office}: {telefon}'\n"
        "web_too_long: 'Задовге повідомлення'\n"
        "did_you_mean: 7\n"
        "popular: 'ще раз'\n"
    ))
    loaded = load_catalogues([tmp_path])
    found = {(p.line, p.severity): p.message for p in loaded.problems}
    assert "unknown key 'popullar'" in found[2, "warning"]
    assert "{telefon}" in found[3, "warning"]
    assert "expected 'key: text'" in found[5, "error"]
    assert "duplicate key 'popular'" in found[6, "error"]
    missing = found[1, "warning"]
    assert "said in en → de instead" in missing and "fallback_phone" in missing and "did_you_mean" in missing and "popular," not in missing
    assert all(p.path == str(path) for p in loaded.problems)
    uk = loaded.catalogues.messages["uk"]
    assert uk == {"popular": "Часто питають:", "web_too_long": "Задовге повідомлення"}  # fewer placeholders: allowed
    assert text("fallback_phone", "en", office="A", phone="1") == "For personal help, call the A: **1**."


def test_braces_that_are_no_placeholder_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "uk.yaml", "popular: 'Часто {питають'\n")
    [problem] = load_catalogues([tmp_path]).problems[:1]
    assert problem.line == 1 and problem.severity == "error" and "placeholder" in problem.message
