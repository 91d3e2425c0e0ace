"""Entering the flows: without a reminder book the bot says so, and every flow command reaches its flow."""

from __future__ import annotations

import pytest

from bot.core.chat_commands import CHAT_COMMANDS
from tests.core.flows.helpers import TOKEN, MakeChat, json_block


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
    assert "reminders" not in json_block(export)
    [ask] = chat.command("loeschen")
    [done] = chat.say(choice=ask.choices[0].payload)
    assert done.text.startswith("Erledigt: Ich habe alles gelöscht")


@pytest.mark.parametrize("name", sorted(CHAT_COMMANDS.names))
def test_every_command_name_is_understood(make: MakeChat, name: str) -> None:
    replies = make().command(name)
    assert replies and all("Diesen Befehl kenne ich nicht" not in r.text for r in replies)


@pytest.mark.parametrize(("german", "english"), [(c.name("de"), c.name("en")) for c in CHAT_COMMANDS])
def test_a_commands_names_in_both_languages_do_the_same(make: MakeChat, german: str, english: str) -> None:
    said_in_german = [(r.text, r.choices) for r in make().command(german)]
    said_in_english = [(r.text, r.choices) for r in make().command(english)]
    assert said_in_german == said_in_english


def test_an_unknown_command_gets_the_menu(make: MakeChat) -> None:
    [reply] = make().command("frobnicate")
    assert reply.text.startswith("Diesen Befehl kenne ich nicht.") and reply.choices
