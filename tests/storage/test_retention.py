"""Unanswered questions and usage events are deleted after their retention period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.core.ports import AnswerFeedback
from bot.storage.feedback import SqlFeedbackLog
from bot.storage.retention import purge
from bot.storage.tables import AnswerFeedbackRow, UnansweredRow, UsageEventRow
from bot.storage.unanswered import SqlUnansweredLog
from bot.storage.usage import SqlUsageLog

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def test_purge_keeps_only_the_retention_period(engine: Engine) -> None:
    unanswered = SqlUnansweredLog(engine)
    for age in (1, 89, 91, 500):
        unanswered.record(f"{age} days old", "de", "telegram", days_ago(age))
    unanswered.close()
    usage = SqlUsageLog(engine, flush_seconds=3600)
    for age in (1, 399, 401):
        usage.record("offered", ("a", "b"), "telegram", "de", days_ago(age))
    usage.close()

    purged = purge(engine, NOW, unanswered_days=90, usage_days=400)

    assert (purged.unanswered, purged.usage) == (2, 2)  # an offer of two entries is two rows
    with Session(engine) as s:
        assert sorted(s.scalars(select(UnansweredRow.text))) == ["1 days old", "89 days old"]
        assert sorted(s.scalars(select(UsageEventRow.entry_id))) == ["a", "a", "b", "b"]
    assert purge(engine, NOW, 90, 400) == type(purged)(0, 0)  # nothing left to delete


def test_votes_go_with_the_usage_retention_and_their_texts_with_the_questions(engine: Engine) -> None:
    log = SqlFeedbackLog(engine)
    for age in (1, 91, 401):
        log.record(AnswerFeedback("sperrmuell", "de", "web", "buerger", "down", days_ago(age), f"{age} Tage alt"))
    log.close()

    purged = purge(engine, NOW, unanswered_days=90, usage_days=400)

    assert purged.feedback == 1
    with Session(engine) as s:
        kept = s.execute(select(AnswerFeedbackRow.vote, AnswerFeedbackRow.missing).order_by(AnswerFeedbackRow.at)).all()
    assert kept == [("down", None), ("down", "1 Tage alt")]  # the 91-day-old vote stays, without its text
