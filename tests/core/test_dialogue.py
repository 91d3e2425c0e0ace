"""The dialogue through the collecting channel: what a citizen sees for each kind of message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.dialogue import CHOICE_ENTRY, Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import ChatRef, Incoming
from bot.core.ports import MemoryUnansweredLog, MemoryUsageLog, MemoryUserStates
from tests.conftest import MONDAY_10, CollectingChannel, entry_yaml

MakeChat = Callable[..., CollectingChannel]


def test_answer_with_form_button_and_office(make_chat: MakeChat) -> None:
    chat = make_chat()
    [reply] = chat.say("Perso beantragen")
    assert reply.entry_id == "personalausweis"
    assert reply.language == "de"
    assert "Antwort zu personalausweis." in reply.text
    assert reply.buttons[0].url == "https://musterstadt.example/online/personalausweis"
    assert "Bürgerbüro hat jetzt geöffnet, heute bis 16:00 Uhr." in reply.text


def test_answer_in_english(make_chat: MakeChat) -> None:
    [reply] = make_chat().say("How do I apply for an identity card?")
    assert reply.language == "en"
    assert "Answer about personalausweis." in reply.text
    assert reply.buttons[0].label == "Book an appointment"


def test_closed_office_says_when_it_opens(make_chat: MakeChat) -> None:
    chat = make_chat(clock=dt.datetime(2026, 11, 27, 15, 0))  # Friday afternoon
    [reply] = chat.say("Personalausweis beantragen")
    assert "Bürgerbüro ist gerade geschlossen. Nächste Öffnung: Montag, 08:00 Uhr." in reply.text


def test_fallback_is_honest_and_records_without_user(make_chat: MakeChat) -> None:
    chat = make_chat()
    replies = chat.say("Wie wird das Wetter morgen in Paris?")
    assert "keine sichere Antwort" in replies[0].text
    assert "+49 1234 115" in replies[0].text
    records = chat.unanswered.records  # type: ignore[attr-defined]
    assert len(records) == 1
    text, lang, channel, _ = records[0]
    assert (text, lang, channel) == ("Wie wird das Wetter morgen in Paris?", "de", "test")
    assert "chat-1" not in repr(records)


def test_emergency_answers_first(make_chat: MakeChat) -> None:
    [reply] = make_chat().say("Hilfe, es brennt!")
    assert reply.entry_id == "notruf"


def test_an_emergency_leading_the_ranking_answers_from_the_lower_suggestion_bar(make_chat: MakeChat) -> None:
    # "Hilfe, es brennt!" scores about 0.5 in the tiny knowledge: below this threshold, above its bar.
    [reply] = make_chat(threshold=0.8, suggest_ratio=0.5).say("Hilfe, es brennt!")
    assert reply.entry_id == "notruf"
    [unsure] = make_chat(threshold=0.8, suggest_ratio=0.5).say("Wohnsitz")  # the same bar only suggests other topics
    assert unsure.entry_id is None and unsure.choices
    [fallback] = make_chat(threshold=0.95, suggest_ratio=0.9).say("Hilfe, es brennt!")
    assert fallback.entry_id is None


def test_close_candidates_offer_a_choice_and_number_picks(make_chat: MakeChat) -> None:
    chat = make_chat(ambiguity_gap=0.5)
    [reply] = chat.say("Wohnsitz")
    assert reply.text == "Meinten Sie …?"
    assert {c.payload for c in reply.choices} == {CHOICE_ENTRY + "wohnsitz-anmelden", CHOICE_ENTRY + "wohnsitz-abmelden"}
    first = reply.choices[0].payload
    [answer] = chat.say("1")
    assert CHOICE_ENTRY + str(answer.entry_id) == first


def test_small_talk_is_never_offered_as_a_topic(make_chat: MakeChat) -> None:
    chat = make_chat(threshold=0.3, ambiguity_gap=0.5)
    [reply] = chat.say("Guten Tag, ich habe eine Frage zum Sperrmüll")  # the topic wins, the greeting is close
    assert reply.entry_id == "sperrmuell" and not reply.choices
    [offer] = chat.say("Hallo Wohnsitz")  # the greeting wins, a topic is close behind: ask about the topic
    assert offer.text == "Meinten Sie …?"
    assert [c.payload for c in offer.choices] == [CHOICE_ENTRY + "wohnsitz-anmelden"]


def test_button_choice_and_forged_payload(make_chat: MakeChat) -> None:
    chat = make_chat()
    [reply] = chat.say(choice=CHOICE_ENTRY + "sperrmuell")
    assert reply.entry_id == "sperrmuell"
    [forged] = chat.say(choice="entry:../../etc/passwd")
    assert "nicht verstanden" in forged.text


def test_greeting_shows_popular_topics(make_chat: MakeChat) -> None:
    [reply] = make_chat().say("Hallo")
    assert reply.entry_id == "begruessung"
    assert [c.payload for c in reply.choices] == [CHOICE_ENTRY + "personalausweis", CHOICE_ENTRY + "sperrmuell"]


def test_language_choice_is_remembered_for_messages_without_language(make_chat: MakeChat) -> None:
    chat = make_chat()
    [switched] = chat.say("English please")
    assert switched.language == "en"
    [hint] = chat.say("ok")  # carries no language: the chosen one decides
    assert hint.language == "en"
    [reply] = chat.say("Sperrmüll anmelden")  # a German question is answered in German
    assert reply.language == "de" and "Antwort zu sperrmuell." in reply.text
    [again] = chat.say("ok")
    assert again.language == "en"


def test_seasonal_entry_outside_its_window_is_not_answered(make_chat: MakeChat, tiny_kb: Path) -> None:
    path = tiny_kb / "entries.yaml"
    text = path.read_text(encoding="utf-8").replace("  - id: sperrmuell\n    kind: faq\n", "  - id: sperrmuell\n    kind: faq\n    valid_until: 2026-01-31\n")
    path.write_text(text, encoding="utf-8")
    [reply, *_] = make_chat().say("Sperrmüll anmelden")
    assert reply.entry_id != "sperrmuell"


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "   \n\t ",
        "🙂🙂🙂🎉",
        "\x00\x01\x02\xff binär",
        "A" * 100_000,
        "<script>alert('x')</script>",
        "**fett** [klick](javascript:alert(1)) `code`",
        "\u202eevil\u200b\u200d",
        "Perso " * 20_000,
        "Sperrmüll please und auch Wohnsitz",
    ],
)
def test_hostile_input_gets_a_safe_reply(make_chat: MakeChat, hostile: str) -> None:
    chat = make_chat()
    replies = chat.say(hostile)
    assert replies
    for r in replies:
        assert r.text
        assert "<script>" not in r.text and "javascript:" not in r.text
        assert len(r.text) < 5000


def test_commands(make_chat: MakeChat) -> None:
    chat = make_chat()
    [start] = chat.dialogue.handle(Incoming("test", "c", "", command="start", argument="abc"))
    assert start.text.startswith("Antwort zu begruessung.") and start.choices
    [lang] = chat.dialogue.handle(Incoming("test", "c", "", command="language"))
    assert [c.payload for c in lang.choices] == ["lang:de", "lang:en"]
    [unknown] = chat.dialogue.handle(Incoming("test", "c", "", command="frobnicate"))
    assert "Befehl kenne ich nicht" in unknown.text


def test_profile_greeting_and_english_default(make_chat: MakeChat) -> None:
    chat = make_chat(default_language="en", greeting={"en": "Welcome to the Welcome Center!", "de": "Willkommen!"})
    [reply] = chat.dialogue.handle(Incoming("test", "c", "", command="start"))
    assert reply.text.startswith("Welcome to the Welcome Center!")
    assert reply.language == "en"


def test_delete_my_data_needs_confirmation(tiny_kb: Path) -> None:
    (tiny_kb / "intents.yaml").write_text(
        "entries:\n" + entry_yaml("daten-loeschen", ["Meine Daten löschen", "Lösche alles über mich", "Daten löschen"],
                                  ["delete my data", "erase my data", "delete everything about me"], "    action: delete_data\n", kind="intent"),
        encoding="utf-8",
    )
    live = LiveKnowledge([tiny_kb])
    states = MemoryUserStates()
    chat = CollectingChannel(Dialogue(lambda: live.snapshot, states, MemoryUnansweredLog(), clock=lambda: MONDAY_10))
    chat.say("English please")
    assert states.load(ChatRef("test", "chat-1")).language == "en"
    [ask] = chat.say("delete my data")
    assert [c.payload for c in ask.choices] == ["delete:yes", "delete:no"]
    assert states.load(ChatRef("test", "chat-1")).language == "en"  # nothing deleted yet
    [done] = chat.say("1")
    assert "deleted everything" in done.text
    assert states.load(ChatRef("test", "chat-1")).language is None


def test_delete_my_data_deletes_the_chats_unanswered_questions(tiny_kb: Path) -> None:
    """A question the bot could not answer may hold a name: it is the chat's data too."""
    live = LiveKnowledge([tiny_kb])
    unanswered = MemoryUnansweredLog()
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), unanswered, clock=lambda: MONDAY_10)
    erika, other = CollectingChannel(dialogue, chat_id="erika"), CollectingChannel(dialogue, chat_id="other")
    erika.say("Ich heiße Erika Mustermann, wann kommt mein Wohngeld?")
    other.say("Wer hat gestern das Spiel gewonnen?")
    assert len(unanswered.records) == 2
    erika.command("loeschen")
    assert "gelöscht" in erika.say("1")[0].text
    assert [r[0] for r in unanswered.records] == ["Wer hat gestern das Spiel gewonnen?"]


