from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.core.hours import ClosedAt, closed_at, open_state
from bot.core.models import Office, TimeSpan

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Office(
    id="bb",
    names={"de": "Bürgerbüro"},
    address="Marktplatz 1",
    phone="1",
    hours={0: (TimeSpan(dt.time(8), dt.time(12)), TimeSpan(dt.time(13), dt.time(16))), 3: (TimeSpan(dt.time(8), dt.time(18)),)},
    closed=frozenset({dt.date(2026, 11, 26)}),
)


def test_open_and_closing_time() -> None:
    state = open_state(OFFICE, dt.datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN))
    assert state.open_now and state.closes_at is not None and state.closes_at.hour == 12


def test_lunch_break_reopens_same_day() -> None:
    state = open_state(OFFICE, dt.datetime(2026, 11, 23, 12, 30, tzinfo=BERLIN))
    assert not state.open_now and state.opens_at == dt.datetime(2026, 11, 23, 13, 0, tzinfo=BERLIN)


def test_closed_day_and_holidays_are_skipped() -> None:
    # Thursday 26 Nov is a closing day; next is Monday 30 Nov.
    state = open_state(OFFICE, dt.datetime(2026, 11, 24, 17, 0, tzinfo=BERLIN))
    assert state.opens_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    holiday = open_state(OFFICE, dt.datetime(2026, 11, 29, 12, tzinfo=BERLIN), is_holiday=lambda d: d == dt.date(2026, 11, 30))
    assert holiday.opens_at == dt.datetime(2026, 12, 3, 8, 0, tzinfo=BERLIN)


def test_never_open() -> None:
    office = Office(id="x", names={"de": "X"}, address="", phone="", hours={})
    assert open_state(office, dt.datetime(2026, 1, 1, 10)).opens_at is None


HOLIDAY_MONDAY = dt.date(2026, 12, 7)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (dt.datetime(2026, 11, 23, 9, 0), None),  # Monday morning: open
        (dt.datetime(2026, 11, 23, 12, 30), ClosedAt("hours", OFFICE.hours[0])),  # the lunch break
        (dt.datetime(2026, 11, 23, 16, 0), ClosedAt("hours", OFFICE.hours[0])),  # closing time is closed
        (dt.datetime(2026, 11, 24, 10, 0), ClosedAt("day")),  # a Tuesday without hours
        (dt.datetime(2026, 11, 26, 10, 0), ClosedAt("closed")),  # the closing day of the file
        (dt.datetime(2026, 11, 29, 10, 0), ClosedAt("weekend")),
        (dt.datetime(2026, 12, 7, 10, 0), ClosedAt("holiday")),
    ],
)
def test_why_an_office_is_closed_at_a_moment(at: dt.datetime, expected: ClosedAt | None) -> None:
    assert closed_at(OFFICE, at.replace(tzinfo=BERLIN), is_holiday=lambda day: day == HOLIDAY_MONDAY) == expected


def test_without_an_office_only_weekends_and_holidays_close() -> None:
    def holiday(day: dt.date) -> bool:
        return day == HOLIDAY_MONDAY

    assert closed_at(None, dt.datetime(2026, 11, 24, 22, 0, tzinfo=BERLIN), holiday) is None  # any hour of a working day
    assert closed_at(None, dt.datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN), holiday) == ClosedAt("weekend")
    assert closed_at(None, dt.datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN), holiday) == ClosedAt("holiday")
