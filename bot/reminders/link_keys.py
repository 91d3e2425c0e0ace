"""The deep-link token signer, over the keys bot.credentials reads from the environment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.config import Settings
from bot.credentials import MissingSecret, link_keys
from bot.reminders.tokens import TokenSigner


def link_signer(settings: Settings, now: Callable[[], dt.datetime] | None = None) -> TokenSigner:
    """A signer over the configured keys (newest first); MissingSecret when they are unset or unusable."""
    keys = link_keys(settings)
    try:
        return TokenSigner(keys, now=now)
    except ValueError as exc:
        raise MissingSecret(f"reminders: {settings.reminders.link_keys_env}: {exc}") from None
