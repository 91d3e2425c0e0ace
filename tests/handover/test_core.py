"""The hand-over's rules without I/O: who asks for a person, what the question is, what the team sees."""

from __future__ import annotations

import datetime as dt

import yaml

from bot.handover.core import (
    CaseSummary,
    StaffCommand,
    Turn,
    asks_for_person,
    back_phrase,
    draft_entry,
    staff_command,
    strip_reply_fallback,
    the_question,
    thread_opening,
)


def test_asking_for_a_person_and_asking_about_something_else() -> None:
    for said in ("Mitarbeiter", "Mensch bitte", "Ich will mit einem Menschen sprechen", "human please", "agent", "talk to a real person"):
        assert asks_for_person(said), said
    for said in ("Personalausweis beantragen", "Mitarbeiterparkplatz am Rathaus", "Wie viele Menschen wohnen in Musterstadt?", ""):
        assert not asks_for_person(said), said


def test_the_question_is_the_last_unanswered_one_not_the_request_for_a_person() -> None:
    turns = [Turn("Sperrmüll anmelden", True, "Sperrmüll"), Turn("Darf ich Laub verbrennen?", False, "Leider …"), Turn("Mitarbeiter", False, "")]
    assert the_question(turns) == "Darf ich Laub verbrennen?"
    assert the_question([Turn("Mitarbeiter", False, "")]) == "Mitarbeiter"


def test_the_thread_opening_names_case_channel_language_and_turns() -> None:
    summary = CaseSummary("H-00007", "welcome", "telegram", "en", "Can I burn leaves?",
                          (Turn("bulky waste", True, "Bulky waste collection"), Turn("Can I burn leaves?", False, "Sorry")), queued=True)
    opening = thread_opening(summary, "de")
    assert opening.startswith("Neue Übergabe H-00007 · Profil welcome · über telegram · Sprache en · außerhalb der Zeiten gestellt")
    assert "Frage: Can I burn leaves?" in opening and "> Bürger/in: bulky waste" in opening and "< Bot: Bulky waste collection" in opening


def test_staff_commands_and_reply_fallbacks() -> None:
    assert staff_command("!claim") is StaffCommand.CLAIM and staff_command("  !Close bitte") is StaffCommand.CLOSE
    assert staff_command("!faq") is StaffCommand.FAQ and staff_command("Guten Tag! claim") is None
    assert strip_reply_fallback("> <@a:b> Frage\n> mehr\n\nDie Antwort") == "Die Antwort"


def test_when_the_team_is_back() -> None:
    friday = dt.datetime(2026, 11, 27, 19, 0)
    assert back_phrase(dt.datetime(2026, 11, 30, 7, 0), friday, "de") == "am Montag ab 07:00 Uhr"
    assert back_phrase(dt.datetime(2026, 11, 28, 7, 0), friday, "en") == "tomorrow from 07:00"


def test_a_draft_entry_is_yaml_with_the_question_as_example() -> None:
    loaded = yaml.safe_load(draft_entry("H-00003", "en", "Can I burn leaves?", ["No, take them to the green waste site.", " "]))
    (entry,) = loaded["entries"]
    assert entry["id"] == "entwurf-h-00003" and entry["en"]["questions"] == ["Can I burn leaves?"]
    assert entry["en"]["answer"] == "No, take them to the green waste site."


def test_a_case_opened_from_the_menu_says_the_question_follows() -> None:
    opening = thread_opening(CaseSummary("H-00008", "default", "matrix", "de", "", (), queued=False), "de")
    assert "Frage: (noch keine; sie folgt in diesem Thread)" in opening
