"""Waste calendars: one iCal file per district, recurring events with their exceptions and moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.knowledge import KnowledgeBase
from bot.core.models import ChatRef, Notice
from bot.core.notices import render_notice
from bot.core.waste import FRACTIONS, fraction_name
from bot.reminders.planning import waste_dues
from bot.reminders.waste_calendar import fractions_of, load_calendars, source_files
from tests.reminders.helpers import POLICY, at

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//x//DE\r\nX-WR-CALNAME:Südstadt\r\n"


def event(uid: str, start: str, summary: str, *extra: str) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20261101T000000Z", f"DTSTART;VALUE=DATE:{start}", f"SUMMARY:{summary}", *extra]
    return "BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n"


def days(folder: Path, body: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, tuple[str, ...]]]:
    (folder / "suedstadt.ics").write_text(HEAD + body + "END:VCALENDAR\r\n", encoding="utf-8")
    calendar = load_calendars(folder)
    assert calendar.problems == [] and calendar.names == {"suedstadt": "Südstadt"}
    return calendar.collections("suedstadt", start, end)


def test_weekly_series_with_an_exception_a_move_and_an_extra_day(tmp_path: Path) -> None:
    body = (
        event("rest", "20261207", "Restmüll", "RRULE:FREQ=WEEKLY;UNTIL=20261231", "EXDATE;VALUE=DATE:20261214", "RDATE;VALUE=DATE:20261230")
        + event("rest", "20261222", "Restmüll", "RECURRENCE-ID;VALUE=DATE:20261221")  # the holiday shift: Monday -> Tuesday
        + event("bio", "20261207", "Bio + Papier")
    )
    got = days(tmp_path, body, dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert got == [
        (dt.date(2026, 12, 7), ("restmuell", "bio", "papier")),
        (dt.date(2026, 12, 22), ("restmuell",)),
        (dt.date(2026, 12, 28), ("restmuell",)),
        (dt.date(2026, 12, 30), ("restmuell",)),
    ]


def test_a_broken_file_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "nordstadt.ics").write_text("this is not iCal", encoding="utf-8")
    (tmp_path / "Bad Name.ics").write_text(HEAD + "END:VCALENDAR\r\n", encoding="utf-8")
    (tmp_path / "suedstadt.ics").write_text(HEAD + event("x", "20261207", "Glas") + "END:VCALENDAR\r\n", encoding="utf-8")
    calendar = load_calendars(tmp_path)
    assert set(calendar.names) == {"suedstadt"}
    assert len(calendar.problems) == 2 and all(str(tmp_path) in p for p in calendar.problems)


def test_fractions_are_read_from_the_summary() -> None:
    assert fractions_of("Gelbe Tonne / Wertstoffe") == ("gelbe-tonne",)
    assert fractions_of("Altglas Sammlung") == ("glas",)
    assert fractions_of("Sonderfahrt") == ("other",)


@pytest.mark.parametrize(
    ("summary", "fraction", "german_name"),
    [
        ("Schadstoffmobil", "schadstoff", "Schadstoffmobil"),
        ("Grünschnitt", "gruenschnitt", "Grünschnitt"),
        ("Weihnachtsbaum-Abholung", "weihnachtsbaum", "Weihnachtsbäume"),
        ("Wertstofftonne", "wertstoff", "Wertstofftonne"),
        ("Sonderfahrt", "other", "eine weitere Abfuhr (siehe Abfallkalender)"),
    ],
)
def test_every_fraction_a_calendar_names_is_shown_by_its_name(summary: str, fraction: str, german_name: str) -> None:
    assert fractions_of(summary) == (fraction,)
    assert fraction_name(fraction, "de") == german_name


@pytest.mark.parametrize(("lang", "names"), [
    ("de", ["Schadstoffmobil", "Schadstoffmobil", "Grünschnitt", "Weihnachtsbäume"]),
    ("en", ["hazardous waste collection", "hazardous waste collection", "garden waste", "Christmas trees"]),
])
def test_the_reminders_name_hazardous_waste_garden_waste_and_christmas_trees(tmp_path: Path, lang: str, names: list[str]) -> None:
    """From the calendar's wording to the reminder a citizen reads: no fraction ends as a raw id."""
    body = (event("s1", "20261207", "Schadstoffe") + event("s2", "20261208", "Schadstoffmobil")
            + event("g", "20261209", "Grünschnitt") + event("w", "20261210", "Weihnachtsbaum-Abholung"))
    (tmp_path / "suedstadt.ics").write_text(HEAD + body + "END:VCALENDAR\r\n", encoding="utf-8")
    now = at("2026-12-05", "12:00")
    dues = waste_dues(POLICY, load_calendars(tmp_path), "sub-1", "suedstadt", ChatRef("telegram", "1"), lang, now)
    kb = KnowledgeBase(entries={}, offices={}, synonyms={}, languages=("de", "en"))
    shown = [render_notice(Notice(due.kind, due.language, due.params), kb, now).text.split("\n")[1] for due in dues]
    assert shown == [f"- {name}" for name in names]


