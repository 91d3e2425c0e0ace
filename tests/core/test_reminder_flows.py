"""Reminder conversations through the collecting channel, against the in-memory reminder book."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.dialogue import COMMANDS, Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.models import Appointment, ChatRef, LinkError, Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.reminder_flows import CHOICE_NO, CHOICE_YES, REMINDER_COMMANDS, find_reference, find_subject, match_districts
from bot.core.schedule import ReminderPolicy
from tests.conftest import REPO, CollectingChannel

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # a Monday
CHAT = ChatRef("test", "chat-1")
DISTRICTS = {"suedstadt": "Südstadt", "nordstadt": "Nordstadt", "altstadt-ost": "Altstadt Ost"}
LINKED = Appointment("b-17", dt.datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN), "buergerbuero", "Reisepass", "terminvergabe")
TOKEN = "1A" + "x" * 48


class Chat(CollectingChannel):
    book: MemoryReminderBook | None
    states: MemoryUserStates

    def payloads(self, reply: Reply) -> list[str]:
        return [c.payload or "" for c in reply.choices]


MakeChat = Callable[..., Chat]


@pytest.fixture
def kb_dir(tiny_kb: Path) -> Path:
    """The tiny knowledge plus the real intents about reminders and data."""
    shutil.copy(REPO / "intents" / "my-data.yaml", tiny_kb / "my-data.yaml")
    return tiny_kb


@pytest.fixture
def make(kb_dir: Path) -> MakeChat:
    live = LiveKnowledge([kb_dir])

    def build(book: MemoryReminderBook | str | None = "default", clock: dt.datetime = NOW, states: MemoryUserStates | None = None,
              profile: str = "default", **settings: object) -> Chat:
        if book == "default":
            book = MemoryReminderBook(tokens={TOKEN: LINKED}, cases={"RP-2026-004711"}, districts=DISTRICTS)
        states = states or MemoryUserStates()
        dialogue = Dialogue(
            lambda: live.snapshot, states, MemoryUnansweredLog(), DialogueSettings(popular=("personalausweis",), **settings),  # type: ignore[arg-type]
            clock=lambda: clock, book=book if isinstance(book, MemoryReminderBook) else None,
        )
        chat = Chat(dialogue, profile=profile)
        chat.book = book if isinstance(book, MemoryReminderBook) else None
        chat.states = states
        return chat

    return build


def flow_state(chat: Chat) -> dict[str, str]:
    return {k: v for k, v in chat.states.load(CHAT).extra.items() if k.startswith("rem.")}


def upcoming(chat: Chat) -> list[Appointment]:
    assert chat.book is not None
    return chat.book.upcoming(CHAT, NOW)


# --- adding an appointment -----------------------------------------------------------------------

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


# --- listing and ending --------------------------------------------------------------------------

def test_list_and_cancel_by_number_and_button(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    late = chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "")
    early = chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 1, 14, 0, tzinfo=BERLIN), "buergerbuero", "")
    chat.book.subscribe_case(CHAT, "de", "RP-2026-004711")
    chat.book.subscribe_waste(CHAT, "de", "suedstadt")
    [listing] = chat.say("meine Erinnerungen")
    assert listing.text.startswith("Ihre Erinnerungen.")
    assert [c.label for c in listing.choices] == [
        "Termin Di 1.12., 14:00 Uhr – Bürgerbüro", "Termin Do 10.12., 09:00 Uhr", "Vorgang RP-2026-004711", "Müllabfuhr Südstadt"]
    payloads = chat.payloads(listing)
    assert all(len(p.encode()) <= 64 for p in payloads)
    [ended] = chat.say("1")
    assert ended.text == "Beendet: Termin Di 1.12., 14:00 Uhr – Bürgerbüro. Dazu bekommen Sie keine Erinnerungen mehr."
    assert [a.id for a in upcoming(chat)] == [late.id] and early.id != late.id
    [ended_sub] = chat.say(choice=payloads[3])
    assert ended_sub.text.startswith("Beendet: Müllabfuhr Südstadt.")
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]
    # A number typed now answers nothing: the last reply offered no choices (numbers pick only from
    # the reply just before them), so nothing else is ended.
    chat.say("1")
    assert [a.id for a in upcoming(chat)] == [late.id]
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]


def test_a_button_from_an_old_list_shows_the_current_one(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "")
    [listing] = chat.command("erinnerungen")
    old = chat.payloads(listing)[0]
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN), None, "")
    chat.command("erinnerungen")  # a new list: the old button's list is gone
    [outdated] = chat.say(choice=old)
    assert outdated.text.startswith("Diese Liste ist nicht mehr aktuell.")
    assert len(outdated.choices) == 2
    assert len(upcoming(chat)) == 2
    [forged] = chat.say(choice="rem:x:zzzzzz:1")
    assert forged.text.startswith("Diese Liste ist nicht mehr aktuell.")


def test_empty_list_explains_what_is_possible(make: MakeChat) -> None:
    [reply] = make().command("reminders", language_hint="en")
    assert reply.text.startswith("You have no reminders at the moment.")
    assert not reply.choices


# --- linking a booking ---------------------------------------------------------------------------

def test_start_with_a_token_links_the_booking(make: MakeChat) -> None:
    chat = make()
    [linked] = chat.command("start", TOKEN)
    assert linked.text.startswith("Verbunden: Ich erinnere Sie an diesen Termin.\n\n**Donnerstag, 3. Dezember 2026, 10:30 Uhr**\nBürgerbüro, Marktplatz 1")
    assert "Anliegen: Reisepass" in linked.text and "einen Tag vorher und eine Stunde vorher" in linked.text
    assert upcoming(chat) == [LINKED]
    [used] = chat.command("link", TOKEN)
    assert "wurde schon verwendet" in used.text


def test_start_with_another_payload_greets(make: MakeChat) -> None:
    chat = make()
    [greeting] = chat.command("start", "campaign-flyer")
    assert greeting.entry_id is None and greeting.text.startswith("Antwort zu begruessung.")
    [plain] = chat.command("start")
    assert plain.text.startswith("Antwort zu begruessung.")


@pytest.mark.parametrize(("lang", "says"), [("de", "Dieser Link ist nicht (mehr) gültig"), ("en", "This link is not valid (any more)")])
def test_start_with_a_damaged_link_says_the_link_is_not_valid(make: MakeChat, lang: str, says: str) -> None:
    chat = make(book=MemoryReminderBook(tokens={TOKEN: LINKED}, token_errors={TOKEN[:20]: LinkError.DAMAGED}))
    chat.say("English please" if lang == "en" else "bitte auf Deutsch")
    [damaged] = chat.command("start", TOKEN[:20])
    assert damaged.text.startswith(says) and damaged.language == lang
    [plain] = chat.command("start")
    assert not plain.text.startswith(says)
    assert upcoming(chat) == []


def test_link_without_a_code_and_as_text(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.command("link")
    assert "Terminbestätigung" in ask.text
    [bad] = chat.command("link", "nonsense")
    assert "Mit diesem Code kann ich nichts anfangen" in bad.text
    [linked] = chat.say(f"link {TOKEN}")  # typed, e.g. in the console or after "!bot"
    assert linked.text.startswith("Verbunden")
    [question] = chat.say("Link Sperrmüll")  # a question about a link, not a code
    assert question.entry_id == "sperrmuell"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_each_link_error_has_its_own_text(make: MakeChat, lang: str) -> None:
    errors = {f"tok-{e.value}-0123456789": e for e in LinkError if e is not LinkError.MALFORMED}
    chat = make(book=MemoryReminderBook(token_errors=errors))
    chat.say("English please" if lang == "en" else "bitte auf Deutsch")
    texts = [chat.command("link", token)[0] for token in [*errors, "x"]]
    assert all(t.language == lang for t in texts)
    assert len({t.text for t in texts}) == len(LinkError)
    assert upcoming(chat) == []


# --- case status ---------------------------------------------------------------------------------

@pytest.mark.parametrize("said", ["Status RP-2026-004711", "Wo ist mein Reisepass? Vorgangsnummer RP-2026-004711", "Ist mein Ausweis fertig? rp-2026-004711"])
def test_follow_a_case_from_a_message(make: MakeChat, said: str) -> None:
    chat = make()
    [ok] = chat.say(said)
    assert ok.text.startswith("Gut, ich melde mich hier, sobald sich bei Vorgang RP-2026-004711 etwas ändert")
    assert chat.book is not None
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]


@pytest.mark.parametrize("said", ["Wo ist das Bürgerbüro? Ich wohne in 12345", "Is my bulky waste collected in 12345 Musterstadt ready?"])
def test_a_postcode_is_no_case_number(make: MakeChat, said: str) -> None:
    chat = make()
    replies = chat.say(said)
    assert not any("Vorgang" in r.text or "case number" in r.text for r in replies)
    assert chat.book is not None and chat.book.subscriptions(CHAT) == []


def test_unknown_case_says_where_the_number_is_and_takes_a_correction(make: MakeChat) -> None:
    chat = make()
    [unknown] = chat.command("status", "RP-2026-004712")
    assert "„RP-2026-004712“ finde ich nicht" in unknown.text and "Quittung" in unknown.text
    [ok] = chat.say("RP-2026-004711")
    assert ok.text.startswith("Gut, ich melde mich")


def test_status_without_number_asks_for_it(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.command("status")
    assert ask.text.startswith("Wie lautet Ihre Vorgangsnummer?")
    [ok] = chat.say("Die Nummer ist RP-2026-004711.")
    assert ok.text.startswith("Gut, ich melde mich")


# --- waste collection ----------------------------------------------------------------------------

@pytest.mark.parametrize("said", ["Müllabfuhr erinnern Südstadt", "Erinnere mich an die Müllabfuhr in der Suedstat", "erinnerung muell suedstadt"])
def test_waste_reminder_with_a_district(make: MakeChat, said: str) -> None:
    chat = make()
    [ok] = chat.say(said)
    assert ok.text == "Gut, ich erinnere Sie jeweils am Vorabend an die Müllabfuhr in Südstadt."
    assert chat.book is not None
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["suedstadt"]


def test_waste_reminder_offers_the_districts(make: MakeChat) -> None:
    chat = make()
    [offer] = chat.say("waste collection reminder")
    assert offer.text == "For which district shall I remind you of the waste collection?"
    assert [c.label for c in offer.choices] == ["Altstadt Ost", "Nordstadt", "Südstadt"]
    assert all(len(p.encode()) <= 64 for p in chat.payloads(offer))
    [ok] = chat.say("2")
    assert ok.text == "Good, I will remind you the evening before each waste collection in Nordstadt."


def test_waste_district_typed_after_the_offer(make: MakeChat) -> None:
    chat = make()
    chat.command("muell")
    [ok] = chat.say("Altstadt Ost")
    assert ok.text.endswith("in Altstadt Ost.")


def test_waste_without_calendars(make: MakeChat) -> None:
    [reply] = make(book=MemoryReminderBook()).command("muell", "Südstadt")
    assert "keine Abfuhrkalender" in reply.text


def test_match_districts() -> None:
    districts = {**DISTRICTS, "altstadt-west": "Altstadt West"}
    assert match_districts("Südstadt bitte", districts) == ["suedstadt"]
    assert match_districts("Nordstat", districts) == ["nordstadt"]
    assert match_districts("altstadt", districts) == []  # neither Altstadt is named
    assert match_districts("Wetter morgen", districts) == []


# --- my data and deleting ------------------------------------------------------------------------

def _json_block(reply: Reply) -> dict[str, object]:
    m = re.search(r"```json\n(.*)\n```", reply.text, re.DOTALL)
    assert m, reply.text
    data: dict[str, object] = json.loads(m.group(1))
    return data


def test_my_data_is_a_json_document(make: MakeChat) -> None:
    chat = make()
    chat.say("English please")
    chat.command("start", TOKEN)
    chat.book.subscribe_waste(CHAT, "en", "suedstadt")  # type: ignore[union-attr]
    [export] = chat.command("mydata")
    data = _json_block(export)
    assert data["language"] == "en"
    assert data["chat"] == {"channel": "test", "chat_id": "chat-1"}
    reminders = data["reminders"]
    assert isinstance(reminders, dict)
    assert [a["id"] for a in reminders["appointments"]] == ["b-17"]
    assert [s["ref"] for s in reminders["subscriptions"]] == ["suedstadt"]
    [by_intent] = chat.say("What data do you store about me?")
    assert by_intent.entry_id == "meine-daten" and by_intent.text.startswith("For this chat I store your language choice")
    assert _json_block(by_intent)["language"] == "en"


def test_a_subject_cannot_break_out_of_the_code_block(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "```\n**x** [a](https://evil.example)")
    [export] = chat.command("meinedaten")
    assert export.text.count("```") == 2
    assert _json_block(export)["reminders"]["appointments"][0]["subject"].startswith("```")  # type: ignore[index]


def test_delete_forgets_reminders_too(make: MakeChat) -> None:
    chat = make()
    chat.say("English please")
    chat.command("start", TOKEN)
    [ask] = chat.command("delete")
    assert chat.payloads(ask) == ["delete:yes", "delete:no"]
    assert upcoming(chat)  # nothing deleted before the confirmation
    [done] = chat.say("1")
    assert done.text == "Done: I have deleted everything I had stored about this chat. Your reminders have been cancelled."
    assert upcoming(chat) == []
    assert chat.book is not None and chat.book.export(CHAT)["appointments"] == []
    assert chat.states.load(CHAT).language is None


def test_my_data_and_delete_cover_the_other_bots_state_of_the_chat(make: MakeChat) -> None:
    """The same person's language choice with the Welcome Center is theirs too: the citizens' bot
    shows it under "my data" and deletes it with everything else, as it does their reminders."""
    states = MemoryUserStates()
    book = MemoryReminderBook(districts=DISTRICTS)
    citizens, welcome = make(book, states=states, profile="buerger"), make(book, states=states, profile="welcome")
    welcome.say("English please")
    [export] = citizens.command("meinedaten")
    data = _json_block(export)
    assert data["language"] is None
    assert data["other_bots"] == {"welcome": {"language": "en", "offered_choices": [], "dialogue_in_progress": {}, "conversation": {}}}
    assert "other_bots" not in _json_block(welcome.command("mydata")[0])  # the citizens' bot stored nothing
    [ask] = citizens.command("loeschen")
    citizens.say(choice=ask.choices[0].payload)
    assert states.export(ChatRef("test", "chat-1")) == {}
    [reply] = welcome.say("Sperrmüll anmelden")
    assert reply.language == "de"


def test_my_data_lists_the_chats_unanswered_questions(make: MakeChat) -> None:
    chat = make()
    chat.say("Ich heiße Erika Mustermann, wann kommt mein Wohngeld?")
    CollectingChannel(chat.dialogue, chat_id="someone-else").say("Wer hat gestern das Spiel gewonnen?")
    data = _json_block(chat.command("meinedaten")[0])
    assert data["unanswered_questions"] == [{"asked_at": NOW.isoformat(timespec="seconds"), "text": "Ich heiße Erika Mustermann, wann kommt mein Wohngeld?"}]


# --- without a reminder book ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "ask",
    [("termin", "3.12. 10:30"), ("erinnerungen", ""), ("link", TOKEN), ("status", "RP-2026-004711"), ("muell", "")],
)
def test_without_a_book_the_bot_says_so(make: MakeChat, ask: tuple[str, str]) -> None:
    [reply] = make(book=None).command(*ask)
    assert reply.text.startswith("Erinnerungen gibt es in diesem Chat leider nicht.")


def test_without_a_book_messages_and_start_behave(make: MakeChat) -> None:
    chat = make(book=None)
    [said] = chat.say("Erinnere mich an meinen Termin am 3.12. um 10:30")
    assert said.text.startswith("Erinnerungen gibt es in diesem Chat leider nicht.")
    [greeting] = chat.command("start", TOKEN)
    assert greeting.text.startswith("Antwort zu begruessung.")
    [export] = chat.command("meinedaten")
    assert "reminders" not in _json_block(export)
    [ask] = chat.command("loeschen")
    [done] = chat.say(choice=ask.choices[0].payload)
    assert done.text.startswith("Erledigt: Ich habe alles gelöscht")


# --- pieces --------------------------------------------------------------------------------------

def test_every_reminder_command_is_a_dialogue_command() -> None:
    assert REMINDER_COMMANDS <= COMMANDS
    assert {"loeschen", "delete"} <= COMMANDS


@pytest.mark.parametrize(
    ("said", "lenient", "expected"),
    [
        ("Status RP-2026-004711.", False, "RP-2026-004711"),
        ("Aktenzeichen: 2026/12345", False, "2026/12345"),
        ("am 03.12.2026 um 10:30", False, None),
        ("Telefon +49 1234", False, None),
        ("AB-12", False, None),
        ("AB-12", True, "AB-12"),
    ],
)
def test_find_reference(said: str, lenient: bool, expected: str | None) -> None:
    assert find_reference(said, lenient) == expected


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
