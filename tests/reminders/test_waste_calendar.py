"""Waste calendars: one iCal file per district, recurring events with their exceptions and moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.waste import fraction_name
from bot.reminders.waste_calendar import fractions_of, load_calendars

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
    ],
)
def test_every_fraction_a_calendar_names_is_shown_by_its_name(summary: str, fraction: str, german_name: str) -> None:
    assert fractions_of(summary) == (fraction,)
    assert fraction_name(fraction, "de") == german_name
