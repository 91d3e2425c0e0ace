"""Stale entries: review dates, end dates and broken links, reported by file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.knowledge import KnowledgeBase, load_knowledge
from bot.reports.links import LinkCheck
from bot.reports.stale import all_links, as_json, as_lines, entry_links, stale_entries
from tests.conftest import TINY_OFFICES, entry_yaml

TODAY = dt.date(2026, 11, 23)
LINK = "    links:\n      - kind: form\n        url: {url}\n        label: {{de: Formular, en: Form}}\n"


def entry(entry_id: str, extra: str) -> str:
    return entry_yaml(entry_id, [f"{entry_id} frage eins", f"{entry_id} frage zwei", f"{entry_id} frage drei"],
                      [f"{entry_id} question one", f"{entry_id} question two", f"{entry_id} question three"], extra)


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    reviewed = f"    owner: Team {{id}}\n    last_reviewed: {TODAY - dt.timedelta(days=10)}\n"
    text = "entries:\n" + "".join([
        entry("frisch", reviewed.format(id="frisch") + LINK.format(url="https://city.example/ok")).replace(
            "Antwort zu frisch.", "Siehe [Dokument](https://city.example/doc) und [Mail](mailto:a@city.example)."),
        entry("ueberfaellig", f"    owner: Team Alt\n    last_reviewed: {TODAY - dt.timedelta(days=366)}\n"),
        entry("grenzfall", f"    last_reviewed: {TODAY - dt.timedelta(days=365)}\n"),
        entry("nie", ""),
        entry("abgelaufen", reviewed.format(id="abgelaufen") + f"    valid_until: {TODAY - dt.timedelta(days=1)}\n"),
        entry("kaputt", reviewed.format(id="kaputt") + LINK.format(url="https://city.example/gone")),
    ])
    root = tmp_path / "kb"
    root.mkdir()
    (root / "offices.yaml").write_text(TINY_OFFICES, encoding="utf-8")
    (root / "entries.yaml").write_text(text, encoding="utf-8")
    loaded = load_knowledge([root])
    assert loaded.ok, loaded.problems
    return loaded.knowledge


CHECKED = {
    "https://city.example/ok": LinkCheck("https://city.example/ok", 200, None),
    "https://city.example/doc": LinkCheck("https://city.example/doc", 200, None),
    "https://city.example/gone": LinkCheck("https://city.example/gone", 404, "HTTP 404"),
}


def test_links_of_an_entry_are_buttons_and_web_links_in_answers(kb: KnowledgeBase) -> None:
    assert entry_links(kb.entries["frisch"]) == ["https://city.example/ok", "https://city.example/doc"]  # no mailto:
    assert sorted(all_links(kb)) == sorted(CHECKED)


def test_review_and_end_dates(kb: KnowledgeBase) -> None:
    found = {s.entry.id: [(f.reason, f.detail) for f in s.findings] for s in stale_entries(kb, TODAY, 365)}
    assert found == {
        "ueberfaellig": [("review_overdue", "last reviewed 2025-11-22, 366 days ago")],
        "nie": [("never_reviewed", "no last_reviewed date")],
        "abgelaufen": [("expired", "valid_until 2026-11-22 has passed")],
    }  # links are only judged when they were checked; exactly 365 days is not overdue yet


def test_broken_links_and_output(kb: KnowledgeBase) -> None:
    found = stale_entries(kb, TODAY, 365, CHECKED)
    assert [s.entry.id for s in found] == ["ueberfaellig", "nie", "abgelaufen", "kaputt"]  # file order
    lines = as_lines(found, kb, links_checked=len(CHECKED)).splitlines()
    source = kb.entries["kaputt"].source
    assert f"{source}: kaputt: broken link https://city.example/gone: HTTP 404 (owner: Team kaputt)" in lines
    assert lines[-1] == "4 of 6 entries need attention, 3 links checked"
    obj = as_json(found, kb, TODAY, 365, len(CHECKED))
    assert (obj["today"], obj["review_after_days"], obj["entries_checked"], obj["links_checked"]) == ("2026-11-23", 365, 6, 3)
    broken = obj["entries"][-1]
    assert broken == {"id": "kaputt", "source": source, "owner": "Team kaputt", "last_reviewed": "2026-11-13", "valid_until": None,
                      "problems": [{"reason": "broken_link", "detail": "HTTP 404", "url": "https://city.example/gone"}]}
    assert as_lines([], kb, None) == "0 of 6 entries need attention (links not checked; add --check-links)"
