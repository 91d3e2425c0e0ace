"""Opening hours computed from an office's structured hours, so answers never go out of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.models import Office, TimeSpan

# A public-holiday test for the city's region; injected so the core needs no holiday library.
HolidayCheck = Callable[[dt.date], bool]


def no_holidays(day: dt.date) -> bool:
    return False


@dataclass(frozen=True)
class OpenState:
    open_now: bool
    closes_at: dt.datetime | None  # when open now
    opens_at: dt.datetime | None  # next opening when closed (None: none within two weeks)


def spans_on(office: Office, day: dt.date, is_holiday: HolidayCheck = no_holidays) -> tuple[TimeSpan, ...]:
    if day in office.closed or is_holiday(day):
        return ()
    return office.hours.get(day.weekday(), ())


def open_state(office: Office, now: dt.datetime, is_holiday: HolidayCheck = no_holidays) -> OpenState:
    """``now`` is local wall-clock time of the city."""
    for span in spans_on(office, now.date(), is_holiday):
        if span.start <= now.time() < span.end:
            return OpenState(True, dt.datetime.combine(now.date(), span.end, now.tzinfo), None)
    for offset in range(0, 15):
        day = now.date() + dt.timedelta(days=offset)
        for span in spans_on(office, day, is_holiday):
            start = dt.datetime.combine(day, span.start, now.tzinfo)
            if start > now:
                return OpenState(False, None, start)
    return OpenState(False, None, None)
