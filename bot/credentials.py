"""Secrets, read from the environment variables the configuration names (never from the file),
or from a file whose path is in ``<NAME>_FILE`` (Docker and Kubernetes secrets).

Every secret is read and checked here, once: `buergerbot run` takes the values from these
functions, and `buergerbot config check` reports what they refuse, so a clean check means the
bot will not stop at start-up for a missing secret. Every value read is registered with the log
filter (bot.ops.logs), so no log line shows it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bot.config import BackofficeClient, MatrixConfig, ProfileConfig, Settings, TelegramConfig
from bot.ops.logs import register_secret
from bot.reminders.tokens import MIN_KEY_BYTES


class MissingSecret(Exception):
    """A secret the configuration needs is unset or unusable; the message names the variable."""


def secret(name: str | None) -> str | None:
    """The value of the environment variable ``name``, else the content of the file named in
    ``<name>_FILE`` (one trailing newline dropped); None when unnamed, unset or empty."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value and os.environ.get(f"{name}_FILE"):
        path = os.environ[f"{name}_FILE"]
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read().removesuffix("\n")
        except OSError as exc:
            raise MissingSecret(f"{name}_FILE: cannot read {path} ({exc.strerror})") from None
    register_secret(value)
    return value or None


@dataclass(frozen=True)
class TelegramSecrets:
    token: str
    webhook_secret: str | None  # set exactly when the profile uses a webhook


@dataclass(frozen=True)
class MatrixSecrets:
    password: str | None
    access_token: str | None  # at least one of the two is set


def telegram_secrets(profile: ProfileConfig, t: TelegramConfig) -> TelegramSecrets:
    token = secret(t.token_env)
    if not token:
        raise MissingSecret(f"profile {profile.name}: telegram token missing (set {t.token_env})")
    webhook_secret = secret(t.webhook_secret_env) if t.webhook_url else None
    if t.webhook_url and not webhook_secret:
        raise MissingSecret(f"profile {profile.name}: webhook secret missing (set {t.webhook_secret_env}; webhook_url is set)")
    return TelegramSecrets(token, webhook_secret)


def matrix_secrets(profile: ProfileConfig, m: MatrixConfig) -> MatrixSecrets:
    password, token = secret(m.password_env), secret(m.access_token_env)
    if not password and not token:
        names = " or ".join(n for n in (m.password_env, m.access_token_env) if n) or "password_env or access_token_env in the config"
        raise MissingSecret(f"profile {profile.name}: matrix password or access token missing (set {names})")
    return MatrixSecrets(password, token)


def backoffice_token(client: BackofficeClient) -> str:
    token = secret(client.token_env)
    if not token:
        raise MissingSecret(f"back-office client {client.name}: bearer token missing (set {client.token_env})")
    return token


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


def needs_link_keys(settings: Settings) -> bool:
    """Booking links can only be redeemed in a chat or issued by the back office."""
    return bool(settings.backoffice_clients) or any(p.telegram or p.matrix for p in settings.profiles)


PSEUDONYM_KEY_FILE = "pseudonym.key"


def log_pseudonym_key(settings: Settings, *, keep_in_data_dir: bool = True) -> bytes | None:
    """The key of chat pseudonyms: from the environment, else one kept in ``data_dir``.

    The pseudonyms also find a chat's unanswered questions when the chat asks for them to be
    deleted, so a key that changed with every restart would leave older questions behind. None
    (a random key per process) only where neither exists and the folder cannot be written."""
    value = secret(settings.log_pseudonym_key_env)
    if value:
        return value.encode()
    if not keep_in_data_dir:
        return _stored_pseudonym_key(settings.data_dir / PSEUDONYM_KEY_FILE)
    try:
        return _stored_pseudonym_key(settings.data_dir / PSEUDONYM_KEY_FILE) or _new_pseudonym_key(settings.data_dir)
    except OSError:
        return None


def _stored_pseudonym_key(path: Path) -> bytes | None:
    try:
        return path.read_bytes().strip() or None
    except OSError:
        return None


def _new_pseudonym_key(folder: Path) -> bytes:
    """A new key written where every process of this data folder finds it; of two processes
    starting at once, the first to link its file wins and the other reads that one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PSEUDONYM_KEY_FILE
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".pseudonym-")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, secrets.token_hex(32).encode())
        os.close(handle)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes().strip()


@dataclass(frozen=True)
class SecretReport:
    errors: list[str]
    notes: list[str]


def check_secrets(settings: Settings) -> SecretReport:
    """Every secret the configuration needs, checked without keeping any value."""
    reads: list[Callable[[], object]] = []
    for profile in settings.profiles:
        if profile.telegram is not None:
            reads.append(partial(telegram_secrets, profile, profile.telegram))
        if profile.matrix is not None:
            reads.append(partial(matrix_secrets, profile, profile.matrix))
    reads += [partial(backoffice_token, client) for client in settings.backoffice_clients]
    errors = [problem for read in reads if (problem := _refusal(read))]
    notes: list[str] = []
    problem = _refusal(partial(link_keys, settings))
    if problem and needs_link_keys(settings):
        errors.append(problem)
    elif problem:
        notes.append(f"{problem} (needed once a chat channel or back-office client is configured)")
    problem = _refusal(partial(log_pseudonym_key, settings, keep_in_data_dir=False))
    if problem:
        errors.append(problem)
    elif log_pseudonym_key(settings, keep_in_data_dir=False) is None:
        notes.append(
            f"logs: {settings.log_pseudonym_key_env} unset; the key of chat pseudonyms is kept in {settings.data_dir / PSEUDONYM_KEY_FILE}"
            " (set the variable when processes do not share that folder)"
        )
    return SecretReport(errors, notes)


def _refusal(read: Callable[[], object]) -> str | None:
    try:
        read()
    except MissingSecret as exc:
        return str(exc)
    return None
