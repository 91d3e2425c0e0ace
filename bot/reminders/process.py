"""Putting the reminder parts together: the book the dialogue uses, the service that delivers,
and ``buergerbot worker``, a process that only delivers reminders (run several against PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bot.blocking import run_blocking
from bot.config import Settings, city_clock
from bot.core.knowledge import KnowledgeBase, load_knowledge
from bot.core.models import Notice, Reply
from bot.core.notices import render_notice
from bot.core.ports import Deliverer
from bot.credentials import secret
from bot.reminders.link_keys import link_signer
from bot.reminders.planning import ReminderPolicy
from bot.reminders.service import ReminderService
from bot.reminders.tokens import TokenSigner
from bot.reminders.waste import WasteCalendar, load_calendars
from bot.reminders.worker import Observe, ReminderWorker
from bot.storage.reminder_book import SqlReminderBook

if TYPE_CHECKING:
    from bot.app import Storage
    from bot.core.live import LiveKnowledge
    from bot.ops.metrics import Metrics
    from bot.web.server import Extension

log = logging.getLogger(__name__)


def chat_link_signer(settings: Settings, clock: Callable[[], dt.datetime]) -> TokenSigner | None:
    """The signer for links citizens redeem; None where no keys are configured (links then fail politely)."""
    if not secret(settings.reminders.link_keys_env):
        return None
    return link_signer(settings, lambda: clock().astimezone(dt.UTC))


class CalendarFolder:
    """The waste calendars, read again when a file in the folder changes."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._seen: tuple[tuple[str, int], ...] | None = None
        self._calendar = WasteCalendar()

    def __call__(self) -> WasteCalendar:
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self._folder.glob("*.ics"))) if self._folder.is_dir() else ()
        if stamp != self._seen:
            self._calendar = load_calendars(self._folder)
            self._seen = stamp
        return self._calendar


def reminder_book(settings: Settings, engine: Engine, clock: Callable[[], dt.datetime]) -> SqlReminderBook:
    policy = ReminderPolicy.from_config(settings.reminders, settings.timezone)
    return SqlReminderBook(engine, policy, clock, signer=chat_link_signer(settings, clock), calendar=CalendarFolder(settings.reminders.waste_dir))


def notice_renderer(knowledge: Callable[[], KnowledgeBase], clock: Callable[[], dt.datetime]) -> Callable[[Notice], Reply]:
    return lambda notice: render_notice(notice, knowledge(), clock())


def reminder_service(
    settings: Settings, book: SqlReminderBook, deliverers: Mapping[tuple[str, str], Deliverer], render: Callable[[Notice], Reply],
    clock: Callable[[], dt.datetime], observe: Observe | None = None,
) -> ReminderService:
    """The delivery jobs over the same database, policy and calendars as ``book``."""
    r = settings.reminders
    worker = ReminderWorker(book.engine, deliverers, render, book.policy, clock, batch_size=r.batch_size, lease_seconds=r.lease_seconds, observe=observe)
    return ReminderService(worker, clock, poll_seconds=r.poll_seconds, top_up=book.top_up_waste)


async def run_worker(settings: Settings, engine: Engine, clock: Callable[[], dt.datetime]) -> None:
    """Deliver Telegram reminders until SIGTERM, with /healthz, /readyz and /metrics on the
    operations port. Matrix reminders go out from the process that syncs the Matrix account
    (`buergerbot run`): an encrypted room needs that session's keys."""
    from bot.channels.telegram import TelegramChannel, TelegramSettings
    from bot.channels.telegram_limits import share_flood_limits
    from bot.ops.metrics import Metrics
    from bot.storage.database import schema_problem
    from bot.web.server import HttpServer, create_app

    loaded = load_knowledge(settings.knowledge_dirs, settings.languages)
    if not loaded.ok:
        raise RuntimeError("knowledge files have errors; run `buergerbot faq validate`")
    knowledge = loaded.knowledge
    share_flood_limits(engine, settings.redis_url)  # one budget per token with the bot and the other workers
    channels = [TelegramChannel(TelegramSettings.from_profile(p), lambda msg: []) for p in settings.profiles if p.telegram]
    for channel in channels:
        await channel.open_for_delivery()
    metrics = Metrics()
    metrics.declare(settings, messages=False)
    book = reminder_book(settings, engine, clock)
    service = reminder_service(settings, book, {c.address: c for c in channels}, notice_renderer(lambda: knowledge, clock), clock, metrics.reminder_event)

    async def database() -> str | None:
        return await run_blocking(schema_problem, engine)

    http = HttpServer(create_app(metrics, {"database": database}), settings.http.listen, settings.http.port) if settings.http.enabled else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if http is not None:
        await http.start()
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()
        for channel in channels:
            with contextlib.suppress(Exception):
                await channel.app.shutdown()
        if http is not None:
            await http.stop()


def reminder_parts(
    settings: Settings, live: LiveKnowledge, storage: Storage, channels: Sequence[object], metrics: Metrics,
) -> tuple[list[ReminderService], list[Extension]]:
    """For `buergerbot run`: the reminder scheduler, delivering through this process's channels, and
    with back-office clients configured the back-office API on the operations server."""
    def offices() -> set[str]:
        return set(live.snapshot.knowledge.offices)

    return reminder_services(settings, live, storage, channels, metrics), backoffice_extensions(settings, storage, offices)


def reminder_services(settings: Settings, live: LiveKnowledge, storage: Storage, channels: Sequence[object], metrics: Metrics) -> list[ReminderService]:
    """The reminder scheduler, delivering through ``channels`` (none with storage kept in memory)."""
    book = storage.book
    if storage.engine is None or not isinstance(book, SqlReminderBook):
        return []  # storage kept in memory: nothing to deliver from
    clock = city_clock(settings)
    deliverers = {channel.address: channel for channel in channels if isinstance(channel, Deliverer)}
    return [reminder_service(settings, book, deliverers, notice_renderer(lambda: live.snapshot.knowledge, clock), clock, metrics.reminder_event)]


def backoffice_extensions(settings: Settings, storage: Storage, known_offices: Callable[[], Collection[str]]) -> list[Extension]:
    """The back-office API on the operations server when clients are configured (and a database is)."""
    from bot.web.backoffice import install_backoffice

    if storage.engine is None or not isinstance(storage.book, SqlReminderBook) or not settings.backoffice_clients:
        return []
    return [partial(install_backoffice, storage.engine, settings, known_offices, city_clock(settings))]
