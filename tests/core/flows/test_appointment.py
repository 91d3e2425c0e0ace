"""Adding an appointment: questions for what is missing, a confirmation, the reminders promised."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.flows.appointment import CHOICE_NO, CHOICE_YES, find_subject
from bot.core.schedule import ReminderPolicy
from tests.core.flows.helpers import BERLIN, MakeChat, flow_state, upcoming


def test_add_confirms_before_saving(make: MakeChat) -> None:
    chat = make()
    [confirm] = chat.say("Erinnere mich an meinen Termin am 3.12. um 10:30 im Bürgerbüro für meinen Reisepass")
    assert confirm.text.startswith("Soll ich Sie an diesen Termin erinnern?\n\n**Donnerstag, 3. Dezember 2026, 10:30 Uhr**\nBürgerbüro, Marktplatz 1, 12345 Musterstadt")
    assert "Anliegen: Reisepass" in confirm.text
    assert "Ich erinnere Sie einen Tag vorher und eine Stunde vorher." in confirm.text
    assert chat.payloads(confirm) == [CHOICE_YES, CHOICE_NO]
    assert upcoming(chat) == []
    [saved] = chat.say(choice=CHOICE_YES)
    assert saved.text.startswith("Gespeichert: Ihr Termin am Do 3.12., 10:30 Uhr.")
    [appointment] = upcoming(chat)
    assert (appointment.starts_at, appointment.office, appointment.subject, appointment.source) == (
        dt.datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN), "buergerbuero", "Reisepass", "chat")
    assert flow_state(chat) == {}


def test_english_and_confirm_by_number(make: MakeChat) -> None:
    chat = make()
    [confirm] = chat.say("remind me of my appointment on 3 December at 10:30")
    assert confirm.language == "en"
    assert "**Thursday, 3 December 2026, 10:30**" in confirm.text
    assert "I will remind you one day before and one hour before." in confirm.text
    [saved] = chat.say("1")
    assert saved.text.startswith("Saved: your appointment on Thu 3 Dec, 10:30.")
    assert len(upcoming(chat)) == 1


def test_missing_time_is_asked_for(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.command("termin", "3.12.")
    assert ask.text == "Um wie viel Uhr ist Ihr Termin am Do 3.12.?"
    [confirm] = chat.say("10")
    assert "**Donnerstag, 3. Dezember 2026, 10:00 Uhr**" in confirm.text
    chat.say("ja")
    assert [a.starts_at.hour for a in upcoming(chat)] == [10]


def test_missing_date_is_asked_for(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.say("Please remind me of my appointment at 9:30")
    assert ask.text == "On which day is your appointment at 09:30?"
    [confirm] = chat.say("tomorrow")
    assert "**Tuesday, 24 November 2026, 09:30**" in confirm.text
    chat.say("yes")
    assert upcoming(chat)[0].starts_at == dt.datetime(2026, 11, 24, 9, 30, tzinfo=BERLIN)


def test_the_intent_alone_asks_for_date_and_time(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.say("Kannst du mich an meinen Termin erinnern?")
    assert ask.entry_id == "erinnerungen" and "Wann ist er?" in ask.text
    [confirm] = chat.say("am 4.12. um 8:15 im Bürgerbüro")
    assert "**Freitag, 4. Dezember 2026, 08:15 Uhr**\nBürgerbüro" in confirm.text


def test_past_dates_are_refused(make: MakeChat) -> None:
    chat = make()
    [refused] = chat.say("Erinnere mich an meinen Termin heute um 8 Uhr")
    assert refused.text.startswith("Mo 23.11.2026, 08:00 Uhr liegt schon in der Vergangenheit.")
    assert upcoming(chat) == []
    [confirm] = chat.say("morgen 9 Uhr")
    assert "**Dienstag, 24. November 2026, 09:00 Uhr**" in confirm.text


def test_no_and_a_correction(make: MakeChat) -> None:
    chat = make()
    chat.say("Erinnere mich an meinen Termin am 3.12. um 10:30")
    [corrected] = chat.say("nein, 11:30")  # a new time while confirming: confirm again
    assert "**Donnerstag, 3. Dezember 2026, 11:30 Uhr**" in corrected.text
    [no] = chat.say(choice=CHOICE_NO)
    assert "nichts gespeichert" in no.text
    assert upcoming(chat) == []


def test_moving_on_drops_the_question(make: MakeChat) -> None:
    chat = make()
    chat.command("termin", "3.12.")
    [answer] = chat.say("Sperrmüll anmelden")
    assert answer.entry_id == "sperrmuell"
    assert flow_state(chat) == {}
    chat.say("10")
    assert upcoming(chat) == []


def test_abort_and_a_stale_confirm_button(make: MakeChat) -> None:
    chat = make()
    chat.command("termin", "")
    [aborted] = chat.say("abbrechen")
    assert aborted.text == "In Ordnung, abgebrochen."
    [lost] = chat.say(choice=CHOICE_YES)  # e.g. pressed after a restart: nothing to save
    assert "habe ich nicht mehr" in lost.text
    assert upcoming(chat) == []


@pytest.mark.parametrize("said", ["Erinnere mich am 99.99. um 99:99", "/termin " + "A" * 64, "Erinnere mich an den Termin am 3.12.2099 um 10", "Erinnere mich am 31.2. um 10"])
def test_odd_dates_get_a_question_not_an_error(make: MakeChat, said: str) -> None:
    chat = make()
    replies = chat.say(said)
    assert replies and all(r.text for r in replies)
    assert upcoming(chat) == []


@pytest.mark.parametrize(
    ("said", "subject"),
    [
        ("Termin am 3.12. um 10:30 für meinen Reisepass", "Reisepass"),
        ("Termin für Personalausweis beantragen am Montag", "Personalausweis beantragen"),
        ("remind me of my appointment for my residence permit on 3 December", "residence permit"),
        ("Erinnerung für meinen Termin am 3.12.", ""),
        ("Erinnere mich an meinen Termin morgen", ""),
    ],
)
def test_find_subject(said: str, subject: str) -> None:
    assert find_subject(said) == subject


def test_only_reminders_that_can_still_come_are_promised(make: MakeChat) -> None:
    chat = make()
    confirm = chat.say("Erinnere mich an meinen Termin heute um 10:45 im Bürgerbüro")[0].text
    assert "zu knapp" in confirm and "vorher" not in confirm
    chat = make()
    confirm = chat.say("Erinnere mich an meinen Termin morgen um 7:30")[0].text
    # One day before is 07:30 today, already past; one hour before is 06:30 tomorrow, allowed that early.
    assert "eine Stunde vorher" in confirm and "einen Tag vorher" not in confirm


def test_the_promised_reminders_follow_the_citys_policy_per_office(make: MakeChat) -> None:
    policy = ReminderPolicy(zone=BERLIN, offsets=("1h",), office_offsets={"buergerbuero": ("2d",)})
    at_office = make(reminders=policy).say("Erinnere mich an meinen Termin am 3.12. um 10:30 im Bürgerbüro")[0].text
    assert "Ich erinnere Sie 2 Tage vorher." in at_office
    elsewhere = make(reminders=policy).say("Erinnere mich an meinen Termin am 3.12. um 10:30")[0].text
    assert "Ich erinnere Sie eine Stunde vorher." in elsewhere
