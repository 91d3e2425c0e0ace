"""Staff accounts and sessions: hashed passwords, hashed session ids, expiry: on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.storage.staff import AccountError, StaffAccounts
from bot.storage.tables import StaffAccountRow, StaffSessionRow

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(hours=10)
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_an_account_signs_in_only_with_its_password(engine: Engine) -> None:
    accounts = StaffAccounts(engine, FAST)
    accounts.add("m.mustermann", "ein langes passwort", "editor", NOW)
    assert accounts.verify("m.mustermann", "ein langes passwort") is not None
    assert accounts.verify("m.mustermann", "ein langes Passwort") is None
    assert accounts.verify("niemand", "ein langes passwort") is None
    with Session(engine) as s:
        stored = s.scalars(select(StaffAccountRow.password_hash)).one()
    assert stored.startswith("$argon2id$") and "ein langes passwort" not in stored


@pytest.mark.parametrize(("name", "password", "role", "problem"), [
    ("Erika", "ein langes passwort", "editor", "is not a valid account name"),
    ("erika", "zu kurz", "editor", "at least 12 characters"),
    ("erika", "ein langes passwort", "admin", "role must be one of editor, viewer"),
])
def test_unusable_names_passwords_and_roles_are_refused(engine: Engine, name: str, password: str, role: str, problem: str) -> None:
    with pytest.raises(AccountError, match=problem):
        StaffAccounts(engine, FAST).add(name, password, role, NOW)


def test_a_name_is_taken_once(engine: Engine) -> None:
    accounts = StaffAccounts(engine, FAST)
    accounts.add("erika", "ein langes passwort", "viewer", NOW)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("erika", "ein anderes passwort", "editor", NOW)
    assert [(a.name, a.role) for a in accounts.accounts()] == [("erika", "viewer")]


def test_a_password_hashed_with_weaker_parameters_is_rehashed_on_sign_in(engine: Engine) -> None:
    StaffAccounts(engine, FAST).add("erika", "ein langes passwort", "editor", NOW)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert StaffAccounts(engine, stronger).verify("erika", "ein langes passwort") is not None
    with Session(engine) as s:
        assert "m=2048,t=2" in s.scalars(select(StaffAccountRow.password_hash)).one()


def test_sessions_are_stored_hashed_and_expire_when_idle_or_old(engine: Engine) -> None:
    accounts = StaffAccounts(engine, FAST)
    account = accounts.add("erika", "ein langes passwort", "editor", NOW)
    session_id = accounts.start_session(account, NOW, HOUR)
    with Session(engine) as s:
        assert session_id not in s.scalars(select(StaffSessionRow.id_hash)).one()
    assert accounts.session("forged", NOW, HOUR, DAY) is None
    at = NOW
    for _ in range(10):  # used every 55 minutes: alive, until ten hours after signing in
        at += dt.timedelta(minutes=55)
        found = accounts.session(session_id, at, HOUR, DAY)
        assert found is not None and found.account.name == "erika"
    at += dt.timedelta(minutes=55)
    assert at - NOW > DAY and accounts.session(session_id, at, HOUR, DAY) is None
    other = accounts.start_session(account, NOW, HOUR)
    assert accounts.session(other, NOW + 61 * dt.timedelta(minutes=1), HOUR, DAY) is None
    accounts.start_session(account, NOW + 2 * DAY, HOUR)  # signing in clears sessions long expired
    with Session(engine) as s:
        assert len(s.scalars(select(StaffSessionRow.id_hash)).all()) == 1


def test_removing_an_account_ends_its_sessions(engine: Engine) -> None:
    accounts = StaffAccounts(engine, FAST)
    account = accounts.add("erika", "ein langes passwort", "editor", NOW)
    session_id = accounts.start_session(account, NOW, HOUR)
    assert accounts.remove("erika") and not accounts.remove("erika")
    assert accounts.session(session_id, NOW, HOUR, DAY) is None
    with Session(engine) as s:
        assert s.scalars(select(StaffSessionRow.id_hash)).all() == []
