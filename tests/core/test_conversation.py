"""A conversation beyond single questions: words for choices and confirmations, what the fallback
notes, the reply language per message, and follow-ups on the last topic."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.dialogue import CHOICE_ENTRY, Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.models import ChatRef
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from tests.conftest import REPO, CollectingChannel, entry_yaml

MakeChat = Callable[..., CollectingChannel]
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)  # a Monday


@pytest.fixture
def chat_with_book(tiny_kb: Path) -> Callable[[], CollectingChannel]:
    """The tiny knowledge plus the real intents about reminders and data, with a reminder book."""
    shutil.copy(REPO / "intents" / "my-data.yaml", tiny_kb / "my-data.yaml")
    live = LiveKnowledge([tiny_kb])

    def make() -> CollectingChannel:
        book = MemoryReminderBook()
        unanswered = MemoryUnansweredLog()
        dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), unanswered, DialogueSettings(popular=("personalausweis",)),
                            clock=lambda: NOW, book=book)
        chat = CollectingChannel(dialogue)
        chat.book = book  # type: ignore[attr-defined]
        chat.unanswered = unanswered  # type: ignore[attr-defined]
        return chat

    return make


# --- words for choices and confirmations ---------------------------------------------------------

@pytest.mark.parametrize(("said", "position"), [("das zweite", 1), ("die erste", 0), ("Die Erste bitte", 0), ("the first one", 0), ("Nr. 2", 1), ("das letzte", 1)])
def test_ordinal_words_pick_from_the_offered_topics(make_chat: MakeChat, said: str, position: int) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [offer] = chat.say("Wohnsitz")
    assert len(offer.choices) == 2
    [answer] = chat.say(said)
    assert CHOICE_ENTRY + str(answer.entry_id) == offer.choices[position].payload


def test_a_topics_title_picks_it(make_chat: MakeChat) -> None:
    # A bar so high that only suggestions are made: the title typed back is no answer by itself.
    chat = make_chat(threshold=0.95, suggest_ratio=0.2)
    [offer] = chat.say("Wohnsitz")
    assert "Titel wohnsitz-abmelden" in [c.label for c in offer.choices]
    [answer] = chat.say("Titel wohnsitz-abmeldn")  # with a typo
    assert answer.entry_id == "wohnsitz-abmelden"


def test_yes_takes_a_single_suggestion_and_no_declines_it(make_chat: MakeChat) -> None:
    chat = make_chat(threshold=0.3, ambiguity_gap=0.5)
    [offer] = chat.say("Hallo Wohnsitz")
    assert [c.payload for c in offer.choices] == [CHOICE_ENTRY + "wohnsitz-anmelden"]
    [taken] = chat.say("Ja genau")
    assert taken.entry_id == "wohnsitz-anmelden"
    chat.say("Hallo Wohnsitz")
    [declined] = chat.say("nope")
    assert declined.entry_id is None and "anderen Worten" in declined.text
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_yes_to_a_list_of_several_asks_for_the_number_and_keeps_the_list(make_chat: MakeChat) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [offer] = chat.say("Wohnsitz")
    [hint] = chat.say("ja")
    assert hint.text == "Antworten Sie mit der Nummer oder tippen Sie auf ein Thema."
    [out_of_range] = chat.say("7")
    assert out_of_range.text == hint.text
    [answer] = chat.say("2")
    assert CHOICE_ENTRY + str(answer.entry_id) == offer.choices[1].payload


@pytest.mark.parametrize("said", ["Ja", "jawohl", "klar", "ja, alles löschen"])
def test_words_confirm_the_deletion(chat_with_book: Callable[[], CollectingChannel], said: str) -> None:
    chat = chat_with_book()
    chat.say("Personalausweis beantragen")
    chat.command("loeschen")
    [done] = chat.say(said)
    assert done.text.startswith("Erledigt: Ich habe alles gelöscht")
    assert chat.dialogue.states.export(ChatRef("test", "chat-1")) == {}


@pytest.mark.parametrize("said", ["nein", "Nein danke", "nicht löschen"])
def test_words_refuse_the_deletion(chat_with_book: Callable[[], CollectingChannel], said: str) -> None:
    chat = chat_with_book()
    chat.command("loeschen")
    [kept] = chat.say(said)
    assert kept.text == "In Ordnung, ich habe nichts gelöscht."


def test_words_confirm_a_reminder(chat_with_book: Callable[[], CollectingChannel]) -> None:
    chat = chat_with_book()
    [confirm] = chat.say("Erinnere mich an meinen Termin am 3.12. um 10:30")
    assert confirm.choices
    [saved] = chat.say("klar")
    assert saved.text.startswith("Gespeichert: Ihr Termin am Do 3.12., 10:30 Uhr.")
    assert len(chat.book.upcoming(ChatRef("test", "chat-1"), NOW)) == 1  # type: ignore[attr-defined]
    chat.say("Erinnere mich an meinen Termin am 4.12. um 9:00")
    [refused] = chat.say("lieber nicht")
    assert refused.text.startswith("Gut, ich habe nichts gespeichert.")
    assert len(chat.book.upcoming(ChatRef("test", "chat-1"), NOW)) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("said", ["1", "ja", "Nein", "ok", "yes"])
def test_a_number_or_yes_with_nothing_pending_gets_a_hint_and_is_not_noted(make_chat: MakeChat, said: str) -> None:
    chat = make_chat()
    [hint] = chat.say(said)
    assert hint.text in (
        "Gerade ist bei mir keine Auswahl und keine Rückfrage offen. Schreiben Sie mir Ihre Frage einfach in ein paar Worten.",
        "There is nothing to choose or confirm right now. Just send me your question in a few words.",
    )
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


# --- what the fallback notes for the team ------------------------------------------------------

@pytest.mark.parametrize("said", ["x", "lol", "du Idiot", "Scheißbot", "you are useless", "hmm ok"])
def test_noise_and_insults_are_not_noted_nor_promised(make_chat: MakeChat, said: str) -> None:
    chat = make_chat()
    [reply] = chat.say(said)
    assert chat.unanswered.records == []  # type: ignore[attr-defined]
    assert "notiert" not in reply.text and "noted" not in reply.text


def test_chit_chat_near_small_talk_is_not_noted(make_chat: MakeChat, tiny_kb: Path) -> None:
    with (tiny_kb / "entries.yaml").open("a", encoding="utf-8") as f:
        f.write(entry_yaml("plaudern", ["Wie geht es dir?", "Bist du ein Roboter?", "Magst du Fußball?"],
                           ["How are you?", "Are you a robot?", "Do you like football?"], "    action: small_talk\n", kind="intent"))
    chat = make_chat(threshold=0.9, suggest_ratio=0.3)  # near small talk, below the answer bar
    [reply] = chat.say("magst du eigentlich fussball")
    assert reply.entry_id == "plaudern" and reply.text == "Antwort zu plaudern."  # says what the bot is for
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_questions_staff_listed_as_off_topic_are_not_noted(make_chat: MakeChat, tiny_kb: Path) -> None:
    (tiny_kb / "off-topic.yaml").write_text("off_topic:\n  de:\n    - Wer hat gestern das Spiel gewonnen?\n", encoding="utf-8")
    chat = make_chat()
    [reply] = chat.say("wer hat gestern das spiel gewonnen")
    assert reply.entry_id is None and "notiert" not in reply.text
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_a_real_question_is_noted_and_says_so(make_chat: MakeChat) -> None:
    chat = make_chat()
    [reply] = chat.say("Wo kann ich einen Angelschein machen?")
    assert "für unser Team notiert" in reply.text
    assert [r[0] for r in chat.unanswered.records] == ["Wo kann ich einen Angelschein machen?"]  # type: ignore[attr-defined]


# --- the reply language per message --------------------------------------------------------------

def test_each_message_is_answered_in_its_language(make_chat: MakeChat) -> None:
    chat = make_chat()
    assert chat.say("How do I apply for an identity card?")[0].language == "en"
    assert chat.say("Sperrmüll anmelden")[0].language == "de"
    assert chat.say("How do I book bulky waste pick-up?")[0].language == "en"
    [hint] = chat.say("ok")  # no language of its own: the last reply's
    assert hint.language == "en"


def test_a_number_is_answered_in_the_language_of_its_list(make_chat: MakeChat) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [offer] = chat.say("Wohnsitz", language_hint="en")  # a German word; the phone is set to English
    assert offer.language == "en" and offer.text == "Did you mean …?"
    [answer] = chat.say("1")
    assert answer.language == "en" and answer.text.startswith("**Title wohnsitz-")
    [german_offer] = chat.say("Wohnsitz anmelden oder abmelden, was brauche ich?", language_hint="en")
    assert german_offer.language == "de"
    [picked] = chat.say(choice=german_offer.choices[1].payload, language_hint="en")
    assert picked.language == "de" and picked.text.startswith("**Titel wohnsitz-")


@pytest.mark.parametrize("said", [
    "Привіт! Як отримати паспорт?", "Merhaba, kimlik kartı için ne lazım?", "مرحبا، أين مكتب الأجانب؟",
    "Tôi muốn đăng ký địa chỉ nhà ở Musterstadt", "Dzień dobry, gdzie mogę się zameldować w Musterstadt?",
])
def test_a_language_the_bot_does_not_serve_gets_the_languages_it_does(make_chat: MakeChat, said: str) -> None:
    chat = make_chat()
    [reply] = chat.say(said)
    assert reply.text == (
        "I understand and answer messages in German and English. Please write to me in one of these languages.\n\n"
        "Ich verstehe und beantworte Nachrichten auf Deutsch und Englisch. Bitte schreiben Sie mir in einer dieser Sprachen."
    )
    assert reply.language == "en"
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_asking_for_a_language_the_bot_does_not_serve_keeps_the_language(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say("English please")
    [reply] = chat.say("Do you speak Ukrainian?")
    assert reply.language == "en" and reply.text.startswith("I understand and answer messages in German and English.")
    assert chat.say("ok")[0].language == "en"


# --- follow-ups on the last topic ----------------------------------------------------------------

FACET_ENTRY = entry_yaml(
    "reisepass", ["Reisepass beantragen", "neuen Reisepass bekommen", "Reisepass abgelaufen"],
    ["apply for a passport", "new passport", "passport expired"],
    "    office: buergerbuero\n    links:\n      - kind: form\n        url: https://musterstadt.example/online/reisepass\n"
    "        label: {de: Termin buchen, en: Book an appointment}\n",
).replace(
    "      answer: Antwort zu reisepass.\n",
    "      answer: |\n        Den Reisepass beantragen Sie im Bürgerbüro.\n        - Kosten: **70,00 €**\n        - Dauer: etwa vier Wochen\n",
).replace(
    "      answer: Answer about reisepass.\n",
    "      answer: |\n        You apply at the Bürgerbüro.\n        - Fee: **€70.00**\n        - It usually takes four weeks\n      documents: [your old passport, a biometric photo]\n",
)


@pytest.fixture
def facet_chat(make_chat: MakeChat, tiny_kb: Path) -> Callable[..., CollectingChannel]:
    with (tiny_kb / "entries.yaml").open("a", encoding="utf-8") as f:
        f.write(FACET_ENTRY)
    return make_chat


def test_follow_ups_answer_one_side_of_the_last_topic(facet_chat: MakeChat) -> None:
    chat = facet_chat()
    assert chat.say("Reisepass beantragen")[0].entry_id == "reisepass"
    [cost] = chat.say("Was kostet das?")
    assert cost.text == "**Titel reisepass: Kosten**\n\n- Kosten: **70,00 €**" and cost.entry_id == "reisepass"
    [duration] = chat.say("und wie lange dauert das?")
    assert duration.text == "**Titel reisepass: Dauer**\n\n- Dauer: etwa vier Wochen"
    [where] = chat.say("Wo ist das?")
    assert "Marktplatz 1" in where.text and "Bürgerbüro hat jetzt geöffnet" in where.text
    [online] = chat.say("online?")
    assert online.buttons[0].url == "https://musterstadt.example/online/reisepass"
    [how_much] = chat.say("how much?")
    assert how_much.language == "en" and how_much.text == "**Title reisepass: Costs**\n\n- Fee: **€70.00**"
    [bring] = chat.say("what do I need to bring?")  # the structured field answers first
    assert bring.text == "**Title reisepass: What to bring**\n\n- your old passport\n- a biometric photo"
    [missing] = chat.say("Was brauche ich dafür?")  # nothing about it in German: the whole answer
    assert missing.text.startswith("Dazu habe ich bei „Titel reisepass“ keine eigene Angabe.") and "Den Reisepass beantragen" in missing.text
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_und_auf_englisch_repeats_the_answer_in_english(facet_chat: MakeChat) -> None:
    chat = facet_chat()
    chat.say("Reisepass beantragen")
    switched, again = chat.say("und auf Englisch?")
    assert switched.text == "All right, I will answer in English from now on."
    assert again.language == "en" and again.entry_id == "reisepass" and "You apply at the Bürgerbüro." in again.text


def test_a_follow_up_needs_a_fresh_topic_and_a_question_naming_another_topic_is_none(facet_chat: MakeChat) -> None:
    now = [dt.datetime(2026, 11, 23, 10, 0)]
    chat = facet_chat(context_minutes=30)
    chat.dialogue.clock = lambda: now[0]
    chat.say("Reisepass beantragen")
    [other] = chat.say("Was kostet der Sperrmüll?")
    assert other.entry_id == "sperrmuell"
    now[0] += dt.timedelta(minutes=31)
    [late] = chat.say("Was kostet das?")
    assert "70,00" not in late.text and late.entry_id != "reisepass"


def test_an_ordinal_outside_the_list_keeps_it_open(make_chat: MakeChat) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [offer] = chat.say("Wohnsitz")
    [hint] = chat.say("das dritte")
    assert hint.text == "Antworten Sie mit der Nummer oder tippen Sie auf ein Thema."
    [answer] = chat.say("das erste")
    assert CHOICE_ENTRY + str(answer.entry_id) == offer.choices[0].payload
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_a_follow_up_without_a_topic_asks_for_it(facet_chat: MakeChat) -> None:
    chat = facet_chat()
    [reply] = chat.say("Was kostet das?")
    assert reply.text.startswith("Worum geht es dabei?")
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_an_ordinal_with_nothing_pending_gets_the_hint(make_chat: MakeChat) -> None:
    chat = make_chat()
    chat.say("Sperrmüll anmelden")
    [hint] = chat.say("das zweite")
    assert hint.text.startswith("Gerade ist bei mir keine Auswahl")
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_an_insult_near_small_talk_gets_the_plain_fallback(make_chat: MakeChat, tiny_kb: Path) -> None:
    with (tiny_kb / "entries.yaml").open("a", encoding="utf-8") as f:
        f.write(entry_yaml("plaudern", ["Wie geht es dir?", "Bist du ein Roboter?", "Du bist nutzlos"],
                           ["How are you?", "Are you a robot?", "You are useless"], "    action: small_talk\n", kind="intent"))
    chat = make_chat()
    [reply] = chat.say("du bist echt nutzlos")
    assert reply.entry_id is None and reply.text.startswith("Dazu habe ich leider keine Antwort.")
    assert chat.unanswered.records == []  # type: ignore[attr-defined]


def test_ok_alone_does_not_delete(chat_with_book: Callable[[], CollectingChannel]) -> None:
    chat = chat_with_book()
    chat.say("Personalausweis beantragen")
    chat.command("loeschen")
    [hint] = chat.say("ok")
    assert hint.text == "Antworten Sie mit der Nummer oder tippen Sie auf ein Thema."
    assert chat.dialogue.states.export(ChatRef("test", "chat-1")) != {}
    [done] = chat.say("ja")  # the question is still open
    assert done.text.startswith("Erledigt")
