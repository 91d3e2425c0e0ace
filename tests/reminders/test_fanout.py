"""Three real worker processes against the local PostgreSQL and the fake Bot API, one killed with
SIGKILL halfway: every reminder reaches its chat.

Telegram cannot tell whether a message that was on its way when the worker died arrived, so a row
the dead worker had marked ``sending`` is sent again after its lease (at least once) and counted as
in doubt. The test checks exactly that: nothing lost, and a duplicate only where a send was in doubt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reminder_fanout import run
from tests.databases import NO_POSTGRES, PG_URL, postgres_engine

REMINDERS = 10_000


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite serialises the workers' claims with its database lock; PostgreSQL with SKIP LOCKED."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fanout.db'}"
    engine = postgres_engine()
    if engine is None:
        pytest.skip(NO_POSTGRES)
    engine.dispose()
    return PG_URL


def test_three_workers_deliver_every_reminder_once(database_url: str) -> None:
    result = run(workers=3, reminders=REMINDERS, database_url=database_url, timeout=300)
    assert result["statuses"] == {"sent": REMINDERS}
    assert (result["duplicates"], result["lost"], result["unexpected"]) == (0, 0, 0)


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_only_what_was_in_doubt(database_url: str) -> None:
    result = run(workers=3, reminders=REMINDERS, kill_one=True, database_url=database_url, timeout=300)
    assert result["statuses"] == {"sent": REMINDERS}
    assert result["lost"] == 0 and result["unexpected"] == 0
    # Only the dead worker's messages in flight can arrive twice: at most two lanes of 16.
    assert result["duplicates"] <= result["in_doubt"] <= 32
    assert result["received"] == REMINDERS + result["duplicates"]