def test_every_fraction_has_a_name_in_every_language() -> None:
    assert all(set(fraction.names) == {"de", "en"} for fraction in FRACTIONS.values())
    assert all(fractions_of(word) == (fraction_id,) for fraction_id, fraction in FRACTIONS.items() for word in fraction.words)


def test_a_city_adds_its_own_words_for_known_fractions(tmp_path: Path) -> None:
    (tmp_path / "fractions.yaml").write_text(
        "words:\n  schadstoff: [Problemstoffe, Sondermüll]\n  gruenschnitt: [Baumschnitt, grüne Tonne]\n  windeln: [Windeltonne]\n", encoding="utf-8")
    body = event("p", "20261207", "Problemstoffe") + event("s", "20261208", "Sondermüll-Sammlung") + event("b", "20261209", "Baumschnitt")
    (tmp_path / "suedstadt.ics").write_text(HEAD + body + "END:VCALENDAR\r\n", encoding="utf-8")
    calendar = load_calendars(tmp_path)
    assert calendar.collections("suedstadt", dt.date(2026, 12, 1), dt.date(2026, 12, 31)) == [
        (dt.date(2026, 12, 7), ("schadstoff",)), (dt.date(2026, 12, 8), ("schadstoff",)), (dt.date(2026, 12, 9), ("gruenschnitt",)),
    ]
    assert [p.split(": ", 1)[1] for p in calendar.problems] == [
        "gruenschnitt: 'grüne Tonne' must be one word",
        "unknown fraction 'windeln'; known: " + ", ".join(FRACTIONS),
    ]
    assert fractions_of("Problemstoffe") == ("other",)  # the city's words belong to its calendars only


def test_an_unreadable_words_file_is_reported_and_the_calendars_still_load(tmp_path: Path) -> None:
    (tmp_path / "fractions.yaml").write_text("words: [schadstoff\n", encoding="utf-8")
    (tmp_path / "suedstadt.ics").write_text(HEAD + event("r", "20261207", "Restmüll") + "END:VCALENDAR\r\n", encoding="utf-8")
    calendar = load_calendars(tmp_path)
    assert calendar.days["suedstadt"] == {dt.date(2026, 12, 7): ("restmuell",)}
    assert len(calendar.problems) == 1 and "not readable YAML" in calendar.problems[0]


def test_the_words_file_is_one_of_the_calendars_sources(tmp_path: Path) -> None:
    """The running bot reads the calendars again when a source changes: the city's words are one."""
    (tmp_path / "nord.ics").write_text(HEAD + "END:VCALENDAR\r\n", encoding="utf-8")
    assert source_files(tmp_path) == [tmp_path / "nord.ics"]
    (tmp_path / "fractions.yaml").write_text("words: {}\n", encoding="utf-8")
    assert source_files(tmp_path) == [tmp_path / "nord.ics", tmp_path / "fractions.yaml"]
