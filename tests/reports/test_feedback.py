"""The feedback report counts in the database and ranks the worst-received entries first: run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.core.ports import AnswerFeedback, FeedbackVote
from bot.reports.feedback import EntryFeedback, as_table, feedback_report
from bot.storage.feedback import SqlFeedbackLog

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(days=30)


def seed(engine: Engine) -> None:
    log = SqlFeedbackLog(engine, flush_seconds=3600)

    def votes(entry: str, vote: FeedbackVote, n: int, language: str = "de", channel: str = "web", at: dt.datetime = NOW,
              missing: str | None = None) -> None:
        for i in range(n):
            log.record(AnswerFeedback(entry, language, channel, "buerger", vote, at - dt.timedelta(minutes=i), missing))

    votes("personalausweis", "up", 40)
    votes("personalausweis", "down", 2)
    votes("sperrmuell", "up", 10, channel="telegram")
    votes("sperrmuell", "down", 30, language="en", channel="telegram")
    votes("kfz-zulassung", "down", 1)  # one 👎 only: less certainly bad than sperrmuell
    votes("wohnsitz-anmelden", "down", 50, at=SINCE - dt.timedelta(days=1))  # before the window
    for day in range(7):
        votes("sperrmuell", "down", 1, at=NOW - dt.timedelta(days=day, hours=1), missing=f"Tag {day}: Abholtermin fehlt")
    log.close()


def test_entries_worst_first_with_counts_shares_and_the_latest_comments(engine: Engine) -> None:
    seed(engine)
    report = feedback_report(engine, SINCE, NOW)
    assert [e.entry_id for e in report.entries] == ["sperrmuell", "kfz-zulassung", "personalausweis"]
    worst = report.entries[0]
    assert (worst.up, worst.down) == (10, 37)
    assert worst.languages == {"en": 30, "de": 17} and worst.channels == {"telegram": 40, "web": 7}
    assert [c.text for c in worst.comments] == [f"Tag {day}: Abholtermin fehlt" for day in range(5)]  # newest first, five
    assert report.entries[2].as_dict()["up_share"] == round(40 / 42, 4)
    assert (report.up, report.down) == (50, 40)


def test_the_table_names_each_entry_with_its_comments(engine: Engine) -> None:
    seed(engine)
    text = as_table(feedback_report(engine, SINCE, NOW), ZoneInfo("Europe/Berlin"))
    lines = text.splitlines()
    assert lines[0] == "Feedback since 2026-10-24 14:00: 50 up, 40 down"
    assert lines[3].split() == ["sperrmuell", "10", "37", "21%"]
    assert "“Tag 0: Abholtermin fehlt” (de, 2026-11-23)" in lines[4]


def test_no_votes_at_all(engine: Engine) -> None:
    report = feedback_report(engine, SINCE, NOW)
    assert report.entries == [] and as_table(report, ZoneInfo("UTC")) == "Feedback since 2026-10-24 12:00: 0 up, 0 down"


def test_the_ranking_weighs_how_sure_a_share_is() -> None:
    one_down = EntryFeedback("a", up=0, down=1)
    many_down = EntryFeedback("b", up=10, down=30)
    well_liked = EntryFeedback("c", up=100, down=5)
    assert many_down.down_floor > one_down.down_floor > well_liked.down_floor
    assert EntryFeedback("d").up_share is None


def test_a_what_was_missing_note_is_a_comment_and_no_vote(engine: Engine) -> None:
    log = SqlFeedbackLog(engine, flush_seconds=3600)
    log.record(AnswerFeedback("sperrmuell", "de", "telegram", "buerger", "down", NOW - dt.timedelta(minutes=2)))
    log.record(AnswerFeedback("sperrmuell", "de", "telegram", "buerger", "note", NOW - dt.timedelta(minutes=1), "Die Abholtermine fehlen"))
    log.close()
    [entry] = feedback_report(engine, SINCE, NOW).entries
    assert (entry.up, entry.down) == (0, 1)
    assert entry.languages == {"de": 1} and entry.channels == {"telegram": 1}
    assert [c.text for c in entry.comments] == ["Die Abholtermine fehlen"]
