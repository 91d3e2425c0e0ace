"""`faq new`'s template: unfilled it names every placeholder by line, filled in it validates."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from bot.core.knowledge import PLACEHOLDER
from bot.core.validation import check
from bot.reports.template import render, slug_problem, write_entry_file

TODAY = dt.date(2026, 11, 23)

# What a staff member writes, placeholder by placeholder, in the order the template asks.
FILLED = [
    "Steueramt, Team Hundesteuer",
    "Hund anmelden", "Wie melde ich meinen Hund zur Hundesteuer an?", "Hundesteuer anmelden", "Steuer für meinen neuen Hund",
    "Melden Sie Ihren Hund innerhalb von zwei Wochen beim **Steueramt** an.",
    "Register a dog", "How do I register my dog for the dog tax?", "dog tax registration", "tax for my new dog",
    "Register your dog with the **tax office** within two weeks.",
]


@pytest.mark.parametrize("entry_id", ["hundesteuer", "hund-anmelden", "a1", "kfz-2"])
def test_good_ids(entry_id: str) -> None:
    assert slug_problem(entry_id) is None


@pytest.mark.parametrize("entry_id", ["Hundesteuer", "hunde steuer", "hund--steuer", "-hund", "hund-", "hundesteuer_anmelden", "müll", ""])
def test_bad_ids_are_explained(entry_id: str) -> None:
    assert "lower-case letters a-z, digits and a single '-' between words" in str(slug_problem(entry_id))


def test_unfilled_template_names_every_placeholder_by_line(tiny_kb: Path) -> None:
    path = write_entry_file(tiny_kb, "hund-anmelden", "faq", ["de", "en"], TODAY)
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = [(no, m.group(0)) for no, line in enumerate(lines, 1) if not line.lstrip().startswith("#") for m in PLACEHOLDER.finditer(line)]
    assert len(expected) == len(FILLED)
    checked = check([tiny_kb])
    assert not checked.ok
    reported = [(p.line, p.message) for p in checked.problems if p.path == str(path)]
    assert reported == [(no, f"placeholder {text} is still to be filled in") for no, text in expected]
    assert all(p.path == str(path) for p in checked.problems)  # nothing else is wrong with it


@pytest.mark.parametrize("kind", ["faq", "service"])
def test_filled_template_validates_and_routes(tiny_kb: Path, kind: str) -> None:
    path = write_entry_file(tiny_kb / "services", "hund-anmelden", kind, ["de", "en"], TODAY)
    values = iter(FILLED)
    lines = path.read_text(encoding="utf-8").splitlines()
    filled = [line if line.lstrip().startswith("#") else PLACEHOLDER.sub(lambda _: next(values), line) for line in lines]
    path.write_text("\n".join(filled) + "\n", encoding="utf-8")
    assert next(values, None) is None  # every value went in
    checked = check([tiny_kb])
    assert checked.ok, [str(p) for p in checked.problems]
    entry = checked.knowledge.entries["hund-anmelden"]
    assert entry.kind.value == kind and entry.last_reviewed == TODAY and entry.owner == FILLED[0]
    assert entry.text("en").title == "Register a dog" and len(entry.text("de").questions) == 3
    assert checked.matcher is not None and checked.matcher.match("Hundesteuer für meinen Hund", "de").best.entry_id == "hund-anmelden"  # type: ignore[union-attr]


def test_service_template_mentions_leika_and_other_languages_get_a_block() -> None:
    text = render("hund-anmelden", "service", ["de", "en", "fr"], TODAY)
    assert '# leika: "99000000000000"' in text and "leika" not in render("x", "faq", ["de", "en"], TODAY)
    assert re.search(r"^    fr:\n      title: \"<<Title in 'fr', e\.g\. Register a dog>>\"$", text, re.MULTILINE)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    write_entry_file(tmp_path, "hund", "faq", ["de", "en"], TODAY)
    (tmp_path / "hund.yaml").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError):
        write_entry_file(tmp_path, "hund", "faq", ["de", "en"], TODAY)
    assert (tmp_path / "hund.yaml").read_text(encoding="utf-8") == "mine"


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "faq").write_text("", encoding="utf-8")
    with pytest.raises(NotADirectoryError):
        write_entry_file(tmp_path / "faq", "hund", "faq", ["de", "en"], TODAY)


def test_questions_citizens_asked_become_the_example_questions() -> None:
    asked = {"de": ['Wann ist "Vollmond": heute?', "vollmond\x9bkalender"], "en": []}
    text = render("vollmond", "faq", ["de", "en"], dt.date(2026, 12, 6), asked)
    entry = yaml.safe_load(text)["entries"][0]
    assert entry["de"]["questions"] == ['Wann ist "Vollmond": heute?', "vollmond\x9bkalender"]
    assert entry["en"]["questions"][0].startswith("<<")  # no questions in English: its placeholders stay
    assert entry["de"]["title"].startswith("<<") and entry["de"]["answer"].startswith("<<")
