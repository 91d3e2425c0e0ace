"""Running the bot: every configured profile's channels in one process, over one live knowledge.

Start order: the HTTP server (so /healthz answers and /readyz says "starting"), the knowledge
(loaded or trained in a thread), the channels, then background services (the reminder scheduler
sends through the channels). On SIGTERM or SIGINT /readyz turns 503 "draining" at once, the
services stop, the channels stop taking updates and finish the replies in flight, and the HTTP
server goes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar, cast

from aiohttp import web
from sqlalchemy import Engine

from bot.app import Storage, build_dialogue
from bot.config import Settings, StaffConfig
from bot.core.live import LiveKnowledge
from bot.credentials import matrix_secrets
from bot.ops.metrics import Handle, Metrics
from bot.storage.database import schema_problem
from bot.storage.retention import purge
from bot.web.idempotency import purge_idempotency_keys
from bot.web.server import Check, Extension, HttpServer, create_app

log = logging.getLogger(__name__)
PURGE_SECONDS = 3600.0  # expired data is deleted at most this often
IDEMPOTENCY_KEEP = dt.timedelta(days=30)  # a back-office retry comes within minutes; a month is plenty
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
T = TypeVar("T")


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
    if any(p.telegram for p in settings.profiles):
        from bot.channels.telegram_limits import share_flood_limits

        share_flood_limits(storage.engine, settings.redis_url)  # one budget per token with the reminder workers
    web_handles: dict[str, Handle] = {}
    for profile in settings.profiles:
        counted = replace(storage, unanswered=metrics.count_unanswered(storage.unanswered, profile.name))
        handle = metrics.observe(build_dialogue(settings, live, counted, profile).handle, profile.name)
        if profile.telegram is not None:
            from bot.channels.telegram import TelegramChannel, TelegramSettings

            seen = None
            if storage.engine is not None:
                from bot.storage.telegram_updates import SqlSeenUpdates

                seen = SqlSeenUpdates(storage.engine)
            channels.append(TelegramChannel(TelegramSettings.from_profile(profile), handle, seen))
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
            web_handles[profile.name] = metrics.observe(build_dialogue(settings, live, replace(counted, book=None, handover=None), profile).handle, profile.name)
    if web_handles:  # one public listener for every profile on the web
        from bot.channels.web.channel import build_web_channel

        channels.append(build_web_channel(settings, web_handles))
    return channels


@dataclass
class _Phase:
    name: str = "starting"  # → "running" → "draining"
    live: LiveKnowledge | None = None  # set once the knowledge is loaded


def readiness_checks(live: LiveKnowledge | None, storage: Storage | None, phase: _Phase) -> dict[str, Check]:
    async def knowledge() -> str | None:
        current = phase.live or live
        if current is None:
            return "loading"
        return None if current.snapshot.knowledge.entries else "no entries loaded"

    async def database() -> str | None:
        if storage is None or storage.engine is None:
            return None  # in-memory storage: nothing to reach
        return await asyncio.to_thread(schema_problem, storage.engine)

    async def channels() -> str | None:
        return None if phase.name == "running" else phase.name

    return {"knowledge": knowledge, "database": database, "channels": channels}


def _starting_gate(phase: _Phase) -> Extension:
    """Routes beyond the operations endpoints (the back-office API) answer 503 "starting" until
    the knowledge they need is loaded, rather than answering from none."""

    def install(app: web.Application) -> None:
        @web.middleware
        async def gate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
            if phase.name == "starting" and request.path not in OPERATIONS_PATHS:
                return web.json_response({"status": "starting"}, status=503, headers={"Retry-After": "5"})
            return await handler(request)

        app.middlewares.append(gate)

    return install


@dataclass(frozen=True)
class Started:
    """What :func:`serve` runs once the knowledge is loaded."""

    channels: Sequence[Channel] = ()
    services: Sequence[Service] = ()
    # Called once all of them run: work that would only slow the start down (a model to warm up).
    when_running: Callable[[], object] | None = None


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
    """:func:`serve` for knowledge that is already loaded and channels already built."""
    await serve(settings, lambda: live, lambda _: Started(channels, services), storage=storage, metrics=metrics, extensions=extensions, stop=stop)


async def serve(
    settings: Settings,
    load: Callable[[], LiveKnowledge],
    assemble: Callable[[LiveKnowledge], Started],
    *,
    storage: Storage | None = None,
    metrics: Metrics | None = None,
    extensions: Sequence[Extension] = (),
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or until ``stop`` is set), then shut down in order.

    The HTTP server comes first, so /healthz answers and /readyz says "starting" while ``load``
    (in a thread: it may train the matcher for many seconds) reads the knowledge; ``assemble``
    then builds the channels and services over it. /readyz says 200 once every one has started.
    """
    stop = stop or asyncio.Event()
    metrics = metrics or Metrics()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    phase = _Phase()
    http = None
    if settings.http.enabled:
        app = create_app(metrics, readiness_checks(None, storage, phase), [_starting_gate(phase), *extensions],
                         phase=lambda: None if phase.name == "running" else phase.name)
        http = HttpServer(app, settings.http.listen, settings.http.port)
    running: list[Service] = []
    reload_task: asyncio.Task[None] | None = None
    purge_task: asyncio.Task[None] | None = None
    try:
        if http is not None:
            await http.start()
        log.info("loading the knowledge from %s (training the matcher takes a while unless a stored one fits)",
                 ", ".join(map(str, settings.knowledge_dirs)))
        began = time.monotonic()
        loading = _in_daemon_thread(load)
        stopping: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
        await asyncio.wait([cast("asyncio.Future[object]", loading), stopping], return_when=asyncio.FIRST_COMPLETED)
        if not loading.done():  # stopped while loading: the daemon thread dies with the process, nothing else started
            stopping.cancel()
            log.info("stopped while loading the knowledge")
            return
        stopping.cancel()
        live = phase.live = loading.result()
        log.info("knowledge loaded: %d entries in %.1f s", len(live.snapshot.knowledge.entries), time.monotonic() - began)
        started = assemble(live)
        for service in [*started.channels, *started.services]:
            await service.start()
            running.append(service)
        reload_task = asyncio.create_task(_reload_loop(live, settings.reload_seconds, metrics))
        if storage is not None and storage.engine is not None:
            purge_task = asyncio.create_task(purge_loop(storage.engine, settings.staff, stop))
        phase.name = "running"
        log.info("running: %d channels, %d services", len(started.channels), len(started.services))
        if started.when_running is not None:
            started.when_running()
        await stop.wait()
        log.info("stopping: finishing replies in flight")
    finally:
        phase.name = "draining"
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


def _in_daemon_thread(func: Callable[[], T]) -> asyncio.Future[T]:
    """``func()`` in a daemon thread: unlike ``asyncio.to_thread``, a SIGTERM while the matcher
    trains ends the process at once instead of waiting for the training to finish."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = func(), None
        except BaseException as exc:  # handed to the waiting coroutine, raised there
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="start-up", daemon=True).start()
    return future


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
