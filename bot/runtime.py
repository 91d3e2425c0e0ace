"""Running the bot: every configured profile's channels in one process, over one live knowledge."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from bot.app import Storage, build_dialogue
from bot.config import ProfileConfig, Settings, StaffConfig
from bot.core.live import LiveKnowledge
from bot.storage.retention import purge

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramSettings

log = logging.getLogger(__name__)

PURGE_SECONDS = 3600.0  # expired staff data is deleted at most this often


class Channel(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class MissingSecret(Exception):
    pass


def secret(name: str | None) -> str | None:
    return os.environ.get(name) if name else None


def telegram_settings(profile: ProfileConfig) -> TelegramSettings:
    from bot.channels.telegram import TelegramSettings

    t = profile.telegram
    assert t is not None
    token = secret(t.token_env)
    if not token:
        raise MissingSecret(f"profile {profile.name}: telegram token missing (set {t.token_env})")
    webhook_secret = secret(t.webhook_secret_env) if t.webhook_url else None
    if t.webhook_url and not webhook_secret:
        raise MissingSecret(f"profile {profile.name}: webhook secret missing (set {t.webhook_secret_env})")
    return TelegramSettings(token=token, profile=profile.name, base_url=t.base_url, webhook_url=t.webhook_url,
                            webhook_secret=webhook_secret, listen=t.listen, port=t.port, url_path=t.url_path,
                            overall_per_second=t.overall_per_second, per_chat_per_second=t.per_chat_per_second)


def build_channels(settings: Settings, live: LiveKnowledge, storage: Storage) -> list[Channel]:
    channels: list[Channel] = []
    for profile in settings.profiles:
        dialogue = build_dialogue(settings, live, storage, profile)
        if profile.telegram is not None:
            from bot.channels.telegram import TelegramChannel

            channels.append(TelegramChannel(telegram_settings(profile), dialogue.handle))
        if profile.matrix is not None:
            from bot.channels.matrix import MatrixChannel, MatrixSettings

            m = profile.matrix
            password, token = secret(m.password_env), secret(m.access_token_env)
            if not password and not token:
                raise MissingSecret(f"profile {profile.name}: matrix password or access token missing (set {m.password_env} or {m.access_token_env})")
            channels.append(MatrixChannel(
                MatrixSettings(homeserver=m.homeserver, user_id=m.user_id, store_dir=settings.data_dir / "matrix" / profile.name,
                               password=password, access_token=token, device_name=m.device_name, profile=profile.name,
                               allowed_servers=tuple(m.allowed_servers), command_prefix=m.command_prefix, encryption=m.encryption),
                dialogue.handle,
            ))
    return channels


async def run_channels(settings: Settings, live: LiveKnowledge, channels: list[Channel], storage: Storage | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Channel] = []
    try:
        for channel in channels:
            await channel.start()
            started.append(channel)
        tasks = [asyncio.create_task(_reload_loop(live, settings.reload_seconds, stop))]
        if storage is not None and storage.engine is not None:
            tasks.append(asyncio.create_task(purge_loop(storage.engine, settings.staff, stop)))
        await stop.wait()
        for task in tasks:
            task.cancel()
        log.info("stopping: finishing replies in flight")
    finally:
        for channel in reversed(started):
            await channel.stop()


async def _reload_loop(live: LiveKnowledge, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(every)
        try:
            await asyncio.to_thread(live.refresh)
        except Exception:  # a reload must never take the bot down; the old knowledge stays live
            log.exception("knowledge reload failed")


async def purge_loop(engine: Engine, staff: StaffConfig, stop: asyncio.Event, every: float = PURGE_SECONDS) -> None:
    """Delete unanswered questions and usage events past their retention: at start, then every hour."""
    while not stop.is_set():
        try:
            purged = await asyncio.to_thread(purge, engine, dt.datetime.now(dt.UTC), staff.unanswered_retention_days, staff.usage_retention_days)
            if purged.unanswered or purged.usage:
                log.info("deleted %d unanswered questions and %d usage events past their retention", purged.unanswered, purged.usage)
        except Exception:  # the database may be away for a moment; the next round catches up
            log.exception("deleting expired staff data failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
