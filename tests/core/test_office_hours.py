"""Opening hours asked in the chat, answered from the offices' hours through the dialogue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.validation import check
from tests.conftest import MONDAY_10, TINY_OFFICES, CollectingChannel

OFFICES = TINY_OFFICES + """\
  - id: standesamt
    name: {de: "Standesamt", en: "Registry Office (Standesamt)"}
    aliases: {de: ["Trauamt"], en: ["registry office", "register office"]}
    address: "Schlossstraße 4, 12345 Musterstadt"
    phone: "+49 1234 567-1200"
    hours:
      mon: ["08:00-12:00"]
      tue: ["08:00-12:00", "13:30-15:30"]
      wed: ["08:00-12:00"]
      thu: ["08:00-12:00", "13:30-17:30"]
      fri: ["08:00-12:00"]
    closed: [2026-12-24]
  - id: auslaenderbehoerde
    name: {de: "Ausländerbehörde", en: "Foreigners' Authority"}
    aliases: {en: ["immigration office"]}
    address: "Bahnhofstraße 22, 12345 Musterstadt"
    phone: "+49 1234 567-1600"
    hours:
      mon: ["08:00-12:00"]
      thu: ["08:00-12:00", "13:00-17:00"]
"""
CHRISTMAS = dt.date(2026, 12, 25)


@pytest.fixture
def hours_kb(tiny_kb: Path) -> Path:
    text = (tiny_kb / "offices.yaml").read_text(encoding="utf-8")
    (tiny_kb / "offices.yaml").write_text(text.replace(TINY_OFFICES, OFFICES), encoding="utf-8")
    # The Bürgerbüro closes on Christmas Eve too (a `closed` day), and Christmas is a holiday.
    path = tiny_kb / "offices.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('      fri: ["08:00-12:00"]\n  - id: buergertelefon', '      fri: ["08:00-12:00"]\n    closed: [2026-12-24]\n  - id: buergertelefon', 1), encoding="utf-8")
    return tiny_kb


def chat_at(kb: Path, clock: dt.datetime = MONDAY_10, **settings: object) -> CollectingChannel:
    live = LiveKnowledge([kb])
    unanswered = MemoryUnansweredLog()
    dialogue = Dialogue(
        knowledge=lambda: live.snapshot, states=MemoryUserStates(), unanswered=unanswered,
        settings=DialogueSettings(popular=("personalausweis", "sperrmuell"), **settings),  # type: ignore[arg-type]
        clock=lambda: clock, is_holiday=lambda day: day == CHRISTMAS,
    )
    chat = CollectingChannel(dialogue)
    chat.unanswered = unanswered  # type: ignore[attr-defined]
    return chat


def test_opening_hours_of_a_named_office_as_a_weekly_table(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    [reply] = chat.say("Öffnungszeiten Standesamt")
    assert reply.language == "de" and reply.entry_id is None
    lines = reply.text.splitlines()
    assert lines[:5] == [
        "**Öffnungszeiten: Standesamt**",
        "Mo, Mi, Fr: 08:00–12:00 Uhr",
        "Di: 08:00–12:00, 13:30–15:30 Uhr",
        "Do: 08:00–12:00, 13:30–17:30 Uhr",
        "Sa, So: geschlossen",
    ]
    assert "Standesamt hat jetzt geöffnet, heute bis 12:00 Uhr." in reply.text
    assert "Schlossstraße 4" in reply.text
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_is_it_open_today_says_when_it_opens_next(hours_kb: Path) -> None:
    [reply] = chat_at(hours_kb, dt.datetime(2026, 11, 27, 15, 0)).say("Hat das Bürgerbüro heute geöffnet?")  # Friday afternoon
    assert "Mo, Di: 08:00–16:00 Uhr" in reply.text and "Do: 08:00–18:00 Uhr" in reply.text
    assert "Bürgerbüro ist gerade geschlossen. Nächste Öffnung: Montag, 08:00 Uhr." in reply.text


def test_an_asked_weekday_and_time(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    [thursday] = chat.say("Hat das Bürgerbüro am Donnerstag geöffnet?")
    assert "Am Do 26.11. hat Bürgerbüro geöffnet: 08:00–18:00 Uhr." in thursday.text
    assert "jetzt geöffnet" not in thursday.text
    [evening] = chat.say("Ist das Standesamt am Donnerstag um 18 Uhr offen?")
    assert "Am Do 26.11. um 18:00 Uhr ist Standesamt geschlossen; geöffnet ist an dem Tag 08:00–12:00, 13:30–17:30 Uhr." in evening.text
    [sunday] = chat.say("Is the registry office open on Sunday?")
    assert "On Sun 29 Nov, Registry Office (Standesamt) is closed. Next opening: Mon 30 Nov, 08:00." in sunday.text


def test_closing_days_and_holidays_of_the_asked_date_and_the_weeks_ahead(hours_kb: Path) -> None:
    [eve] = chat_at(hours_kb).say("Hat das Bürgerbüro am 24.12. geöffnet?")
    # Christmas Eve is a closing day, Christmas a holiday; the weekend follows.
    assert "Am Do 24.12. ist Bürgerbüro geschlossen (Schließtag). Nächste Öffnung: Mo 28.12., 08:00 Uhr." in eve.text
    [ahead] = chat_at(hours_kb, dt.datetime(2026, 12, 21, 9, 0)).say("Wann hat das Bürgerbüro offen?")
    assert "Geschlossen trotz Öffnungszeit: Do 24.12. (Schließtag), Fr 25.12. (Feiertag)." in ahead.text


def test_english_questions_name_the_office_by_alias_or_its_german_name(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    [alias] = chat.say("when is the immigration office open")
    assert alias.language == "en"
    assert alias.text.startswith("**Opening hours: Foreigners' Authority**\nMon: 08:00–12:00\nThu: 08:00–12:00, 13:00–17:00\n")
    assert "Foreigners' Authority is open now, today until 12:00." in alias.text
    [german_name] = chat.say("opening hours of the Ausländerbehörde")
    assert german_name.text == alias.text


def test_the_topic_names_the_office(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    [same_message] = chat.say("where do I apply for an identity card, when are they open")
    assert same_message.text.startswith("**Opening hours: Citizens' Office**")
    later = chat_at(hours_kb)
    [answer] = later.say("Personalausweis beantragen")
    assert answer.entry_id == "personalausweis"
    [follow_up] = later.say("Und wann haben die offen?")
    assert follow_up.text.startswith("**Öffnungszeiten: Bürgerbüro**")


def test_the_topic_expires(hours_kb: Path) -> None:
    now = [MONDAY_10]
    chat = chat_at(hours_kb, context_minutes=30)
    chat.dialogue.clock = lambda: now[0]
    chat.say("Personalausweis beantragen")
    now[0] = MONDAY_10 + dt.timedelta(minutes=31)
    [late] = chat.say("Und wann haben die offen?")
    assert "Öffnungszeiten: Bürgerbüro" not in late.text


def test_shop_hours_never_get_the_city_offices_hours(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    chat.say("Personalausweis beantragen")  # a topic with an office is in context
    for question in ("Wann hat das Möbelhaus offen?", "Hat der Supermarkt am Samstag geöffnet?", "Is the supermarket open on Sunday?",
                     "hat der Baumarkt am Samstag auf"):
        [reply] = chat.say(question)
        assert "08:00" not in reply.text and "Bürgerbüro hat" not in reply.text, question
        assert "Geschäften" in reply.text or "shops" in reply.text


def test_other_meanings_of_open_are_no_hours_question(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    chat.say("Personalausweis beantragen")
    for question in ("I want to open a business", "Ist mein Antrag beim Standesamt noch offen?", "Wie viel Geld steht mir zu?",
                     "my shop closed, how do I deregister the business",
                     "Wir möchten die Läden am Sonntag aufmachen, wer genehmigt das?"):
        [reply] = chat.say(question)
        assert "Öffnungszeiten" not in reply.text and "Opening hours" not in reply.text, question


def test_aliases_need_a_language_key(hours_kb: Path) -> None:
    path = hours_kb / "offices.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('aliases: {en: ["immigration office"]}', 'aliases: {english: ["immigration office"]}'), encoding="utf-8")
    errors = [str(p) for p in check([hours_kb]).problems if p.severity == "error"]
    assert len(errors) == 1 and "'english' is not a two-letter language code" in errors[0]


def test_a_day_or_an_office_alone_follows_up_an_hours_answer(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    chat.say("Wann hat das Standesamt offen?")
    [sunday] = chat.say("und am Sonntag?")
    assert "Am So 29.11. ist Standesamt geschlossen. Nächste Öffnung: Mo 30.11., 08:00 Uhr." in sunday.text
    [eve] = chat.say("auch am 24.12.?")
    assert "Am Do 24.12. ist Standesamt geschlossen (Schließtag)." in eve.text
    [other] = chat.say("und das Bürgerbüro?")
    assert other.text.startswith("**Öffnungszeiten: Bürgerbüro**")
    [english] = chat.say("are they open on wednesday?")
    assert "On Wed 25 Nov, Citizens' Office is open: 08:00–12:00." in english.text


def test_after_shop_hours_an_office_named_alone_gets_its_hours(hours_kb: Path) -> None:
    chat = chat_at(hours_kb)
    chat.say("Wann hat das Möbelhaus offen?")
    [office] = chat.say("und das Standesamt?")
    assert office.text.startswith("**Öffnungszeiten: Standesamt**")


def test_a_day_alone_without_an_hours_answer_before_is_no_hours_question(hours_kb: Path) -> None:
    [reply] = chat_at(hours_kb).say("und am Sonntag?")
    assert "Öffnungszeiten" not in reply.text


def test_an_office_is_named_by_its_translation_without_the_brackets(hours_kb: Path) -> None:
    path = hours_kb / "offices.yaml"
    road_traffic = """\
  - id: strassenverkehrsamt
    name: {de: "Straßenverkehrsamt", en: "Road Traffic Office (vehicle registration)"}
    address: "Industriestraße 7, 12345 Musterstadt"
    phone: "+49 1234 567-1500"
    hours:
      mon: ["07:30-12:00"]
"""
    path.write_text(path.read_text(encoding="utf-8") + road_traffic, encoding="utf-8")
    chat = chat_at(hours_kb)
    kb = chat.dialogue.snapshot().knowledge
    assert chat.dialogue.office_named(kb, "my appointment at the road traffic office") == "strassenverkehrsamt"
    assert chat.dialogue.office_named(kb, "an appointment for the vehicle") is None
    assert "Road Traffic Office" in chat.plain("opening hours of the road traffic office")
