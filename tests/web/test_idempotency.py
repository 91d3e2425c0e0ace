"""Request fingerprints and the clean-up of stored answers (the race itself: tests/web/test_backoffice.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from bot.storage.tables import IdempotencyRow
from bot.web.idempotency import Answer, fingerprint, purge_idempotency_keys, run_once
from tests.reminders.conftest import NOW


def test_fingerprint_ignores_key_order_and_spacing_but_not_the_request() -> None:
    base = fingerprint("POST", "/api/v1/appointments", {"a": 1, "b": [1, 2]})
    assert base == fingerprint("post", "/api/v1/appointments", {"b": [1, 2], "a": 1})
    assert base != fingerprint("POST", "/api/v1/appointments", {"a": 1, "b": [2, 1]})
    assert base != fingerprint("POST", "/api/v1/other", {"a": 1, "b": [1, 2]})
    assert fingerprint("DELETE", "/x", None) != fingerprint("POST", "/x", None)


def test_purge_forgets_old_answers_only(engine: Engine) -> None:
    for key, age in (("old", dt.timedelta(days=40)), ("new", dt.timedelta(days=1))):
        answer = run_once(engine, "termine", key, fingerprint("POST", "/x", {"k": key}), lambda conn: Answer(201, {"ok": True}), NOW - age)
        assert answer == Answer(201, {"ok": True})
    assert purge_idempotency_keys(engine, NOW - dt.timedelta(days=30)) == 1
    with engine.connect() as conn:
        assert conn.execute(select(IdempotencyRow.key)).scalars().all() == ["new"]
