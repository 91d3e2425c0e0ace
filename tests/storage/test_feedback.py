"""Votes on answers are stored per entry, language, channel and profile, never with a chat id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.core.ports import MAX_FEEDBACK_TEXT, AnswerFeedback, FeedbackLog
from bot.storage.feedback import SqlFeedbackLog
from bot.storage.tables import AnswerFeedbackRow
from bot.wiring import open_storage

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_votes_are_written_without_waiting_and_flushed_on_close(engine: Engine) -> None:
    log: FeedbackLog = SqlFeedbackLog(engine, flush_seconds=3600)
    log.record(AnswerFeedback("sperrmuell", "de", "telegram", "buerger", "up", NOW))
    log.record(AnswerFeedback("sperrmuell", "en", "web", "welcome", "down", NOW, "  Where do I\nbook it?  "))
    with Session(engine) as s:
        assert s.scalars(select(AnswerFeedbackRow)).all() == []  # buffered: recording did not touch the database
    log.close()
    with Session(engine) as s:
        rows = s.execute(select(AnswerFeedbackRow.entry_id, AnswerFeedbackRow.language, AnswerFeedbackRow.channel,
                                AnswerFeedbackRow.profile, AnswerFeedbackRow.vote, AnswerFeedbackRow.missing, AnswerFeedbackRow.at)
                         .order_by(AnswerFeedbackRow.id)).all()
    assert rows == [("sperrmuell", "de", "telegram", "buerger", "up", None, NOW),
                    ("sperrmuell", "en", "web", "welcome", "down", "Where do I book it?", NOW)]


def test_a_long_text_is_cut_and_an_empty_one_is_none(engine: Engine) -> None:
    log = SqlFeedbackLog(engine)
    log.record(AnswerFeedback("a", "de", "web", "buerger", "down", NOW, "x" * 5000))
    log.record(AnswerFeedback("a", "de", "web", "buerger", "down", NOW, "   "))
    log.close()
    with Session(engine) as s:
        texts = s.scalars(select(AnswerFeedbackRow.missing).order_by(AnswerFeedbackRow.id)).all()
    assert texts == ["x" * MAX_FEEDBACK_TEXT, None]


def test_the_table_has_no_column_that_could_identify_a_person(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("answer_feedback")}
    assert columns == {"id", "at", "entry_id", "language", "channel", "profile", "vote", "missing"}


def test_the_bot_s_storage_keeps_votes_in_its_database_and_writes_them_on_close(tmp_path: Path) -> None:
    storage = open_storage(Settings(database_url=f"sqlite:///{tmp_path / 'bot.db'}"))
    storage.feedback.record(AnswerFeedback("sperrmuell", "de", "web", "buerger", "up", NOW))
    storage.close()
    assert storage.engine is not None
    with Session(storage.engine) as s:
        assert s.scalars(select(AnswerFeedbackRow.entry_id)).all() == ["sperrmuell"]
