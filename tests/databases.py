"""Test databases: SQLite in tmp_path, and a fresh schema in the local PostgreSQL per test."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import Engine, text

from bot.storage.database import make_engine, migrate

PG_URL = os.environ.get("BUERGERBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NO_POSTGRES = f"no PostgreSQL reachable at {PG_URL}"


def postgres_engine() -> Engine | None:
    try:
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return engine
    except Exception:
        return None


@contextlib.contextmanager
def postgres_schema() -> Iterator[str | None]:
    """The URL of a new, migrated schema (dropped afterwards), or None without PostgreSQL."""
    pg = postgres_engine()
    if pg is None:
        yield None
        return
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with pg.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = PG_URL + f"?options=-csearch_path%3D{schema}"
    eng = make_engine(url)
    migrate(eng)
    eng.dispose()
    try:
        yield url
    finally:
        with pg.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        pg.dispose()
