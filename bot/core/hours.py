"""Opening hours computed from an office's structured hours, so answers never go out of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.models import Office, TimeSpan
from bot.core.texts import text, weekday_name

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


def closure(office: Office, day: dt.date, is_holiday: HolidayCheck = no_holidays) -> str | None:
    """Why an office is closed on a day it usually opens: "closed" (a closing day of offices.yaml)
    or "holiday"; None when the day keeps its weekly hours or is no opening day anyway."""
    if not office.hours.get(day.weekday()):
        return None
    if day in office.closed:
        return "closed"
    return "holiday" if is_holiday(day) else None


@dataclass(frozen=True)
class ClosedAt:
    """Why a moment falls outside an office's hours."""

    reason: str  # "closed" (a closing day of offices.yaml), "holiday", "weekend", "day" (no hours that weekday), "hours"
    spans: tuple[TimeSpan, ...] = ()  # the day's hours when the moment is only outside them ("hours")


def closed_at(office: Office | None, at: dt.datetime, is_holiday: HolidayCheck = no_holidays) -> ClosedAt | None:
    """Why ``at`` (local wall-clock time) is outside the office's hours; None when it is open then.
    Without an office only what closes every office counts: a public holiday or the weekend."""
    day = at.date()
    if office is not None and day in office.closed:
        return ClosedAt("closed")
    if is_holiday(day):
        return ClosedAt("holiday")
    if office is None:
        return ClosedAt("weekend") if day.weekday() >= 5 else None
    spans = office.hours.get(day.weekday(), ())
    if not spans:
        return ClosedAt("weekend" if day.weekday() >= 5 else "day")
    if any(span.start <= at.time() < span.end for span in spans):
        return None
    return ClosedAt("hours", spans)


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


def open_line(office: Office, now: dt.datetime, lang: str, is_holiday: HolidayCheck = no_holidays) -> str:
    """"Bürgerbüro hat jetzt geöffnet, heute bis 16:00 Uhr." or when it opens next."""
    state = open_state(office, now, is_holiday)
    name = office.name(lang)
    if state.open_now and state.closes_at:
        return text("open_now", lang, office=name, time=state.closes_at.strftime("%H:%M"))
    if state.opens_at is None:
        return text("closed_long", lang, office=name)
    delta = (state.opens_at.date() - now.date()).days
    day = text("today", lang) if delta == 0 else text("tomorrow", lang) if delta == 1 else weekday_name(state.opens_at.weekday(), lang)
    return text("closed_now", lang, office=name, day=day, time=state.opens_at.strftime("%H:%M"))
