"""Three real worker processes against the local PostgreSQL and the fake Bot API, one killed with
SIGKILL halfway: every reminder reaches its chat, none twice.

Telegram cannot tell whether a message that was on its way when the worker died arrived, so a row
the dead worker had marked ``sending`` stays ``in_doubt`` and is never sent again (at most once).
The test checks exactly that: no duplicates ever, every other reminder delivered exactly once,
and a lost message only where the row says in_doubt.
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


def test_a_worker_killed_mid_run_causes_no_duplicate_and_no_silent_loss(database_url: str) -> None:
    result = run(workers=3, reminders=REMINDERS, kill_one=True, database_url=database_url, timeout=300)
    statuses = result["statuses"]
    assert set(statuses) <= {"sent", "in_doubt"} and sum(statuses.values()) == REMINDERS
    assert result["duplicates"] == 0 and result["unexpected"] == 0
    # Whatever did not arrive is accounted for as in doubt (the dead worker's messages in flight).
    assert result["lost"] <= result["in_doubt"] <= 32  # at most two lanes of 16 were on their way
    assert result["received"] == REMINDERS - result["lost"]
