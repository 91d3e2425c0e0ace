"""Appointment dates and times in chat text, and the way the bot writes them back."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.when import When, describe_offsets, format_moment, parse_when

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # a Monday


def d(month: int, day: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, day)


@pytest.mark.parametrize(
    ("said", "day", "time"),
    [
        ("am 3.12. um 10:30", d(12, 3), dt.time(10, 30)),
        ("3.12.2026 10:30", d(12, 3), dt.time(10, 30)),
        ("03.12.26, 8:15 Uhr", d(12, 3), dt.time(8, 15)),
        ("3. Dezember 10 Uhr", d(12, 3), dt.time(10, 0)),
        ("morgen 9 Uhr", d(11, 24), dt.time(9, 0)),
        ("übermorgen um 14:15", d(11, 25), dt.time(14, 15)),
        ("uebermorgen um 14:15", d(11, 25), dt.time(14, 15)),
        ("Montag 8:30", d(11, 30), dt.time(8, 30)),
        ("heute 16 Uhr", d(11, 23), dt.time(16, 0)),
        ("on 3 December at 10:30", d(12, 3), dt.time(10, 30)),
        ("December 3rd 10:30am", d(12, 3), dt.time(10, 30)),
        ("3/12 at 2pm", d(12, 3), dt.time(14, 0)),
        ("tomorrow at 9", d(11, 24), dt.time(9, 0)),
        ("next Monday 14:00", d(11, 30), dt.time(14, 0)),
        ("2026-12-03 08:00", d(12, 3), dt.time(8, 0)),
        ("am 3.12. 10.30", d(12, 3), dt.time(10, 30)),
        ("halb 11 am Freitag", d(11, 27), dt.time(10, 30)),
        ("Freitag viertel nach 9", d(11, 27), dt.time(9, 15)),
        ("in 3 Tagen um 11", d(11, 26), dt.time(11, 0)),
        ("Dec 3, 2027 at 12pm", d(12, 3, 2027), dt.time(12, 0)),
        ("Erinnere mich an meinen Termin am 3.12. um 10:30 im Bürgerbüro", d(12, 3), dt.time(10, 30)),
    ],
)
def test_the_forms_people_write(said: str, day: dt.date, time: dt.time) -> None:
    assert parse_when(said, NOW) == When(day, time)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("morgen", When(d(11, 24), None)),  # date without time: the bot asks for the time
        ("um 10:30", When(None, dt.time(10, 30))),  # time without date: the bot asks for the day
        ("Erinnere mich an meinen Termin", When()),
        ("31.2.", When()),  # no such day
        ("um 25:00", When()),
        ("Status RP-2026-004711", When()),
        ("Telefon 0521 123456", When()),
        ("Guten Morgen, mein Termin ist um 10", When(None, dt.time(10, 0))),  # a greeting is no date
    ],
)
def test_partial_and_nothing(said: str, expected: When) -> None:
    assert parse_when(said, NOW) == expected


def test_a_date_without_year_is_the_next_one() -> None:
    december = dt.datetime(2026, 12, 20, 9, 0, tzinfo=BERLIN)
    assert parse_when("3.1.", december).day == d(1, 3, 2027)
    assert parse_when("20.12.", december).day == d(12, 20, 2026)  # today is not the past
    assert parse_when("29.2.", december).day == d(2, 29, 2028)


def test_a_weekday_is_never_today() -> None:
    assert parse_when("Montag 9 Uhr", NOW).day == d(11, 30)  # NOW is a Monday
    assert parse_when("Dienstag", NOW).day == d(11, 24)


@pytest.mark.parametrize(
    ("said", "time"),
    [
        ("um 3", dt.time(15, 0)),  # offices do not open at night: the afternoon
        ("at 2:15", dt.time(14, 15)),
        ("um 3 Uhr morgens", dt.time(3, 0)),
        ("06:30", dt.time(6, 30)),  # the leading zero says morning
        ("8 Uhr abends", dt.time(20, 0)),
        ("12am", dt.time(0, 0)),
        ("12pm", dt.time(12, 0)),
        ("13pm", None),
        ("10 am Montag", None),  # German "am", not a.m.
    ],
)
def test_hours(said: str, time: dt.time | None) -> None:
    assert parse_when(said, NOW).time == time


def test_a_bare_number_is_a_time_only_when_asked_for() -> None:
    assert parse_when("10", NOW, expect_time=True).time == dt.time(10, 0)
    assert parse_when("10.30", NOW, expect_time=True).time == dt.time(10, 30)
    assert parse_when("10", NOW).time is None


_AHEAD = st.datetimes(min_value=dt.datetime(2026, 11, 23, 10, 1), max_value=dt.datetime(2027, 11, 21, 23, 59)).map(lambda x: x.replace(second=0, microsecond=0))


@given(_AHEAD, st.sampled_from(["de", "en"]), st.booleans())
def test_what_the_bot_writes_reads_back(at: dt.datetime, lang: str, long: bool) -> None:
    written = format_moment(at, lang, long=long)
    assert parse_when(written, NOW) == When(at.date(), at.time()), written


@given(st.datetimes(min_value=dt.datetime(2026, 11, 23), max_value=dt.datetime(2035, 12, 31)), st.sampled_from(["de", "en"]))
def test_with_the_year_any_date_reads_back(at: dt.datetime, lang: str) -> None:
    at = at.replace(second=0, microsecond=0)
    written = format_moment(at, lang, year=True)
    assert parse_when(written, NOW) == When(at.date(), at.time()), written


@given(st.text(max_size=300))
def test_any_text_parses_without_error(said: str) -> None:
    result = parse_when(said, NOW)
    assert result.day is None or isinstance(result.day, dt.date)


def test_formats() -> None:
    at = dt.datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN)
    assert format_moment(at, "de") == "Do 3.12., 10:30 Uhr"
    assert format_moment(at, "en") == "Thu 3 Dec, 10:30"
    assert format_moment(at, "de", long=True) == "Donnerstag, 3. Dezember 2026, 10:30 Uhr"
    assert format_moment(at, "en", long=True) == "Thursday, 3 December 2026, 10:30"


def test_offsets() -> None:
    assert describe_offsets(("1h", "1d"), "de") == "einen Tag vorher und eine Stunde vorher"
    assert describe_offsets(("2h", "1d", "30m"), "en") == "one day before, 2 hours before and 30 minutes before"
    assert describe_offsets(("later",), "de") == ""
