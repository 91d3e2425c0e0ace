"""Deleting what staff reports no longer need: unanswered questions, usage events and answer
feedback past their retention period (configured in ``[staff]``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, delete, update

from bot.storage.database import as_utc
from bot.storage.tables import AnswerFeedbackRow, UnansweredRow, UsageEventRow


@dataclass(frozen=True)
class Purged:
    unanswered: int
    usage: int
    feedback: int = 0  # votes deleted (their "what was missing?" texts go with the unanswered questions' retention)


def purge(engine: Engine, now: dt.datetime, unanswered_days: int, usage_days: int) -> Purged:
    """Delete unanswered questions older than ``unanswered_days`` and usage events and votes older
    than ``usage_days`` before ``now``. A vote's "what was missing?" text is free text like an
    unanswered question (it may hold a name), so it is blanked after ``unanswered_days``."""
    now = as_utc(now)
    with engine.begin() as conn:
        unanswered = conn.execute(delete(UnansweredRow).where(UnansweredRow.asked_at < now - dt.timedelta(days=unanswered_days)))
        usage = conn.execute(delete(UsageEventRow).where(UsageEventRow.at < now - dt.timedelta(days=usage_days)))
        feedback = conn.execute(delete(AnswerFeedbackRow).where(AnswerFeedbackRow.at < now - dt.timedelta(days=usage_days)))
        conn.execute(update(AnswerFeedbackRow).where(AnswerFeedbackRow.at < now - dt.timedelta(days=unanswered_days),
                                                     AnswerFeedbackRow.missing.is_not(None)).values(missing=None))
    return Purged(unanswered.rowcount, usage.rowcount, feedback.rowcount)
