"""Adding an appointment: questions for what is missing, a confirmation, the reminders promised."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


# --- plausibility: a reminder for a moment the office is closed ---------------------------------

CHRISTMAS = dt.date(2026, 12, 25)


@pytest.fixture
def closing_day(kb_dir: Path) -> None:
    """The Bürgerbüro closes on Christmas Eve, a Thursday it usually opens."""
    offices = kb_dir / "offices.yaml"
    text = offices.read_text(encoding="utf-8")
    marker = "    pickup_documents: [reisepass, personalausweis]\n"
    assert marker in text
    offices.write_text(text.replace(marker, marker + "    closed: [2026-12-24]\n"), encoding="utf-8")


def test_a_sunday_at_the_office_is_questioned_and_saved_only_when_confirmed(make: MakeChat) -> None:
    chat = make()
    [warned] = chat.say("Erinnere mich an meinen Termin am Sonntag um 10 im Bürgerbüro")
    assert warned.text.startswith("Achtung, Bürgerbüro: am Sonntag, 29.11., geschlossen (Wochenende). Stimmt der Tag?\n\n"
                                  "**Sonntag, 29. November 2026, 10:00 Uhr**\nBürgerbüro")
    assert [c.label for c in warned.choices] == ["Ja, trotzdem speichern", "Nein, anderen Termin nennen"]
    assert chat.payloads(warned) == [CHOICE_YES, CHOICE_NO]
    assert upcoming(chat) == []
    [saved] = chat.say("ja")
    assert saved.text.startswith("Gespeichert: Ihr Termin am So 29.11., 10:00 Uhr.")
    assert [(a.starts_at, a.office) for a in upcoming(chat)] == [(dt.datetime(2026, 11, 29, 10, 0, tzinfo=BERLIN), "buergerbuero")]


def test_a_public_holiday_is_named_as_the_reason(make: MakeChat) -> None:
    chat = make(is_holiday=lambda day: day == CHRISTMAS)
    [warned] = chat.say("Erinnere mich an meinen Termin am 25.12. um 10 Uhr im Bürgerbüro")
    assert warned.text.startswith("Achtung, Bürgerbüro: am Freitag, 25.12., geschlossen (Feiertag). Stimmt der Tag?")


def test_a_closing_day_of_the_offices_file_is_named_as_the_reason(closing_day: None, make: MakeChat) -> None:
    chat = make()
    [warned] = chat.say("Erinnere mich an meinen Termin am 24.12. um 10 Uhr im Bürgerbüro")
    assert warned.text.startswith("Achtung, Bürgerbüro: am Donnerstag, 24.12., geschlossen (Schließtag). Stimmt der Tag?")
    [open_day] = chat.say("nein, 17.12. um 10 Uhr")  # the Thursday before keeps its hours
    assert open_day.text.startswith("Soll ich Sie an diesen Termin erinnern?\n\n**Donnerstag, 17. Dezember 2026, 10:00 Uhr**\nBürgerbüro")
    assert [c.label for c in open_day.choices] == ["Ja, speichern", "Nein, stimmt nicht"]


def test_a_time_outside_the_hours_shows_that_days_hours_and_a_correction_clears_the_warning(make: MakeChat) -> None:
    chat = make()
    [warned] = chat.say("hab am mittwoch um 15 uhr nen termin im buergerbuero, bitte erinnern")
    assert warned.text.startswith(
        "Achtung, Bürgerbüro: am Mittwoch, 25.11., um 15:00 Uhr geschlossen, geöffnet ist an dem Tag 08:00–12:00 Uhr. Stimmt die Uhrzeit?")
    [corrected] = chat.say("ok dann 11 Uhr")
    assert corrected.text.startswith("Soll ich Sie an diesen Termin erinnern?\n\n**Mittwoch, 25. November 2026, 11:00 Uhr**\nBürgerbüro")
    chat.say("ja")
    assert [(a.starts_at.hour, a.office) for a in upcoming(chat)] == [(11, "buergerbuero")]


def test_an_open_moment_gets_no_warning(make: MakeChat) -> None:
    chat = make(is_holiday=lambda day: day == CHRISTMAS)
    [confirm] = chat.say("Erinnere mich an meinen Termin am Donnerstag um 17:30 im Bürgerbüro")  # the long day, open until 18:00
    assert confirm.text.startswith("Soll ich Sie an diesen Termin erinnern?")
    assert "Achtung" not in confirm.text


def test_without_an_office_only_weekends_and_holidays_are_questioned_neutrally(make: MakeChat) -> None:
    weekend = make().say("Erinnere mich an meinen Termin am Samstag um 9")[0]
    assert weekend.text.startswith("Achtung: Samstag, 28.11., ist ein Wochenendtag, an dem die Ämter der Stadt in der Regel geschlossen haben. Stimmt der Tag?")
    assert "Bürgerbüro" not in weekend.text
    holiday = make(is_holiday=lambda day: day == CHRISTMAS).say("remind me of my appointment on 25 December at 10")[0]
    assert holiday.language == "en"
    assert holiday.text.startswith("Please note: Friday, 25 Dec is a public holiday, when the city's offices are closed. Is that the right day?")
    assert [c.label for c in holiday.choices] == ["Yes, save it anyway", "No, I will give another date"]
    # Any hour of a working day may be right when no office is named: no warning late in the evening.
    evening = make().say("Erinnere mich an meinen Termin am 3.12. um 20 Uhr")[0]
    assert evening.text.startswith("Soll ich Sie an diesen Termin erinnern?")


def test_the_warning_in_english_names_the_office_in_english(make: MakeChat) -> None:
    chat = make()
    [warned] = chat.say("remind me of my appointment on Sunday at 10 at the Citizens' Office")
    assert warned.language == "en"
    assert warned.text.startswith("Please note: the Citizens' Office is closed on Sunday, 29 Nov (weekend). Is that the right day?")
    [no] = chat.say(choice=CHOICE_NO)
    assert no.text.startswith("All right, I have not saved anything.")
    assert upcoming(chat) == []


# --- a refused request leaves nothing behind ---------------------------------------------------


def test_a_refused_office_is_not_carried_into_a_new_request(make: MakeChat) -> None:
    chat = make()
    [confirm] = chat.say("Erinnere mich an meinen Termin am 3.12. um 10:30 im Bürgerbüro für meinen Reisepass")
    assert "Bürgerbüro" in confirm.text
    chat.say("nein")
    [new] = chat.say("Erinnere mich an meinen Termin am 4.12. um 9")
    assert new.text.startswith("Soll ich Sie an diesen Termin erinnern?\n\n**Freitag, 4. Dezember 2026, 09:00 Uhr**\n\n")
    assert "Bürgerbüro" not in new.text and "Reisepass" not in new.text
    chat.say("ja")
    [saved] = upcoming(chat)
    assert (saved.office, saved.subject) == (None, "")


def test_a_date_given_after_no_starts_a_new_appointment_too(make: MakeChat) -> None:
    chat = make()
    chat.say("Erinnere mich an meinen Termin am Sonntag um 10 im Bürgerbüro")
    chat.say(choice=CHOICE_NO)
    [new] = chat.say("4.12. um 9")
    assert "**Freitag, 4. Dezember 2026, 09:00 Uhr**" in new.text
    assert "Bürgerbüro" not in new.text
    assert flow_state(chat).get("rem.office") is None


def test_an_office_kept_for_a_corrected_past_date_is_not_kept_for_a_new_request(make: MakeChat) -> None:
    chat = make()
    chat.say("Erinnere mich an meinen Termin heute um 8 Uhr im Bürgerbüro")  # refused by the bot: in the past
    [corrected] = chat.say("morgen 9 Uhr")  # the same appointment, re-dated: the office still holds
    assert "**Dienstag, 24. November 2026, 09:00 Uhr**\nBürgerbüro" in corrected.text
    chat.say("Erinnere mich an meinen Termin heute um 8 Uhr im Bürgerbüro")
    [new] = chat.say("Erinnere mich an meinen Termin am 4.12. um 9")
    assert "Bürgerbüro" not in new.text


# --- the language of the request ----------------------------------------------------------------


def test_an_english_request_in_a_german_chat_runs_in_english(make: MakeChat) -> None:
    chat = make()
    [hello] = chat.say("Hallo")
    assert hello.language == "de"
    [confirm] = chat.say("remind me of my appointment on Friday at 11 at the Citizens' Office")
    assert confirm.language == "en"
    assert confirm.text.startswith("Shall I remind you of this appointment?\n\n**Friday, 27 November 2026, 11:00**")
    [saved] = chat.say("yes")
    assert saved.language == "en" and saved.text.startswith("Saved: your appointment on Fri 27 Nov, 11:00.")


def test_an_english_request_while_a_german_question_is_open_runs_in_english(make: MakeChat) -> None:
    chat = make()
    [asked] = chat.command("termin", "3.12.")
    assert asked.language == "de"
    [confirm] = chat.say("remind me of my appointment on 4 December at 9")
    assert confirm.language == "en"
    assert "**Friday, 4 December 2026, 09:00**" in confirm.text
    [saved] = chat.say("1")
    assert saved.language == "en"
    assert [a.starts_at for a in upcoming(chat)] == [dt.datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN)]
