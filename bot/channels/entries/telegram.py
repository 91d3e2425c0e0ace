"""Telegram as a registry entry: a profile's ``[profiles.telegram]`` section, its bot token (and
webhook secret), ``t.me`` deep links, and the adapter (bot.channels.telegram) built for a profile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from bot.channels.registry import Channel, ChannelKind, DeepLink, Wanted
from bot.config import ProfileConfig, Settings, TelegramConfig
from bot.credentials import MissingSecret, secret
from bot.storage.stores import Storage

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel, TelegramSettings
    from bot.core.models import Reply


@dataclass(frozen=True)
class TelegramSecrets:
    token: str
    webhook_secret: str | None  # set exactly when the profile uses a webhook


def telegram_secrets(profile: ProfileConfig, section: TelegramConfig) -> TelegramSecrets:
    token = secret(section.token_env)
    if not token:
        raise MissingSecret(f"profile {profile.name}: telegram token missing (set {section.token_env})")
    webhook_secret = secret(section.webhook_secret_env) if section.webhook_url else None
    if section.webhook_url and not webhook_secret:
        raise MissingSecret(f"profile {profile.name}: webhook secret missing (set {section.webhook_secret_env}; webhook_url is set)")
    return TelegramSecrets(token, webhook_secret)


def telegram_settings(profile: ProfileConfig, section: TelegramConfig) -> TelegramSettings:
    """The adapter's settings for a configured profile; raises MissingSecret without its token."""
    from bot.channels.telegram import TelegramSettings

    secrets = telegram_secrets(profile, section)
    return TelegramSettings(token=secrets.token, profile=profile.name, base_url=section.base_url, webhook_url=section.webhook_url,
                            webhook_secret=secrets.webhook_secret, listen=section.listen, port=section.port, url_path=section.url_path,
                            overall_per_second=section.overall_per_second, per_chat_per_second=section.per_chat_per_second,
                            language=profile.default_language)


class TelegramLink(DeepLink):
    channel: Literal["telegram"] = "telegram"
    url: str = Field(description="https://t.me/<bot>?start=<token>: opening it links the chat")

    def instruction(self) -> str:
        return self.url


class TelegramKind(ChannelKind):
    name = "telegram"
    config_model = TelegramConfig
    delivers_reminders = True
    link_model = TelegramLink

    def secret_names(self, profile: ProfileConfig, section: TelegramConfig) -> Sequence[str]:
        return [section.token_env, *([section.webhook_secret_env] if section.webhook_url else [])]

    def read_secrets(self, profile: ProfileConfig, section: TelegramConfig) -> TelegramSecrets:
        return telegram_secrets(profile, section)

    def deep_link(self, profile: ProfileConfig, section: TelegramConfig, token: str) -> DeepLink | None:
        if not section.username:
            return None  # without the bot's @name there is no t.me link
        return TelegramLink(profile=profile.name, url=f"https://t.me/{section.username.lstrip('@')}?start={token}")

    def prepare(self, settings: Settings, storage: Storage) -> None:
        from bot.channels.telegram_limits import share_flood_limits

        share_flood_limits(storage.engine, settings.redis_url)  # one budget per token with the other processes

    def build(self, wanted: Wanted) -> Sequence[Channel]:
        from bot.channels.telegram import TelegramChannel

        assert wanted.profile is not None
        seen = None
        if wanted.context.storage.engine is not None:
            from bot.storage.telegram_updates import SqlSeenUpdates

            seen = SqlSeenUpdates(wanted.context.storage.engine)
        return [TelegramChannel(telegram_settings(wanted.profile, wanted.section), wanted.context.handle, seen)]

    def delivery_only(self, wanted: Wanted) -> Sequence[Channel]:
        from bot.channels.telegram import TelegramChannel

        assert wanted.profile is not None
        return [DeliveryOnly(TelegramChannel(telegram_settings(wanted.profile, wanted.section), lambda incoming: []))]


class DeliveryOnly:
    """A Telegram channel that sends reminders and takes no updates: the chats are answered by
    `buergerbot run`, and two pollers of one token would take each other's updates."""

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel
        self.idempotent = channel.idempotent

    @property
    def address(self) -> tuple[str, str]:
        return self.channel.address

    async def start(self) -> None:
        await self.channel.open_for_delivery()

    async def stop(self) -> None:
        await self.channel.stop()

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None:
        await self.channel.deliver(chat_id, reply, key)


CHANNEL = TelegramKind()
