"""Running the bot: every configured profile's channels in one process, over one live knowledge.

Start order: the HTTP server (so /healthz answers and /readyz says "starting"), the channels,
then background services (the reminder scheduler sends through the channels). On SIGTERM or
SIGINT /readyz turns not-ready at once, the services stop, the channels stop taking updates and
finish the replies in flight, and the HTTP server goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import Engine

from bot.app import Storage, build_dialogue
from bot.config import Settings, StaffConfig
from bot.core.live import LiveKnowledge
from bot.credentials import matrix_secrets
from bot.ops.metrics import Handle, Metrics
from bot.storage.database import ping
from bot.storage.retention import purge
from bot.web.idempotency import purge_idempotency_keys
from bot.web.server import Check, Extension, HttpServer, create_app

log = logging.getLogger(__name__)
PURGE_SECONDS = 3600.0  # expired data is deleted at most this often
IDEMPOTENCY_KEEP = dt.timedelta(days=30)  # a back-office retry comes within minutes; a month is plenty


class Service(Protocol):
    """Anything the runtime starts and stops: a chat channel, the reminder scheduler, …"""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


Channel = Service


def build_channels(settings: Settings, live: LiveKnowledge, storage: Storage, metrics: Metrics | None = None) -> list[Channel]:
    """One channel per configured Telegram or Matrix account, and the web chat for the profiles on the web; raises MissingSecret (bot.credentials)."""
    metrics = metrics or Metrics()
    metrics.declare(settings)
    channels: list[Channel] = []
    web_handles: dict[str, Handle] = {}
    for profile in settings.profiles:
        counted = replace(storage, unanswered=metrics.count_unanswered(storage.unanswered, profile.name))
        handle = metrics.observe(build_dialogue(settings, live, counted, profile).handle, profile.name)
        if profile.telegram is not None:
            from bot.channels.telegram import TelegramChannel, TelegramSettings

            channels.append(TelegramChannel(TelegramSettings.from_profile(profile), handle))
        if profile.matrix is not None:
            from bot.channels.matrix import MatrixChannel, MatrixSettings

            m = profile.matrix
            ms = matrix_secrets(profile, m)
            channels.append(MatrixChannel(
                MatrixSettings(homeserver=m.homeserver, user_id=m.user_id, store_dir=settings.data_dir / "matrix" / profile.name,
                               password=ms.password, access_token=ms.access_token, device_name=m.device_name, profile=profile.name,
                               allowed_servers=tuple(m.allowed_servers), command_prefix=m.command_prefix, encryption=m.encryption),
                handle,
            ))
        if profile.web:
            # A web session lasts as long as its browser tab, so nothing could ever deliver a
            # reminder to it: this dialogue says reminders are not available here.
            web_handles[profile.name] = metrics.observe(build_dialogue(settings, live, replace(counted, book=None), profile).handle, profile.name)
    if web_handles:  # one public listener for every profile on the web
        from bot.channels.web.channel import build_web_channel

        channels.append(build_web_channel(settings, web_handles))
    return channels


@dataclass
class _Phase:
    name: str = "starting"  # → "running" → "stopping"


def readiness_checks(live: LiveKnowledge, storage: Storage | None, phase: _Phase) -> dict[str, Check]:
    async def knowledge() -> str | None:
        return None if live.snapshot.knowledge.entries else "no entries loaded"

    async def database() -> str | None:
        if storage is None or storage.engine is None:
            return None  # in-memory storage: nothing to reach
        await asyncio.to_thread(ping, storage.engine)
        return None

    async def channels() -> str | None:
        return None if phase.name == "running" else phase.name

    return {"knowledge": knowledge, "database": database, "channels": channels}


async def run_channels(
    settings: Settings,
    live: LiveKnowledge,
    channels: Sequence[Channel],
    *,
    storage: Storage | None = None,
    services: Sequence[Service] = (),
    metrics: Metrics | None = None,
    extensions: Sequence[Extension] = (),
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or until ``stop`` is set), then shut down in order."""
    stop = stop or asyncio.Event()
    metrics = metrics or Metrics()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    phase = _Phase()
    http = None
    if settings.http.enabled:
        app = create_app(metrics, readiness_checks(live, storage, phase), extensions)
        http = HttpServer(app, settings.http.listen, settings.http.port)
    running: list[Service] = []
    reload_task: asyncio.Task[None] | None = None
    purge_task: asyncio.Task[None] | None = None
    try:
        if http is not None:
            await http.start()
        for service in [*channels, *services]:
            await service.start()
            running.append(service)
        reload_task = asyncio.create_task(_reload_loop(live, settings.reload_seconds, metrics))
        if storage is not None and storage.engine is not None:
            purge_task = asyncio.create_task(purge_loop(storage.engine, settings.staff, stop))
        phase.name = "running"
        log.info("running: %d channels, %d services", len(channels), len(services))
        await stop.wait()
        log.info("stopping: finishing replies in flight")
    finally:
        phase.name = "stopping"
        for task in (reload_task, purge_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Services first (the scheduler sends through the channels), then the channels.
        for service in reversed(running):
            await _stop(service)
        if http is not None:
            await http.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
    log.info("stopped")


async def _stop(service: Service) -> None:
    try:
        await service.stop()
    except Exception:  # one failing stop must not keep the others from finishing their work
        log.exception("stopping %s failed", type(service).__name__)


async def _reload_loop(live: LiveKnowledge, every: float, metrics: Metrics) -> None:
    metrics.knowledge_entries.set(len(live.snapshot.knowledge.entries))
    while True:
        await asyncio.sleep(every)
        failures = live.failed_reloads
        try:
            reloaded = await asyncio.to_thread(live.refresh)
        except Exception:  # a reload must never take the bot down; the old knowledge stays live
            log.exception("knowledge reload failed")
            metrics.knowledge_reload_errors.inc()
            continue
        if reloaded:
            metrics.knowledge_reloads.inc()
            metrics.knowledge_entries.set(len(live.snapshot.knowledge.entries))
        elif live.failed_reloads > failures:
            metrics.knowledge_reload_errors.inc()


async def purge_loop(engine: Engine, staff: StaffConfig, stop: asyncio.Event, every: float = PURGE_SECONDS) -> None:
    """Delete data past its retention at start, then every hour: unanswered questions and usage
    events (staff settings) and back-office idempotency keys."""
    while not stop.is_set():
        now = dt.datetime.now(dt.UTC)
        try:
            purged = await asyncio.to_thread(purge, engine, now, staff.unanswered_retention_days, staff.usage_retention_days)
            keys = await asyncio.to_thread(purge_idempotency_keys, engine, now - IDEMPOTENCY_KEEP)
            if purged.unanswered or purged.usage or keys:
                log.info("deleted %d unanswered questions, %d usage events and %d idempotency keys past their retention", purged.unanswered, purged.usage, keys)
        except Exception:  # the database may be away for a moment; the next round catches up
            log.exception("deleting expired data failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
