"""The usage report counts in the database: run on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from bot.core.ports import UsageKind
from bot.reports.usage import as_table, usage_report
from bot.storage.usage import SqlUsageLog

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(days=30)


def seed(engine: Engine) -> None:
    log = SqlUsageLog(engine, flush_seconds=3600)

    def times(n: int, kind: UsageKind, ids: tuple[str, ...], channel: str = "telegram", language: str = "de", at: dt.datetime = NOW) -> None:
        for _ in range(n):
            log.record(kind, ids, channel, language, at - dt.timedelta(hours=1))

    times(3, "answer", ("personalausweis",))
    times(1, "answer", ("personalausweis",), "matrix", "en")
    times(1, "answer", ("sperrmuell",))
    times(2, "out_of_scope", ())
    times(2, "offered", ("wohnsitz-anmelden", "wohnsitz-abmelden"))
    times(1, "chosen", ("wohnsitz-abmelden",))
    times(1, "answer", ("wohnsitz-abmelden",))
    times(1, "menu", ("personalausweis", "sperrmuell"), "console")
    times(5, "answer", ("personalausweis",), at=SINCE - dt.timedelta(days=1))  # before the window
    log.close()


def test_totals_shares_and_entries(engine: Engine) -> None:
    seed(engine)
    report = usage_report(engine, SINCE, NOW)
    totals = report.as_dict()["totals"]
    assert totals == {
        "answers": 6, "out_of_scope": 2, "offers": 2, "menus": 1, "choices_taken": 1,
        # typed questions: 6 answers - 1 reached through a choice + 2 offers + 2 fallbacks = 9
        "out_of_scope_share": round(2 / 9, 4),
        "choice_rate": round(1 / 3, 4),
    }
    assert report.channels["matrix"].answers == 1 and report.channels["console"].menus == 1
    assert report.languages["en"].answers == 1 and report.languages["de"].out_of_scope == 2
    entries = report.as_dict()["entries"]
    assert [e["id"] for e in entries] == ["personalausweis", "wohnsitz-abmelden", "sperrmuell", "wohnsitz-anmelden"]
    assert entries[0] == {"id": "personalausweis", "answers": 4, "channels": {"telegram": 3, "matrix": 1},
                          "languages": {"de": 3, "en": 1}, "offered": 0, "chosen": 0}
    assert (entries[1]["offered"], entries[1]["chosen"]) == (2, 1)


def test_empty_window_has_no_shares(engine: Engine) -> None:
    report = usage_report(engine, SINCE, NOW)
    assert report.as_dict()["totals"]["out_of_scope_share"] is None
    assert report.as_dict()["entries"] == []
    assert "answers: 0, out of scope: 0" in as_table(report, ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize("top", [1, 20])
def test_table_shows_the_top_entries_by_channel_and_language(engine: Engine, top: int) -> None:
    seed(engine)
    table = as_table(usage_report(engine, SINCE, NOW), ZoneInfo("Europe/Berlin"), top=top)
    lines = table.splitlines()
    assert lines[0] == "Usage since 2026-10-24 14:00"
    assert "out of scope: 2 (22.2% of questions)" in lines[1]
    header = next(i for i, line in enumerate(lines) if line.startswith("entry"))
    assert lines[header].split() == ["entry", "answers", "console", "matrix", "telegram", "de", "en", "offered", "chosen"]
    assert lines[header + 1].split() == ["personalausweis", "4", "0", "1", "3", "3", "1", "0", "0"]
    assert len(lines) - header - 1 == min(top, 4)


def test_usage_by_profile_and_events_from_before_profiles_count_as_default(engine: Engine) -> None:
    log = SqlUsageLog(engine, flush_seconds=3600)
    log.record("answer", ("personalausweis",), "telegram", "de", NOW - dt.timedelta(hours=1), "welcome")
    log.record("out_of_scope", (), "telegram", "en", NOW - dt.timedelta(hours=1), "welcome")
    log.record("answer", ("sperrmuell",), "telegram", "de", NOW - dt.timedelta(hours=1))
    log.close()
    report = usage_report(engine, SINCE, NOW)
    assert {name: (t.answers, t.out_of_scope) for name, t in report.profiles.items()} == {"welcome": (1, 1), "default": (1, 0)}
    assert report.as_dict()["profiles"]["welcome"]["out_of_scope_share"] == 0.5
    assert "By profile: default 1 answers, 0 out of scope; welcome 1 answers, 1 out of scope" in as_table(report, ZoneInfo("UTC"))
