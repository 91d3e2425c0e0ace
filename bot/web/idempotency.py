"""Idempotency keys for the back-office API: a retried request gets the first answer, and nothing happens twice.

The key is claimed by inserting its row *in the same transaction* as the work it answers for, with
INSERT … ON CONFLICT DO NOTHING. On PostgreSQL a second request with the same key waits at that insert
until the first one commits (then it finds the stored answer) or rolls back (then it does the work
itself), so two concurrent identical requests execute exactly once. Only successful answers are
stored: a refused request leaves no row, so the client may correct it and retry with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from bot.storage.database import as_utc
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import IdempotencyRow

KEY_RE = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII without spaces, as long as the column


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False  # taken from the store, not computed now


class KeyReused(Exception):
    """The key was used before for a different request."""


def fingerprint(method: str, path: str, body: object | None) -> str:
    """sha256 over method, path and the body as canonical JSON (key order and spacing do not matter)."""
    canonical = "" if body is None else json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def run_once(engine: Engine, client: str, key: str, request_hash: str, action: Callable[[Connection], Answer],
             now: dt.datetime) -> Answer:
    """``action``'s answer, or the stored answer of the first request with this key.

    Raises :class:`KeyReused` when the key belongs to another request; exceptions from ``action``
    roll everything back, the claim included.
    """
    with engine.begin() as conn:
        claim = insert_or_ignore(conn, IdempotencyRow, ["client", "key"]).returning(IdempotencyRow.key)
        row = {"client": client, "key": key, "request_hash": request_hash, "status_code": 0, "response": "", "created_at": as_utc(now)}
        if conn.execute(claim, [row]).first() is None:
            stored = conn.execute(select(IdempotencyRow).where(IdempotencyRow.client == client, IdempotencyRow.key == key)).one()
            if stored.request_hash != request_hash:
                raise KeyReused(key)
            return Answer(stored.status_code, json.loads(stored.response), replayed=True)
        answer = action(conn)
        conn.execute(
            update(IdempotencyRow).where(IdempotencyRow.client == client, IdempotencyRow.key == key)
            .values(status_code=answer.status, response=json.dumps(answer.body, ensure_ascii=False))
        )
        return answer


def purge_idempotency_keys(engine: Engine, before: dt.datetime) -> int:
    """Forget the answers stored before ``before`` (clients retry within minutes, not months)."""
    with engine.begin() as conn:
        return conn.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < as_utc(before))).rowcount
