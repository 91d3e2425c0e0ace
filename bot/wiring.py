"""The composition root: the one place that builds the bot's parts from the settings.

Knowledge, storage, the dialogue, the chat channels (from the channel registry), the reminder
book and scheduler, the back-office and staff extensions of the HTTP server, and the two
processes made of them: :func:`run_bot` (`buergerbot run`) and :func:`run_worker` (`buergerbot
worker`), which share one lifecycle (bot.runtime.serve: signals, HTTP, graceful stop).

The parts import their libraries where they are built, not here: `buergerbot ask` needs the
dialogue but no database, and a reminder worker needs the database but no matcher (NumPy, SciPy),
so each command loads only what it uses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import holidays

from bot.channels.registry import Channel, ChannelContext, ChannelKind, Handle, Wanted, channel_kinds, used_by
from bot.config import ProfileConfig, Settings, city_clock
from bot.core.hours import HolidayCheck, no_holidays
from bot.storage.stores import Storage

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.core.dialogue import Dialogue, DialogueSettings
    from bot.core.knowledge import KnowledgeBase
    from bot.core.live import LiveKnowledge
    from bot.core.models import Notice, Reply
    from bot.core.ports import Deliverer
    from bot.knowledge_cache import MatcherCache
    from bot.ops.metrics import Metrics
    from bot.reminders.book import SqlReminderBook
    from bot.reminders.service import ReminderService
    from bot.reminders.tokens import TokenSigner
    from bot.reminders.waste_calendar import WasteCalendar
    from bot.reminders.worker import Observe
    from bot.runtime import Service, Started
    from bot.web.server import Extension

log = logging.getLogger(__name__)


# -- knowledge -------------------------------------------------------------------------------------

def matcher_cache(settings: Settings) -> MatcherCache:
    """The trained matcher kept under data_dir/cache, for every command that builds one."""
    from bot.knowledge_cache import MatcherCache

    return MatcherCache(settings.data_dir / "cache", settings.matching.model_dump_json())


def install_catalogues(settings: Settings) -> None:
    """The shipped message catalogues and the city's (``[locales]``) for every text the bot says;
    a broken file is left out and logged (`buergerbot faq validate` lists every problem)."""
    from bot.core.texts import install, load_catalogues

    loaded = load_catalogues(settings.locales.dirs, settings.locales.fallbacks)
    for problem in loaded.problems:
        if problem.severity == "error":
            log.warning("message catalogue: %s", problem)
    install(loaded.catalogues)


def live_knowledge(settings: Settings, dirs: Sequence[Path] | None = None) -> LiveKnowledge:
    """The knowledge, its matcher and the configured sentence encoders, with the message catalogues
    installed; raises EncoderUnavailable (bot.semantic.configured) or InvalidKnowledge (bot.core.live)."""
    from bot.core.live import LiveKnowledge
    from bot.semantic.configured import configured_encoder, configured_multilingual_encoder

    install_catalogues(settings)
    return LiveKnowledge(
        list(dirs or settings.knowledge_dirs), settings.languages, configured_encoder(settings.matching.encoder, lazy=True),
        settings.knowledge_limits.limits(), configured_multilingual_encoder(settings.matching.multilingual_encoder),
        matcher_cache(settings),
    )


def warm_encoder(live: LiveKnowledge) -> None:
    """Load a lazily loaded sentence encoder in the background, so the first question it must read
    does not wait for it; a failure is logged (the matcher then answers by words alone)."""
    load = getattr(live.encoder, "load", None)
    if not callable(load):
        return

    def warm() -> None:
        try:
            load()
        except Exception as exc:
            log.warning("sentence encoder not loaded: %s", exc)

    threading.Thread(target=warm, name="encoder", daemon=True).start()


# -- storage ---------------------------------------------------------------------------------------

def open_database(settings: Settings) -> Engine:
    """The database, migrated to the newest schema."""
    from bot.storage.database import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine)
    return engine


def open_storage(settings: Settings) -> Storage:
    """The database behind the core's ports."""
    from bot.handover.wiring import handover_desk
    from bot.storage.cached_states import CachedUserStates
    from bot.storage.chat_states import SqlUserStates
    from bot.storage.feedback import SqlFeedbackLog
    from bot.storage.unanswered import SqlUnansweredLog
    from bot.storage.usage import SqlUsageLog

    engine = open_database(settings)
    book = reminder_book(settings, engine, city_clock(settings))
    return Storage(CachedUserStates(SqlUserStates(engine)), SqlUnansweredLog(engine), SqlUsageLog(engine), engine, book,
                   feedback=SqlFeedbackLog(engine), handover=handover_desk(settings, engine))


