"""Wiring: settings → live knowledge → dialogue, shared by every CLI command and channel."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import holidays

from bot.config import ProfileConfig, Settings, city_clock
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.hours import HolidayCheck, no_holidays
from bot.core.live import LiveKnowledge
from bot.core.ports import FeedbackLog, HandoverDesk, NoFeedbackLog, NoUsageLog, ReminderBook, UnansweredLog, UsageLog, UserStateStore
from bot.core.schedule import QuietHours

if TYPE_CHECKING:  # the database parts load when a command opens it: `buergerbot ask` never does
    from sqlalchemy import Engine


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
        reminder_offsets=tuple(settings.reminders.offsets),
        office_reminder_offsets={k: tuple(v) for k, v in settings.reminders.office_offsets.items()},
        reminder_quiet_hours=QuietHours.parse(*settings.reminders.quiet_hours),
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
    usage: UsageLog = field(default_factory=NoUsageLog)
    engine: Engine | None = None  # None for storage kept in memory
    book: ReminderBook | None = None  # None: no reminders here (the dialogue says so)
    feedback: FeedbackLog = field(default_factory=NoFeedbackLog)  # the channels' 👍/👎 on answers
    handover: HandoverDesk | None = None  # None: no person of the team answers in the chat (bot/handover)

    def close(self) -> None:
        """Write what is still buffered (unanswered questions, usage events, votes); call once on shutdown."""
        self.unanswered.close()
        self.usage.close()
        self.feedback.close()


def open_database(settings: Settings) -> Engine:
    """The database, migrated to the newest schema."""
    from bot.storage.database import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def open_storage(settings: Settings) -> Storage:
    """The database behind the core's ports."""
    from bot.handover.wiring import handover_desk
    from bot.reminders.process import reminder_book
    from bot.storage.cached_states import CachedUserStates
    from bot.storage.chat_states import SqlUserStates
    from bot.storage.feedback import SqlFeedbackLog
    from bot.storage.unanswered import SqlUnansweredLog
    from bot.storage.usage import SqlUsageLog

    engine = open_database(settings)
    book = reminder_book(settings, engine, city_clock(settings))
    return Storage(CachedUserStates(SqlUserStates(engine)), SqlUnansweredLog(engine), SqlUsageLog(engine), engine, book,
                   feedback=SqlFeedbackLog(engine), handover=handover_desk(settings, engine))


def build_dialogue(settings: Settings, live: LiveKnowledge, storage: Storage, profile: ProfileConfig | None = None) -> Dialogue:
    return Dialogue(
        knowledge=lambda: live.snapshot,
        states=storage.states,
        unanswered=storage.unanswered,
        settings=dialogue_settings(settings, profile),
        clock=city_clock(settings),
        is_holiday=holiday_check(settings),
        usage=storage.usage,
        book=storage.book,
        handover=storage.handover,
    )
