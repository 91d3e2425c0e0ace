"""The console channel speaks the same commands as the chat apps."""

from __future__ import annotations

import io
from collections.abc import Callable

from bot.channels.console import incoming, run_console
from bot.core.ports import MemoryFeedbackLog
from tests.conftest import CollectingChannel


def test_typed_commands_are_commands_and_everything_else_is_text() -> None:
    line = incoming("/hilfe")
    assert (line.command, line.text) == ("hilfe", "")
    assert incoming("Perso beantragen").text == "Perso beantragen"


def test_console_session(make_chat: Callable[..., CollectingChannel]) -> None:
    out = io.StringIO()
    run_console(make_chat().dialogue.handle, io.StringIO("/sprache\nPerso beantragen\n"), out, city_name="Beispielstadt")
    text = out.getvalue()
    assert text.startswith("Bürgerbot Beispielstadt – ")  # the city comes from the settings, not the code
    assert "English" in text  # /sprache offered the languages, as the command does on Telegram
    assert "Antwort zu personalausweis." in text


def test_console_answers_are_rated_with_gut_and_schlecht(make_chat: Callable[..., CollectingChannel]) -> None:
    dialogue = make_chat().dialogue
    votes = MemoryFeedbackLog()
    dialogue.feedback = votes
    out = io.StringIO()
    run_console(dialogue.handle, io.StringIO("Sperrmüll anmelden\n/schlecht\nDer Preis fehlt\n/start\n/gut\n"), out)
    text = out.getvalue()
    assert "(War das hilfreich? /gut oder /schlecht)" in text
    assert "Was hat Ihnen an der Antwort gefehlt?" in text
    # After the menu there is no answer to rate: "/gut" is just text then.
    assert [(v.entry_id, v.vote, v.missing) for v in votes.records] == [("sperrmuell", "down", None), ("sperrmuell", "note", "Der Preis fehlt")]