# -- dialogue --------------------------------------------------------------------------------------

def holiday_check(settings: Settings) -> HolidayCheck:
    if not settings.holiday_country:
        return no_holidays
    calendar = holidays.country_holidays(settings.holiday_country, subdiv=settings.holiday_region or None)
    return lambda day: day in calendar


def dialogue_settings(settings: Settings, profile: ProfileConfig | None = None) -> DialogueSettings:
    """The dialogue's settings: the global ones, with a profile's own where it has them."""
    from bot.core.dialogue import DialogueSettings

    common = DialogueSettings(
        threshold=settings.matching.threshold,
        ambiguity_gap=settings.matching.ambiguity_gap,
        default_language=settings.default_language,
        popular=tuple(settings.popular),
        phone_office=settings.phone_office,
        reminders=settings.reminder_policy(),
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


def build_dialogue(settings: Settings, live: LiveKnowledge, storage: Storage, profile: ProfileConfig | None = None) -> Dialogue:
    from bot.core.dialogue import Dialogue

    return Dialogue(
        knowledge=lambda: live.snapshot,
        states=storage.states,
        unanswered=storage.unanswered,
        settings=dialogue_settings(settings, profile),
        clock=city_clock(settings),
        is_holiday=holiday_check(settings),
        usage=storage.usage,
        book=storage.book,
        feedback=storage.feedback,
        handover=storage.handover,
    )


# -- channels --------------------------------------------------------------------------------------

def build_channels(
    settings: Settings, live: LiveKnowledge, storage: Storage, metrics: Metrics | None = None, request_stop: Callable[[], object] = lambda: None,
) -> list[Channel]:
    """The channels every profile configures (bot.channels.registry), each over the profile's
    dialogue; with none configured, the fallback (the console in a terminal). Raises MissingSecret
    (bot.credentials)."""
    from bot.ops.metrics import Metrics

    metrics = metrics or Metrics()
    metrics.declare(settings)
    handles: dict[tuple[str, bool], Handle] = {}

    def handle(profile: ProfileConfig, reminders: bool) -> Handle:
        """One dialogue per profile for its channels that can deliver a later message, one without
        the reminder book and the hand-over desk for those that cannot (the dialogue then says
        reminders are not available and offers no person of the team)."""
        if (profile.name, reminders) not in handles:
            counted = replace(storage, unanswered=metrics.count_unanswered(storage.unanswered, profile.name))
            dialogue = build_dialogue(settings, live, counted if reminders else replace(counted, book=None, handover=None), profile)
            handles[profile.name, reminders] = metrics.observe(dialogue.handle, profile.name)
        return handles[profile.name, reminders]

    wanted = _wanted(settings, lambda profile, kind: ChannelContext(settings, handle(profile, kind.delivers_reminders), storage, metrics,
                                                                     request_stop))
    channels: list[Channel] = []
    for kind, ones in wanted:
        kind.prepare(settings, storage)
        channels += kind.build_all(ones)
    if not wanted:
        for kind in channel_kinds():
            if kind.fallback:
                kept = storage if kind.delivers_reminders else replace(storage, book=None, handover=None)
                context = ChannelContext(settings, build_dialogue(settings, live, kept).handle, storage, metrics, request_stop)
                channels += kind.build(Wanted(None, None, context))
    return channels


def delivery_channels(settings: Settings, engine: Engine, metrics: Metrics) -> list[Channel]:
    """The channels that deliver reminders without answering chats (`buergerbot worker`)."""
    from bot.core.ports import MemoryUnansweredLog, MemoryUserStates

    storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), engine=engine)
    context = ChannelContext(settings, lambda incoming: [], storage, metrics)
    channels: list[Channel] = []
    for kind, ones in _wanted(settings, lambda profile, kind: context):
        kind.prepare(settings, storage)  # one flood budget per token with the bot and the other workers
        channels += [channel for one in ones for channel in kind.delivery_only(one)]
    return channels


