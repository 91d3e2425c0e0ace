"""`buergerbot config check`: the effective configuration with secrets masked, and what is wrong with it.

Settings the file or the environment got wrong (unknown keys, bad values) are found when they are
loaded (bot/config.py); this module adds what needs the environment or the knowledge files:
missing secrets (bot/credentials.py), back-office tokens the API would refuse, ids that name no
office, and warnings about secrets others may read and databases the bot does not support.
`buergerbot run` refuses to start on exactly these errors (:func:`check_config`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.channels.registry import used_by
from bot.config import Settings
from bot.core.knowledge import load_knowledge
from bot.credentials import PSEUDONYM_KEY_FILE, MissingSecret, backoffice_token, log_pseudonym_key, secret
from bot.demo import DEMO_NOTICE, uses_demo_knowledge
from bot.handover.wiring import handover_problems
from bot.reminders.link_keys import link_keys

ENV_PREFIX = "BUERGERBOT_"


SUPPORTED_DATABASES = ("sqlite", "postgresql", "postgres")


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)  # `run` refuses to start
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # `run` starts, but someone should look


def effective_lines(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """``dotted.key = value`` lines (TOML values); a ``*_env`` setting shows whether its variable
    is set, never its value; values that come from BUERGERBOT_* variables say so."""
    environ = dict(os.environ) if environ is None else environ
    overrides = {name: name[len(ENV_PREFIX):].lower().replace("__", ".") for name in environ if name.upper().startswith(ENV_PREFIX)}
    lines = []
    for key, value in _flatten(settings.model_dump(mode="json")):
        shown = json.dumps(_masked_url(value) if key == "database_url" else value, ensure_ascii=False)
        remarks = []
        if key.endswith("_env") and isinstance(value, str):
            remarks.append(_secret_state(value))
        plain_key = key.replace("[", ".").replace("]", "")
        remarks += [f"from {name}" for name, path in overrides.items() if plain_key == path or plain_key.startswith(path + ".")]
        lines.append(f"{key} = {shown}" + (f"  # {', '.join(remarks)}" if remarks else ""))
    return lines


def check_config(settings: Settings) -> Findings:
    """Everything that would stop `buergerbot run` or quietly not work, beyond what loading found."""
    from bot.web.backoffice import client_tokens  # aiohttp: only where a check needs it

    report = check_secrets(settings)
    findings = Findings(list(report.errors), list(report.notes), secret_warnings(settings) + database_warnings(settings))
    if not any(e.startswith("back-office client") for e in findings.errors):  # a missing token is named once
        try:
            client_tokens(settings)
        except MissingSecret as exc:
            findings.errors.append(str(exc))
    if any(p.web for p in settings.profiles) and settings.web.listen in ("127.0.0.1", "::1", "localhost") and not settings.web.forwarded_for:
        findings.notes.append("web: the chat listens on a loopback address, so citizens reach it through a reverse proxy; without "
                              "forwarded_for they all share the proxy's address and its ip_messages_per_minute")
    if uses_demo_knowledge(settings.knowledge_dirs):
        findings.warnings.append(DEMO_NOTICE)
    loaded = load_knowledge(settings.knowledge_dirs, settings.languages, settings.knowledge_limits.limits())
    if not loaded.ok:
        findings.errors.append(f"knowledge: {len(loaded.errors)} errors in the knowledge files (buergerbot faq validate lists them)")
        return findings  # the ids below cannot be checked against broken knowledge
    kb = loaded.knowledge
    offices = set(kb.offices)
    findings.errors += [
        f"reminders.office_offsets: {office!r} is not an office in the knowledge files (known: {', '.join(sorted(offices))})"
        for office in settings.reminders.office_offsets
        if office not in offices
    ]
    if settings.phone_office and settings.phone_office not in offices:
        findings.errors.append(f"phone_office: {settings.phone_office!r} is not an office in the knowledge files")
    handover_errors, handover_notes = handover_problems(settings, offices)
    findings.errors += handover_errors
    findings.notes += handover_notes
    for where, popular in [("popular", settings.popular), *((f"profile {p.name}: popular", p.popular or []) for p in settings.profiles)]:
        unknown = [e for e in popular if e not in kb.entries]
        if unknown:
            findings.notes.append(f"{where}: no entry {', '.join(map(repr, unknown))}; the menu leaves them out")
    return findings


def needs_link_keys(settings: Settings) -> bool:
    """Booking links can only be redeemed in a chat that keeps reminders or issued by the back office."""
    return bool(settings.backoffice_clients) or any(kind.delivers_reminders for p in settings.profiles for kind, _ in used_by(p))



@dataclass(frozen=True)
class SecretReport:
    errors: list[str]
    notes: list[str]


def check_secrets(settings: Settings) -> SecretReport:
    """Every secret the configuration needs, checked without keeping any value."""
    reads: list[Callable[[], object]] = []
    for profile in settings.profiles:
        reads += [partial(kind.read_secrets, profile, section) for kind, section in used_by(profile)]
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


def secret_names(settings: Settings) -> list[str]:
    """The environment variables the configuration reads secrets from."""
    names: list[str | None] = [settings.reminders.link_keys_env, settings.log_pseudonym_key_env]
    for profile in settings.profiles:
        names += [name for kind, section in used_by(profile) for name in kind.secret_names(profile, section)]
    names += [client.token_env for client in settings.backoffice_clients]
    if settings.handover.matrix is not None:
        names += [settings.handover.matrix.password_env, settings.handover.matrix.access_token_env]
    return list(dict.fromkeys(n for n in names if n))


def secret_warnings(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """A secret in a file every user of the machine may read, or set twice (``VAR`` and ``VAR_FILE``)."""
    environ = dict(os.environ) if environ is None else environ
    warnings = []
    for name in secret_names(settings):
        path = environ.get(f"{name}_FILE")
        if not path:
            continue
        if environ.get(name):
            warnings.append(f"{name} and {name}_FILE are both set: {name} is used, the file is ignored; unset one")
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # unreadable: an error of its own (check_secrets)
        if mode & stat.S_IROTH:
            warnings.append(f"{name}_FILE: {path} is readable by every user of this machine (chmod o-r {path})")
    return warnings


def database_warnings(settings: Settings) -> list[str]:
    from sqlalchemy.engine import make_url  # SQLAlchemy costs `ask` a tenth of a second to import

    backend = make_url(settings.database_url).get_backend_name()
    if backend in SUPPORTED_DATABASES:
        return []
    return [f"database_url: {backend!r} is not supported (SQLite or PostgreSQL: sqlite:///path/bot.db, postgresql://user@host/db)"]


def _flatten(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list) and value and any(isinstance(v, dict | list) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{key}[{i}]")
    else:
        yield key, value


def _masked_url(url: Any) -> Any:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True) if isinstance(url, str) else url


def _secret_state(name: str) -> str:
    try:
        return "set" if secret(name) else "unset"
    except MissingSecret as exc:  # a *_FILE that cannot be read: say so here, the error list names it too
        return f"unreadable ({exc})"
