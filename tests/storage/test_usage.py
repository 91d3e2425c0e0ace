"""Usage events: buffered, written in batches, nothing lost on close; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.storage.database import as_utc, make_engine, migrate
from bot.storage.tables import UsageEventRow
from bot.storage.usage import SqlUsageLog

BERLIN_NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def rows(engine: Engine) -> list[UsageEventRow]:
    with Session(engine) as s:
        return list(s.scalars(select(UsageEventRow).order_by(UsageEventRow.id)))


def count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(UsageEventRow)) or 0)


def test_events_wait_in_memory_until_flushed(engine: Engine) -> None:
    log = SqlUsageLog(engine, flush_seconds=3600)
    log.record("answer", ("personalausweis",), "telegram", "de", BERLIN_NOON)
    log.record("offered", ("wohnsitz-anmelden", "wohnsitz-abmelden"), "matrix", "en", BERLIN_NOON)
    log.record("out_of_scope", (), "telegram", "de", BERLIN_NOON)
    assert count(engine) == 0 and log.pending == 3
    assert log.flush() == 3
    stored = [(r.kind, r.entry_id, r.position, r.channel, r.language) for r in rows(engine)]
    assert stored == [
        ("answer", "personalausweis", 0, "telegram", "de"),
        ("offered", "wohnsitz-anmelden", 0, "matrix", "en"),
        ("offered", "wohnsitz-abmelden", 1, "matrix", "en"),
        ("out_of_scope", None, 0, "telegram", "de"),
    ]
    assert as_utc(rows(engine)[0].at) == dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)  # stored in UTC
    log.close()


def test_the_table_has_no_user_or_text_column(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("usage_events")}
    assert columns == {"id", "at", "kind", "entry_id", "position", "channel", "language", "profile"}


def test_close_writes_what_is_left(engine: Engine) -> None:
    log = SqlUsageLog(engine, flush_seconds=3600)
    for _ in range(7):
        log.record("answer", ("sperrmuell",), "console", "de", BERLIN_NOON)
    log.close()
    assert count(engine) == 7 and log.pending == 0


def test_a_full_batch_is_written_without_waiting_for_the_timer(engine: Engine) -> None:
    log = SqlUsageLog(engine, batch_size=5, flush_seconds=3600)
    for _ in range(5):
        log.record("chosen", ("sperrmuell",), "telegram", "de", BERLIN_NOON)
    deadline = time.monotonic() + 30
    while count(engine) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count(engine) == 5
    log.close()


def test_events_survive_a_failed_write(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'late.db'}")  # not migrated yet: the insert fails
    log = SqlUsageLog(engine, flush_seconds=3600, max_buffered=3)
    for entry in ("a", "b", "c", "d"):
        log.record("answer", (entry,), "telegram", "de", BERLIN_NOON)
    with pytest.raises(OperationalError, match="no such table"):
        log.flush()
    assert log.pending == 3  # kept for the next try, the oldest dropped beyond max_buffered
    migrate(engine)
    log.close()
    assert [r.entry_id for r in rows(engine)] == ["b", "c", "d"]
    engine.dispose()
