"""When reminders go out: offsets before an appointment, quiet hours, and what to do with a late one.

All rules work on aware datetimes in the city's time zone. "One day before" means the same wall-clock
time on the previous day (so across a DST change it is 23 or 25 hours); hours and minutes are real
elapsed time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.models import NoticeKind

_OFFSET = re.compile(r"^\s*(\d{1,4})\s*([dhm])\s*$")
# Appointment-related notices may break the quiet hours when the appointment itself is that night or morning.
_MAY_WAKE = frozenset({NoticeKind.APPOINTMENT, NoticeKind.APPOINTMENT_CANCELLED})
# Two reminders planned this close together would arrive as one burst: the one nearer the appointment stays.
_MERGE_WINDOW = dt.timedelta(minutes=30)


class InvalidOffset(ValueError):
    pass


def parse_offset(text: str) -> tuple[int, str]:
    """ "1d" -> (1, "d"); days, hours ("h") or minutes ("m")."""
    m = _OFFSET.match(text)
    if not m or int(m.group(1)) == 0:
        raise InvalidOffset(f"not an offset like 1d, 2h or 30m: {text!r}")
    return int(m.group(1)), m.group(2)


def subtract(at: dt.datetime, offset: str) -> dt.datetime:
    amount, unit = parse_offset(offset)
    if unit == "d":
        # Wall-clock arithmetic on the zone-aware value: the same local time n days earlier.
        return at - dt.timedelta(days=amount)
    delta = dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(minutes=amount)
    return (at.astimezone(dt.UTC) - delta).astimezone(at.tzinfo)


@dataclass(frozen=True)
class QuietHours:
    start: dt.time = dt.time(21, 0)
    end: dt.time = dt.time(8, 0)

    def contains(self, at: dt.datetime) -> bool:
        t = at.timetz().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_end(self, at: dt.datetime) -> dt.datetime:
        """The first moment after ``at`` (in ``at``'s zone) when the quiet hours are over."""
        candidate = dt.datetime.combine(at.date(), self.end, tzinfo=at.tzinfo)
        if candidate <= at:
            candidate = dt.datetime.combine(at.date() + dt.timedelta(days=1), self.end, tzinfo=at.tzinfo)
        return candidate


@dataclass(frozen=True)
class Planned:
    lead: str  # the offset it was planned from, e.g. "1d"
    due_at: dt.datetime


def plan_appointment(starts_at: dt.datetime, offsets: list[str], quiet: QuietHours, now: dt.datetime) -> list[Planned]:
    """The reminders for an appointment, earliest first. A reminder falling in the quiet hours moves
    to their end; if that would be after the appointment, it stays (an appointment that morning).
    Reminders already in the past are left out: the citizen has just told us about it."""
    planned: list[Planned] = []
    for lead in sorted(set(offsets), key=lambda o: subtract(starts_at, o)):
        due = subtract(starts_at, lead)
        if quiet.contains(due):
            later = quiet.next_end(due)
            if later < starts_at:
                due = later
        if due <= now or due >= starts_at:
            continue
        if planned and due - planned[-1].due_at < _MERGE_WINDOW:
            planned.pop()
        planned.append(Planned(lead, due))
    return planned


@dataclass(frozen=True)
class ReminderPolicy:
    """The city's reminder rules, built once from the configuration's [reminders] table: the
    dialogue promises the reminders this policy plans, and the book and worker queue and send them
    by the same rules. The defaults here are the configuration's defaults."""

    zone: dt.tzinfo = dt.UTC  # the city's time zone (the configuration's ``timezone``)
    offsets: tuple[str, ...] = ("1d", "1h")  # how long before an appointment
    office_offsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # office id -> its own offsets
    quiet: QuietHours = QuietHours()
    waste_evening: dt.time = dt.time(18, 0)  # waste reminders go out at this time the evening before

    def offsets_for(self, office: str | None) -> tuple[str, ...]:
        return self.office_offsets.get(office or "", self.offsets)

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.zone)

    def plan(self, starts_at: dt.datetime, office: str | None, now: dt.datetime) -> list[Planned]:
        """The reminders an appointment at ``office`` gets (see plan_appointment); both times in
        the city's zone, where the quiet hours are read."""
        return plan_appointment(starts_at, list(self.offsets_for(office)), self.quiet, now)


class Action(StrEnum):
    SEND = "send"
    DROP = "drop"
    DEFER = "defer"


@dataclass(frozen=True)
class Decision:
    action: Action
    until: dt.datetime | None = None  # for DEFER: the new due time


def decide(kind: NoticeKind, expires_at: dt.datetime | None, now: dt.datetime, quiet: QuietHours) -> Decision:
    """What a worker does with a due notice now: send it, drop it (no longer useful, e.g. the
    appointment has begun while the bot was down), or hold it until the quiet hours end."""
    if expires_at is not None and now >= expires_at:
        return Decision(Action.DROP)
    if not quiet.contains(now):
        return Decision(Action.SEND)
    wake = quiet.next_end(now)
    if expires_at is None or wake < expires_at:
        return Decision(Action.DEFER, wake)
    if kind in _MAY_WAKE:
        return Decision(Action.SEND)
    return Decision(Action.DROP)
