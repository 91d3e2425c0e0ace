"""Wiring: settings → live knowledge → dialogue, shared by every CLI command and channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import holidays

from bot.config import Settings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.hours import HolidayCheck, no_holidays
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUserStates, UnansweredLog, UserStateStore
from bot.storage.unanswered_file import JsonlUnansweredLog


def city_clock(settings: Settings) -> Callable[[], dt.datetime]:
    zone = ZoneInfo(settings.timezone)
    return lambda: dt.datetime.now(zone)


def holiday_check(settings: Settings) -> HolidayCheck:
    if not settings.holiday_region:
        return no_holidays
    calendar = holidays.country_holidays("DE", subdiv=settings.holiday_region)
    return lambda day: day in calendar


def dialogue_settings(settings: Settings) -> DialogueSettings:
    return DialogueSettings(
        threshold=settings.matching.threshold,
        ambiguity_gap=settings.matching.ambiguity_gap,
        default_language=settings.default_language,
        popular=tuple(settings.popular),
        phone_office=settings.phone_office,
    )


def build_dialogue(
    settings: Settings,
    live: LiveKnowledge,
    states: UserStateStore | None = None,
    unanswered: UnansweredLog | None = None,
) -> Dialogue:
    return Dialogue(
        knowledge=lambda: live.snapshot,
        states=states or MemoryUserStates(),
        unanswered=unanswered or JsonlUnansweredLog(settings.data_dir / "unanswered.jsonl"),
        settings=dialogue_settings(settings),
        clock=city_clock(settings),
        is_holiday=holiday_check(settings),
    )
