"""Unanswered questions: read from the database by window, grouped by similarity, nearest entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from bot.core.live import LiveKnowledge
from bot.handover.core import draft_entry
from bot.handover.drafts import waiting_drafts
from bot.reports.unanswered import Question, add_drafts, add_nearest, as_json, as_table, cluster_questions, load_unanswered
from bot.storage.unanswered import SqlUnansweredLog

BERLIN = ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def q(text: str, language: str = "de", channel: str = "telegram", minutes: int = 0) -> Question:
    return Question(text, language, channel, T0 + dt.timedelta(minutes=minutes))


ASKED = [
    q("Wann ist Vollmond?"), q("wann ist Vollmond"), q("Wann ist der nächste Vollmond?", channel="matrix", minutes=5),
    q("Vollmond wann", minutes=9), q("when is the next full moon", "en"),
    q("Wie wird das Wetter morgen?"), q("Wetter morgen", minutes=3),
    q("Darf ich meinen Hund mit ins Rathaus nehmen?"),
]


def test_similar_questions_are_one_group_biggest_first() -> None:
    clusters = cluster_questions(ASKED)
    groups = [sorted(c.examples) for c in clusters]
    assert groups[0] == ["Vollmond wann", "Wann ist Vollmond?", "Wann ist der nächste Vollmond?"]
    assert groups[1] == ["Wetter morgen", "Wie wird das Wetter morgen?"]
    assert sorted(map(tuple, groups[2:])) == [("Darf ich meinen Hund mit ins Rathaus nehmen?",), ("when is the next full moon",)]
    moon = clusters[0]
    assert moon.count == 4 and moon.examples[0] == "Wann ist Vollmond?"  # the most asked wording leads
    assert moon.channels == {"telegram": 3, "matrix": 1} and moon.languages == {"de": 4}
    assert (moon.first_asked, moon.last_asked) == (T0, T0 + dt.timedelta(minutes=9))


def test_empty_and_emoji_only_questions_do_not_break_grouping() -> None:
    clusters = cluster_questions([q("👍"), q("👍"), q("?!"), q("Wetter morgen")])
    assert sorted(c.count for c in clusters) == [1, 1, 2]


def test_window_is_read_in_utc_whatever_the_city_clock(engine: Engine) -> None:
    log = SqlUnansweredLog(engine)
    log.record("too early", "de", "telegram", dt.datetime(2026, 11, 23, 10, 59, tzinfo=BERLIN))  # 09:59 UTC
    log.record("in the window", "en", "matrix", dt.datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN))  # 10:01 UTC
    log.close()
    found = load_unanswered(engine, dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC))
    assert [(x.text, x.language, x.channel) for x in found] == [("in the window", "en", "matrix")]
    assert found[0].asked_at == dt.datetime(2026, 11, 23, 10, 1, tzinfo=dt.UTC)


def test_nearest_entry_comes_from_the_real_matcher(tiny_kb: Path) -> None:
    live = LiveKnowledge([tiny_kb])
    clusters = cluster_questions([q("Personalausweis gestohlen, Anzeige bei der Polizei?"), q("Wann ist Vollmond?")])
    add_nearest(clusters, live.snapshot, threshold=0.99)
    near = {c.examples[0]: c.nearest for c in clusters}
    passport = near["Personalausweis gestohlen, Anzeige bei der Polizei?"]
    assert passport is not None and passport.entry_id == "personalausweis" and passport.title == "Titel personalausweis"
    assert passport.answered_now is False  # below the (test) threshold
    moon = near["Wann ist Vollmond?"]
    assert moon is None or moon.score < passport.score


def test_json_and_table(tiny_kb: Path) -> None:
    clusters = cluster_questions(ASKED)
    add_nearest(clusters, LiveKnowledge([tiny_kb]).snapshot, threshold=0.45)
    since, until = T0 - dt.timedelta(days=7), T0 + dt.timedelta(hours=1)
    obj = as_json(clusters, since, until)
    assert obj["since"] == "2026-11-16T09:00:00+00:00" and obj["until"] == "2026-11-23T10:00:00+00:00"
    assert obj["questions"] == len(ASKED)
    first = obj["clusters"][0]
    assert first["count"] == 4 and first["channels"] == {"telegram": 3, "matrix": 1} and first["languages"] == {"de": 4}
    assert first["first_asked"] == "2026-11-23T09:00:00+00:00" and first["examples"][0] == "Wann ist Vollmond?"
    assert set(first) == {"count", "languages", "channels", "first_asked", "last_asked", "examples", "nearest", "drafts"}
    table = as_table(clusters, since, BERLIN)
    assert table.splitlines()[0] == f"Unanswered questions since 2026-11-16 10:00: {len(ASKED)} in {len(clusters)} groups"
    assert "“Wann ist der nächste Vollmond?”" in table
    assert as_table([], since, BERLIN).endswith(": 0 in 0 groups")


def test_a_group_links_to_the_draft_that_answers_it_and_the_drafts_waiting_are_listed(tmp_path: Path) -> None:
    drafts_dir = tmp_path / "faq-drafts"
    drafts_dir.mkdir()
    (drafts_dir / "h-00007.yaml").write_text(draft_entry("H-00007", "de", "Wann ist der nächste Vollmond?", ["Am 4. Dezember."]),
                                             encoding="utf-8")
    (drafts_dir / "h-00008.yaml").write_text(draft_entry("H-00008", "en", "Where do I register a boat?", ["At the harbour office."]),
                                             encoding="utf-8")
    drafts = waiting_drafts(drafts_dir)
    clusters = cluster_questions(ASKED)
    add_drafts(clusters, drafts)
    linked = {c.examples[0]: [d.path.name for d in c.drafts] for c in clusters}
    assert linked["Wann ist Vollmond?"] == ["h-00007.yaml"]
    assert all(names == [] for example, names in linked.items() if example != "Wann ist Vollmond?")
    since = T0 - dt.timedelta(days=7)
    obj = as_json(clusters, since, T0, drafts)
    assert obj["clusters"][0]["drafts"] == [str(drafts_dir / "h-00007.yaml")]
    assert [d["path"] for d in obj["drafts_waiting"]] == [str(drafts_dir / "h-00007.yaml"), str(drafts_dir / "h-00008.yaml")]
    assert obj["drafts_waiting"][1]["questions"] == ["Where do I register a boat?"]
    table = as_table(clusters, since, BERLIN, drafts)
    assert f"draft waiting for review: {drafts_dir / 'h-00007.yaml'}" in table
    assert table.splitlines()[-2:] == [f"  {drafts_dir / 'h-00007.yaml'}  “Wann ist der nächste Vollmond?”",
                                       f"  {drafts_dir / 'h-00008.yaml'}  “Where do I register a boat?”"]
    assert "Drafts from hand-overs waiting for review (2" in as_table([], since, BERLIN, drafts)
    assert waiting_drafts(tmp_path / "missing") == []
