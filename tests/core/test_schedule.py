"""Reminder timing: offsets across DST, quiet hours, merging, and late notices."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import NoticeKind
from bot.core.schedule import Action, InvalidOffset, QuietHours, decide, parse_offset, plan_appointment, subtract
from tests.reminders.helpers import BERLIN, at

QUIET = QuietHours()


def test_offsets_parse_and_reject() -> None:
    assert parse_offset("1d") == (1, "d")
    assert parse_offset(" 30m ") == (30, "m")
    for bad in ("", "1", "0h", "1w", "-1d", "1.5h"):
        with pytest.raises(InvalidOffset):
            parse_offset(bad)


def test_one_day_before_keeps_the_wall_clock_across_the_autumn_change() -> None:
    # Clocks go back on Sunday 25 Oct 2026, 03:00 -> 02:00: Saturday 10:00 is 25 hours before Sunday 10:00.
    appointment = at("2026-10-25", "10:00")
    reminder = subtract(appointment, "1d")
    assert reminder == at("2026-10-24", "10:00")
    assert appointment.astimezone(dt.UTC) - reminder.astimezone(dt.UTC) == dt.timedelta(hours=25)
    assert (reminder.utcoffset(), appointment.utcoffset()) == (dt.timedelta(hours=2), dt.timedelta(hours=1))


def test_hours_are_elapsed_time_across_the_spring_change() -> None:
    # 29 Mar 2026, 02:00 -> 03:00: one hour before 03:30 local is 01:30 local.
    assert subtract(at("2026-03-29", "03:30"), "1h") == at("2026-03-29", "01:30")


def test_default_plan_for_a_morning_appointment() -> None:
    plan = plan_appointment(at("2026-12-03", "10:30"), ["1d", "1h"], QUIET, now=at("2026-11-21", "12:00"))
    assert [(p.lead, p.due_at) for p in plan] == [("1d", at("2026-12-02", "10:30")), ("1h", at("2026-12-03", "09:30"))]


def test_quiet_hours_move_a_reminder_to_the_morning() -> None:
    plan = plan_appointment(at("2026-12-03", "07:45"), ["1d"], QUIET, now=at("2026-11-21", "12:00"))
    assert [p.due_at for p in plan] == [at("2026-12-02", "08:00")]


def test_an_appointment_early_that_morning_may_wake_the_citizen() -> None:
    plan = plan_appointment(at("2026-12-03", "07:30"), ["1h"], QUIET, now=at("2026-11-21", "12:00"))
    assert [p.due_at for p in plan] == [at("2026-12-03", "06:30")]


def test_reminders_in_the_past_are_left_out() -> None:
    plan = plan_appointment(at("2026-12-03", "10:30"), ["1d", "1h"], QUIET, now=at("2026-12-02", "18:00"))
    assert [p.lead for p in plan] == ["1h"]


def test_two_reminders_moved_together_become_one() -> None:
    # 12 hours before 09:00 is 21:00 (quiet) -> 08:00, the same time as the one-hour reminder.
    plan = plan_appointment(at("2026-12-03", "09:00"), ["12h", "1h"], QUIET, now=at("2026-11-21", "12:00"))
    assert [p.lead for p in plan] == ["1h"]


@given(
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2030, 12, 31)),
    st.lists(st.sampled_from(["1d", "2d", "1h", "3h", "30m", "12h"]), min_size=1, max_size=4),
)
def test_planned_reminders_are_before_the_appointment_and_outside_quiet_hours_unless_it_is_that_morning(
    naive: dt.datetime, offsets: list[str]
) -> None:
    starts = naive.replace(tzinfo=BERLIN, second=0, microsecond=0)
    now = starts - dt.timedelta(days=10)
    plan = plan_appointment(starts, offsets, QUIET, now)
    dues = [p.due_at for p in plan]
    assert dues == sorted(dues)
    for due in dues:
        assert now < due < starts
        if QUIET.contains(due):
            assert QUIET.next_end(due) >= starts


def test_late_notices() -> None:
    night = at("2026-12-02", "23:00")
    assert decide(NoticeKind.CASE_STATUS, None, at("2026-12-02", "12:00"), QUIET).action is Action.SEND
    held = decide(NoticeKind.CASE_STATUS, None, night, QUIET)
    assert held.action is Action.DEFER and held.until == at("2026-12-03", "08:00")
    # The appointment began while the bot was down: the reminder is useless now.
    assert decide(NoticeKind.APPOINTMENT, at("2026-12-02", "10:00"), at("2026-12-02", "10:05"), QUIET).action is Action.DROP
    # An appointment at 07:30 the next morning: remind now rather than after it.
    assert decide(NoticeKind.APPOINTMENT, at("2026-12-03", "07:30"), night, QUIET).action is Action.SEND
    # A waste reminder held until after the collection is pointless, and it must not wake anyone.
    assert decide(NoticeKind.WASTE, at("2026-12-03", "06:00"), night, QUIET).action is Action.DROP