def _wanted(settings: Settings, context: Callable[[ProfileConfig, ChannelKind], ChannelContext]) -> list[tuple[ChannelKind, list[Wanted]]]:
    """Every channel kind the profiles use, with the profiles that use it."""
    by_kind: dict[str, tuple[ChannelKind, list[Wanted]]] = {}
    for profile in settings.profiles:
        for kind, section in used_by(profile):
            by_kind.setdefault(kind.name, (kind, []))[1].append(Wanted(profile, section, context(profile, kind)))
    return list(by_kind.values())


# -- reminders -------------------------------------------------------------------------------------

def chat_link_signer(settings: Settings, clock: Callable[[], dt.datetime]) -> TokenSigner | None:
    """The signer for links citizens redeem; None where no keys are configured (links then fail politely)."""
    from bot.credentials import secret
    from bot.reminders.link_keys import link_signer

    if not secret(settings.reminders.link_keys_env):
        return None
    return link_signer(settings, lambda: clock().astimezone(dt.UTC))


class CalendarFolder:
    """The waste calendars, read again when a file in the folder changes."""

    def __init__(self, folder: Path) -> None:
        from bot.reminders.waste_calendar import WasteCalendar

        self._folder = folder
        self._seen: tuple[tuple[str, int], ...] | None = None
        self._calendar = WasteCalendar()

    def __call__(self) -> WasteCalendar:
        from bot.reminders.waste_calendar import load_calendars, source_files

        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in source_files(self._folder)) if self._folder.is_dir() else ()
        if stamp != self._seen:
            self._calendar = load_calendars(self._folder)
            self._seen = stamp
        return self._calendar


def reminder_book(settings: Settings, engine: Engine, clock: Callable[[], dt.datetime]) -> SqlReminderBook:
    from bot.reminders.book import SqlReminderBook

    return SqlReminderBook(engine, settings.reminder_policy(), clock, signer=chat_link_signer(settings, clock), calendar=CalendarFolder(settings.reminders.waste_dir))


def notice_renderer(knowledge: Callable[[], KnowledgeBase], clock: Callable[[], dt.datetime]) -> Callable[[Notice], Reply]:
    from bot.core.notices import render_notice

    return lambda notice: render_notice(notice, knowledge(), clock())


def reminder_service(
    settings: Settings, book: SqlReminderBook, deliverers: Mapping[tuple[str, str], Deliverer], render: Callable[[Notice], Reply],
    clock: Callable[[], dt.datetime], observe: Observe | None = None,
) -> ReminderService:
    """The delivery jobs over the same database, policy and calendars as ``book``."""
    from bot.reminders.service import ReminderService
    from bot.reminders.worker import ReminderWorker

    config = settings.reminders
    worker = ReminderWorker(book.engine, deliverers, render, book.policy, clock, batch_size=config.batch_size,
                            lease_seconds=config.lease_seconds, observe=observe)
    return ReminderService(worker, clock, poll_seconds=config.poll_seconds, top_up=book.top_up_waste)


def _deliverers(channels: Sequence[object]) -> dict[tuple[str, str], Deliverer]:
    from bot.core.ports import Deliverer

    return {channel.address: channel for channel in channels if isinstance(channel, Deliverer)}


def reminder_services(settings: Settings, live: LiveKnowledge, storage: Storage, channels: Sequence[object], metrics: Metrics) -> list[ReminderService]:
    """The reminder scheduler, delivering through ``channels`` (none with storage kept in memory)."""
    from bot.reminders.book import SqlReminderBook

    book = storage.book
    if storage.engine is None or not isinstance(book, SqlReminderBook):
        return []  # storage kept in memory: nothing to deliver from
    clock = city_clock(settings)
    return [reminder_service(settings, book, _deliverers(channels), notice_renderer(lambda: live.snapshot.knowledge, clock), clock,
                             metrics.reminder_event)]


