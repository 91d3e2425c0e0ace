"""Running the bot: every configured profile's channels in one process, over one live knowledge.

Start order: the HTTP server (so /healthz answers and /readyz says "starting"), the channels,
then background services (the reminder scheduler sends through the channels). On SIGTERM or
SIGINT /readyz turns not-ready at once, the services stop, the channels stop taking updates and
finish the replies in flight, and the HTTP server goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.app import Storage, build_dialogue
from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.credentials import matrix_secrets, telegram_secrets
from bot.ops.metrics import Metrics
from bot.storage.database import ping
from bot.web.server import Check, Extension, HttpServer, create_app

log = logging.getLogger(__name__)


class Service(Protocol):
    """Anything the runtime starts and stops: a chat channel, the reminder scheduler, …"""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


Channel = Service


def build_channels(settings: Settings, live: LiveKnowledge, storage: Storage, metrics: Metrics | None = None) -> list[Channel]:
    """One channel per configured Telegram or Matrix account; raises MissingSecret (bot.credentials)."""
    metrics = metrics or Metrics()
    channels: list[Channel] = []
    for profile in settings.profiles:
        counted = replace(storage, unanswered=metrics.count_unanswered(storage.unanswered, profile.name))
        handle = metrics.observe(build_dialogue(settings, live, counted, profile).handle, profile.name)
        if profile.telegram is not None:
            from bot.channels.telegram import TelegramChannel, TelegramSettings

            t = profile.telegram
            ts = telegram_secrets(profile, t)
            channels.append(TelegramChannel(
                TelegramSettings(token=ts.token, profile=profile.name, base_url=t.base_url, webhook_url=t.webhook_url,
                                 webhook_secret=ts.webhook_secret, listen=t.listen, port=t.port, url_path=t.url_path),
                handle,
            ))
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
    try:
        if http is not None:
            await http.start()
        for service in [*channels, *services]:
            await service.start()
            running.append(service)
        reload_task = asyncio.create_task(_reload_loop(live, settings.reload_seconds, metrics))
        phase.name = "running"
        log.info("running: %d channels, %d services", len(channels), len(services))
        await stop.wait()
        log.info("stopping: finishing replies in flight")
    finally:
        phase.name = "stopping"
        if reload_task is not None:
            reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reload_task
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
