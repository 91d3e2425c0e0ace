"""--since: the periods staff write, and a clear sentence for anything else."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.reports.since import iso, parse_since


@pytest.mark.parametrize(("value", "period"), [
    ("7d", dt.timedelta(days=7)),
    ("12h", dt.timedelta(hours=12)),
    ("30d", dt.timedelta(days=30)),
    ("2w", dt.timedelta(days=14)),
    (" 2W ", dt.timedelta(days=14)),
    ("3 d", dt.timedelta(days=3)),
])
def test_periods(value: str, period: dt.timedelta) -> None:
    assert parse_since(value) == period


@pytest.mark.parametrize(("value", "message"), [
    ("7", "write a number and h (hours), d (days) or w (weeks)"),
    ("d7", "is not a period"),
    ("7m", "is not a period"),  # months or minutes? neither: say which units exist
    ("-1d", "is not a period"),
    ("1.5d", "is not a period"),
    ("", "is not a period"),
    ("0h", "empty period"),
    ("999999w", "longer than ten years"),
    ("99999999999999999999d", "is not a period"),
])
def test_bad_periods_say_why(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_since(value)


def test_iso_is_utc_whatever_the_zone() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert iso(dt.datetime(2026, 11, 23, 12, 0, 30, 999, tzinfo=berlin)) == "2026-11-23T11:00:30+00:00"
