"""The reminder queue's write side: rows go in once, whoever asks twice.

Every row has a ``dedupe_key`` naming what, for whom and when; inserting a key that exists is a
no-op, so a retried back-office request, a re-run daily job or two workers doing the same job
never queue a message twice. Key formats (keep them stable, they are in the database):

* ``appt:<appointment id>:<channel>:<chat id>:<lead>``   reminder before an appointment
* ``appt-cancel:<appointment id>:<channel>:<chat id>``   the office cancelled it
* ``case:<subscription id>:<status>:<changed_at ISO>``   a case's status changed
* ``case-followup:<subscription id>:<changed_at ISO>``  still not collected after N days
* ``waste:<subscription id>:<collection date ISO>``      the evening before a collection
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from bot.core.models import ChatRef, NoticeKind
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import ReminderRow


@dataclass(frozen=True)
class Due:
    """A message to queue."""

    dedupe_key: str
    subject_id: str
    chat: ChatRef
    language: str
    kind: NoticeKind
    params: dict[str, str]
    due_at: dt.datetime
    expires_at: dt.datetime | None = None


def enqueue(conn: Connection, items: Iterable[Due]) -> int:
    """Insert the rows whose keys are new; returns how many were new."""
    rows = [
        {
            "dedupe_key": d.dedupe_key[:200], "subject_id": d.subject_id, "channel": d.chat.channel, "profile": d.chat.profile,
            "chat_id": d.chat.chat_id, "language": d.language, "kind": d.kind.value, "params": json.dumps(d.params, ensure_ascii=False),
            "due_at": d.due_at, "expires_at": d.expires_at, "status": "pending", "attempts": 0,
        }
        for d in items
    ]
    if not rows:
        return 0
    stmt = insert_or_ignore(conn, ReminderRow, ["dedupe_key"])
    result = conn.execute(stmt.returning(ReminderRow.id), rows)
    return len(result.fetchall())
