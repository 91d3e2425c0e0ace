"""Deleting what staff reports no longer need: unanswered questions and usage events past their
retention period (configured in ``[staff]``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete

from bot.storage.database import as_utc
from bot.storage.tables import UnansweredRow, UsageEventRow


@dataclass(frozen=True)
class Purged:
    unanswered: int
    usage: int


def purge(engine: Engine, now: dt.datetime, unanswered_days: int, usage_days: int) -> Purged:
    """Delete unanswered questions older than ``unanswered_days`` and usage events older than
    ``usage_days`` before ``now``."""
    now = as_utc(now)
    with engine.begin() as conn:
        unanswered = conn.execute(delete(UnansweredRow).where(UnansweredRow.asked_at < now - dt.timedelta(days=unanswered_days)))
        usage = conn.execute(delete(UsageEventRow).where(UsageEventRow.at < now - dt.timedelta(days=usage_days)))
    return Purged(unanswered.rowcount, usage.rowcount)