def backoffice_extensions(settings: Settings, storage: Storage, known_offices: Callable[[], Collection[str]]) -> list[Extension]:
    """The back-office API on the operations server when clients are configured (and a database is)."""
    from bot.reminders.book import SqlReminderBook
    from bot.web.backoffice import install_backoffice

    if storage.engine is None or not isinstance(storage.book, SqlReminderBook) or not settings.backoffice_clients:
        return []
    return [partial(install_backoffice, storage.engine, settings, known_offices, city_clock(settings))]


def reminder_parts(
    settings: Settings, live: LiveKnowledge, storage: Storage, channels: Sequence[object], metrics: Metrics,
) -> tuple[list[ReminderService], list[Extension]]:
    """The reminder scheduler, delivering through this process's channels, and with back-office
    clients configured the back-office API on the operations server."""
    def offices() -> set[str]:
        return set(live.snapshot.knowledge.offices)

    return reminder_services(settings, live, storage, channels, metrics), backoffice_extensions(settings, storage, offices)


# -- the processes ---------------------------------------------------------------------------------

async def run_bot(settings: Settings, load: Callable[[], LiveKnowledge], storage: Storage, stop: asyncio.Event | None = None) -> None:
    """`buergerbot run`: every profile's channels, the reminder scheduler and the HTTP server with
    the back-office API and the staff dashboard, until SIGTERM/SIGINT or ``stop``."""
    from bot.ops.metrics import Metrics
    from bot.runtime import Started, serve

    stop = stop or asyncio.Event()
    metrics = Metrics()
    loaded: list[LiveKnowledge] = []

    def load_and_keep() -> LiveKnowledge:
        live = load()
        loaded.append(live)
        return live

    def assemble(live: LiveKnowledge) -> Started:
        channels = build_channels(settings, live, storage, metrics, request_stop=stop.set)
        from bot.handover.wiring import handover_services

        services: list[Service] = [*reminder_services(settings, live, storage, channels, metrics), *handover_services(settings, storage, channels, metrics)]
        return Started(channels, services, when_running=lambda: warm_encoder(live), knowledge=live)

    def offices() -> set[str]:
        return set(loaded[0].snapshot.knowledge.offices) if loaded else set()

    def knowledge() -> LiveKnowledge | None:
        return loaded[0] if loaded else None

    extensions = backoffice_extensions(settings, storage, offices)
    if storage.engine is not None:
        from bot.web.staff.app import staff_extension

        extensions = [*extensions, *staff_extension(storage.engine, settings, knowledge, city_clock(settings))]
    await serve(settings, load_and_keep, assemble, storage=storage, metrics=metrics, extensions=extensions, stop=stop)


async def run_worker(settings: Settings, engine: Engine, clock: Callable[[], dt.datetime], stop: asyncio.Event | None = None) -> None:
    """`buergerbot worker`: deliver reminders through the channels that can do so from another
    process (bot.channels.registry: ``delivery_only``), with /healthz, /readyz and /metrics on
    the operations port, until SIGTERM/SIGINT or ``stop``."""
    from bot.core.knowledge import load_knowledge
    from bot.ops.metrics import Metrics
    from bot.runtime import Started, serve

    metrics = Metrics()
    metrics.declare(settings, messages=False)

    def load() -> KnowledgeBase:
        install_catalogues(settings)  # the notices' sentences
        loaded = load_knowledge(settings.knowledge_dirs, settings.languages)
        if not loaded.ok:
            raise RuntimeError("knowledge files have errors; run `buergerbot faq validate`")
        return loaded.knowledge

    def assemble(knowledge: KnowledgeBase) -> Started:
        channels = delivery_channels(settings, engine, metrics)
        book = reminder_book(settings, engine, clock)
        service = reminder_service(settings, book, _deliverers(channels), notice_renderer(lambda: knowledge, clock), clock, metrics.reminder_event)
        return Started(channels, [service])

    await serve(settings, load, assemble, engine=engine, metrics=metrics, stop=stop)
