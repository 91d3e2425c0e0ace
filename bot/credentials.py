"""Secrets, read from the environment variables the configuration names (never from the file),
or from a file whose path is in ``<NAME>_FILE`` (Docker and Kubernetes secrets).

Every secret is read through :func:`secret`: the chat channels declare theirs in the channel
registry (bot.channels.registry), the reminders their link keys (bot.reminders.link_keys), and
`buergerbot config check` reads them all (bot.ops.config_check.check_secrets), so a clean check
means the bot will not stop at start-up for a missing secret. Every value read is registered with the log
filter (bot.ops.logs), so no log line shows it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot.ops.logs import register_secret

if TYPE_CHECKING:  # annotations only: bot.config loads the channel registry, which reads its secrets here
    from bot.config import BackofficeClient, Settings


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


def backoffice_token(client: BackofficeClient) -> str:
    token = secret(client.token_env)
    if not token:
        raise MissingSecret(f"back-office client {client.name}: bearer token missing (set {client.token_env})")
    return token


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
