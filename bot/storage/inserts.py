"""INSERT … ON CONFLICT DO NOTHING on the two databases the bot runs on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_or_ignore(conn: Connection, table: Any, conflict_columns: Sequence[str]) -> Any:
    """An insert into ``table`` that skips rows clashing on the unique ``conflict_columns``.

    On PostgreSQL a clash with a row another transaction has inserted but not yet committed waits
    for that transaction: the row is skipped if it commits and inserted if it rolls back. That makes
    "insert, and see with RETURNING whether it was ours" a race-free claim.
    """
    if conn.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    if conn.dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    raise NotImplementedError(f"database {conn.dialect.name!r} is not supported (SQLite or PostgreSQL)")