def test_two_bots_keep_their_own_state_for_one_chat_id(tiny_kb: Path) -> None:
    """A Telegram user has the same chat id with the citizens' bot and the Welcome Center; one
    process answers both over one state store, as bot/wiring.py wires it."""
    live = LiveKnowledge([tiny_kb])
    states, usage = MemoryUserStates(), MemoryUsageLog()

    def bot(profile: str) -> CollectingChannel:
        dialogue = Dialogue(lambda: live.snapshot, states, MemoryUnansweredLog(), DialogueSettings(ambiguity_gap=0.5),
                            clock=lambda: MONDAY_10, usage=usage)
        return CollectingChannel(dialogue, channel="telegram", chat_id="4711", profile=profile)

    citizens, welcome = bot("buerger"), bot("welcome")
    [switched] = welcome.say("English please")
    assert switched.language == "en"
    [reply] = citizens.say("Sperrmüll anmelden")
    assert reply.language == "de" and "Antwort zu sperrmuell." in reply.text
    assert states.load(ChatRef("telegram", "4711", "buerger")).language is None

    [offer] = welcome.say("Wohnsitz")
    assert offer.text == "Did you mean …?" and len(offer.choices) >= 2
    [not_a_choice] = citizens.say("1")  # a normal message to the citizens' bot: nothing was offered there
    assert not_a_choice.entry_id is None and not not_a_choice.choices
    assert "keine Auswahl" in not_a_choice.text and [r[0] for r in usage.records][-1] == "offered"
    [taken] = welcome.say("1")  # the Welcome Center's offer still stands
    assert CHOICE_ENTRY + str(taken.entry_id) == offer.choices[0].payload and taken.language == "en"


def test_emergency_first_then_the_other_answer(make_chat: MakeChat) -> None:
    replies = make_chat().say("Notfall: Unfall mit Verletzten, und ich brauche einen neuen Personalausweis")
    assert replies[0].entry_id == "notruf"


def test_weather_is_no_emergency(make_chat: MakeChat) -> None:
    replies = make_chat().say("Wie wird das Wetter am Wochenende?")
    assert all(r.entry_id != "notruf" for r in replies)
