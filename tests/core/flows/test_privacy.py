"""The chat's data: the export and deleting it."""

from __future__ import annotations

import datetime as dt

from bot.core.memory_book import MemoryReminderBook
from bot.core.models import ChatRef
from bot.core.ports import MemoryUserStates
from tests.conftest import CollectingChannel
from tests.core.flows.helpers import BERLIN, CHAT, DISTRICTS, NOW, TOKEN, MakeChat, json_block, upcoming


def test_my_data_is_a_json_document(make: MakeChat) -> None:
    chat = make()
    chat.say("English please")
    chat.command("start", TOKEN)
    chat.book.subscribe_waste(CHAT, "en", "suedstadt")  # type: ignore[union-attr]
    [export] = chat.command("mydata")
    data = json_block(export)
    assert data["language"] == "en"
    assert data["chat"] == {"channel": "test", "chat_id": "chat-1"}
    reminders = data["reminders"]
    assert isinstance(reminders, dict)
    assert [a["id"] for a in reminders["appointments"]] == ["b-17"]
    assert [s["ref"] for s in reminders["subscriptions"]] == ["suedstadt"]
    [by_intent] = chat.say("What data do you store about me?")
    assert by_intent.entry_id == "meine-daten" and by_intent.text.startswith("For this chat I store your language choice")
    assert json_block(by_intent)["language"] == "en"


def test_a_subject_cannot_break_out_of_the_code_block(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "```\n**x** [a](https://evil.example)")
    [export] = chat.command("meinedaten")
    assert export.text.count("```") == 2
    assert json_block(export)["reminders"]["appointments"][0]["subject"].startswith("```")  # type: ignore[index]


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
    data = json_block(export)
    assert data["language"] is None
    assert data["other_bots"] == {"welcome": {"language": "en", "offered_choices": [], "dialogue_in_progress": {}, "conversation": {}}}
    assert "other_bots" not in json_block(welcome.command("mydata")[0])  # the citizens' bot stored nothing
    [ask] = citizens.command("loeschen")
    citizens.say(choice=ask.choices[0].payload)
    assert states.export(ChatRef("test", "chat-1")) == {}
    [reply] = welcome.say("Sperrmüll anmelden")
    assert reply.language == "de"


def test_my_data_lists_the_chats_unanswered_questions(make: MakeChat) -> None:
    chat = make()
    chat.say("Ich heiße Erika Mustermann, wann kommt mein Wohngeld?")
    CollectingChannel(chat.dialogue, chat_id="someone-else").say("Wer hat gestern das Spiel gewonnen?")
    data = json_block(chat.command("meinedaten")[0])
    assert data["unanswered_questions"] == [{"asked_at": NOW.isoformat(timespec="seconds"), "text": "Ich heiße Erika Mustermann, wann kommt mein Wohngeld?"}]
