"""The deep-link token signer, with its keys from the environment variable the config names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.config import MissingSecret, RemindersConfig, secret
from bot.reminders.tokens import TokenSigner


def link_signer(config: RemindersConfig, now: Callable[[], dt.datetime] | None = None) -> TokenSigner:
    """A signer over the comma-separated hex keys in ``config.link_keys_env`` (newest first).

    Raises :class:`MissingSecret` when the variable is unset, empty or not a list of usable keys.
    """
    name = config.link_keys_env
    raw = secret(name) or ""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise MissingSecret(f"reminders: deep-link keys missing (set {name} to comma-separated hex keys, e.g. the output of "
                            "python -c 'import secrets; print(secrets.token_hex(32))')")
    try:
        keys = [bytes.fromhex(part) for part in parts]
    except ValueError:
        raise MissingSecret(f"reminders: {name} must hold comma-separated hexadecimal keys") from None
    try:
        return TokenSigner(keys, now=now)
    except ValueError as exc:
        raise MissingSecret(f"reminders: {name}: {exc}") from None
