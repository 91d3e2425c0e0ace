"""Staff dashboard accounts and sessions in the database.

Passwords are kept only as argon2id hashes (argon2-cffi, its recommended parameters). Session ids
are random (256 bits) and stored as their SHA-256: the id is the secret, so a leaked table holds
nothing that signs anyone in, and a fast hash suffices for a random value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.database import as_utc
from bot.storage.tables import StaffAccountRow, StaffSessionRow

Role = Literal["editor", "viewer"]
ROLES: tuple[Role, ...] = ("editor", "viewer")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a bound keeps one request from hashing megabytes


class AccountError(ValueError):
    """A name, role or password that cannot be used, or an account that exists already."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: dt.datetime


@dataclass(frozen=True)
class Session:
    account: Account
    expires_at: dt.datetime


def name_problem(name: str) -> str | None:
    if NAME_RE.match(name):
        return None
    return f"{name!r} is not a valid account name: 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"the password needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password must not be longer than {MAX_PASSWORD} characters"
    return None


def _role(stored: str) -> Role:
    """A stored role; anything but "editor" (a row edited by hand) reads as the lesser one."""
    return "editor" if stored == "editor" else "viewer"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class StaffAccounts:
    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
        # Verified against when the name is unknown, so the time taken does not tell which names exist.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def add(self, name: str, password: str, role: str, now: dt.datetime) -> Account:
        problem = name_problem(name) or password_problem(password) or (None if role in ROLES else f"role must be one of {', '.join(ROLES)}")
        if problem:
            raise AccountError(problem)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(StaffAccountRow).values(name=name, password_hash=self._hasher.hash(password), role=role,
                                                            created_at=as_utc(now)))
        except IntegrityError:
            raise AccountError(f"an account {name!r} exists already") from None
        return Account(name, _role(role), as_utc(now))

    def remove(self, name: str) -> bool:
        """Delete the account and sign it out everywhere; False when there was none."""
        with self._engine.begin() as conn:
            conn.execute(delete(StaffSessionRow).where(StaffSessionRow.account == name))  # SQLite does not cascade by default
            return bool(conn.execute(delete(StaffAccountRow).where(StaffAccountRow.name == name)).rowcount)

    def accounts(self) -> list[Account]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(StaffAccountRow.name, StaffAccountRow.role, StaffAccountRow.created_at).order_by(StaffAccountRow.name)).all()
        return [Account(name, _role(role), as_utc(created)) for name, role, created in rows]

    def verify(self, name: str, password: str) -> Account | None:
        """The account when the password is right, else None (slow on purpose: argon2)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(StaffAccountRow.password_hash, StaffAccountRow.role, StaffAccountRow.created_at)
                               .where(StaffAccountRow.name == name)).one_or_none()
        stored = row.password_hash if row is not None else self._decoy
        try:
            self._hasher.verify(stored, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):  # parameters raised since it was set: re-hash while the password is at hand
            with self._engine.begin() as conn:
                conn.execute(update(StaffAccountRow).where(StaffAccountRow.name == name).values(password_hash=self._hasher.hash(password)))
        return Account(name, _role(row.role), as_utc(row.created_at))

    def start_session(self, account: Account, now: dt.datetime, lifetime: dt.timedelta) -> str:
        """A new session's id (for the cookie); only its hash is stored. Expired sessions are cleared on the way."""
        session_id = secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(delete(StaffSessionRow).where(StaffSessionRow.expires_at <= as_utc(now)))
            conn.execute(insert(StaffSessionRow).values(id_hash=_digest(session_id), account=account.name, created_at=as_utc(now),
                                                        expires_at=as_utc(now + lifetime)))
        return session_id

    def session(self, session_id: str, now: dt.datetime, idle: dt.timedelta, lifetime: dt.timedelta) -> Session | None:
        """The live session with this id, its expiry moved ``idle`` on (never past ``lifetime`` from sign-in)."""
        s, a = StaffSessionRow, StaffAccountRow
        with self._engine.begin() as conn:
            row = conn.execute(select(s.created_at, s.expires_at, a.name, a.role, a.created_at).join(a, a.name == s.account)
                               .where(s.id_hash == _digest(session_id))).one_or_none()
            if row is None or as_utc(row[1]) <= as_utc(now):
                return None
            expires = min(as_utc(now) + idle, as_utc(row[0]) + lifetime)
            if expires - as_utc(row[1]) > dt.timedelta(minutes=1):  # not a write on every page view
                conn.execute(update(s).where(s.id_hash == _digest(session_id)).values(expires_at=expires))
            else:
                expires = as_utc(row[1])
        return Session(Account(row[2], _role(row[3]), as_utc(row[4])), expires)

    def end_session(self, session_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(StaffSessionRow).where(StaffSessionRow.id_hash == _digest(session_id)))
