"""The keys that sign booking deep links, read as secrets (bot.credentials), and the token signer over them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.config import Settings
from bot.credentials import MissingSecret, secret
from bot.reminders.tokens import MIN_KEY_BYTES, TokenSigner


def link_signer(settings: Settings, now: Callable[[], dt.datetime] | None = None) -> TokenSigner:
    """A signer over the configured keys (newest first); MissingSecret when they are unset or unusable."""
    keys = link_keys(settings)
    try:
        return TokenSigner(keys, now=now)
    except ValueError as exc:
        raise MissingSecret(f"reminders: {settings.reminders.link_keys_env}: {exc}") from None


def parse_link_keys(value: str) -> list[bytes]:
    """Comma-separated hex keys, newest first, each at least MIN_KEY_BYTES long. Raises ValueError."""
    keys: list[bytes] = []
    for n, part in enumerate(value.split(","), 1):
        part = part.strip()
        try:
            key = bytes.fromhex(part)
        except ValueError:
            raise ValueError(f"key {n} is not hexadecimal") from None
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"key {n} has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed (openssl rand -hex {MIN_KEY_BYTES})")
        keys.append(key)
    return keys


def link_keys(settings: Settings) -> list[bytes]:
    """The keys that sign and check booking deep links (see bot/reminders/tokens.py)."""
    name = settings.reminders.link_keys_env
    value = secret(name)
    if not value or not value.replace(",", "").strip():
        raise MissingSecret(f"reminders: link keys missing (set {name} to comma-separated hex keys, e.g. openssl rand -hex {MIN_KEY_BYTES})")
    try:
        return parse_link_keys(value)
    except ValueError as exc:
        raise MissingSecret(f"reminders: {name}: {exc}") from None
