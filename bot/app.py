"""Wiring: settings → live knowledge → dialogue, shared by every CLI command and channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import Engine

from bot.config import ProfileConfig, Settings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.hours import HolidayCheck, no_holidays
from bot.core.live import LiveKnowledge
from bot.core.ports import UnansweredLog, UserStateStore
from bot.storage.cached_states import CachedUserStates
from bot.storage.chat_states import SqlUserStates
from bot.storage.database import make_engine, migrate
from bot.storage.unanswered import SqlUnansweredLog


def city_clock(settings: Settings) -> Callable[[], dt.datetime]:
    zone = ZoneInfo(settings.timezone)
    return lambda: dt.datetime.now(zone)


def holiday_check(settings: Settings) -> HolidayCheck:
    if not settings.holiday_region:
        return no_holidays
    calendar = holidays.country_holidays("DE", subdiv=settings.holiday_region)
    return lambda day: day in calendar


def dialogue_settings(settings: Settings, profile: ProfileConfig | None = None) -> DialogueSettings:
    """The dialogue's settings: the global ones, with a profile's own where it has them."""
    common = DialogueSettings(
        threshold=settings.matching.threshold,
        ambiguity_gap=settings.matching.ambiguity_gap,
        default_language=settings.default_language,
        popular=tuple(settings.popular),
        phone_office=settings.phone_office,
    )
    if profile is None:
        return common
    return replace(
        common,
        default_language=profile.default_language,
        popular=tuple(profile.popular) if profile.popular is not None else common.popular,
        preferred_tags=frozenset(profile.preferred_tags),
        greeting=profile.greeting,
        use_language_hint=profile.use_client_language,
    )


@dataclass(frozen=True)
class Storage:
    states: UserStateStore
    unanswered: UnansweredLog
    engine: Engine | None = None  # None for in-memory storage (one-off questions, tests)


def open_storage(settings: Settings) -> Storage:
    """The database, migrated to the newest schema, behind the core's ports."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    return Storage(CachedUserStates(SqlUserStates(engine)), SqlUnansweredLog(engine), engine)


def build_dialogue(settings: Settings, live: LiveKnowledge, storage: Storage, profile: ProfileConfig | None = None) -> Dialogue:
    return Dialogue(
        knowledge=lambda: live.snapshot,
        states=storage.states,
        unanswered=storage.unanswered,
        settings=dialogue_settings(settings, profile),
        clock=city_clock(settings),
        is_holiday=holiday_check(settings),
    )
