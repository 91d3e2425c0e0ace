"""The command registry: every command once, with its names and help in each language."""

from __future__ import annotations

import pytest

from bot.core.chat_commands import CHAT_COMMANDS, ChatCommand, CommandKey, CommandRegistry


def test_any_name_in_any_case_finds_its_command() -> None:
    assert CHAT_COMMANDS.find("termin") is CHAT_COMMANDS.find("Appointment")
    found = CHAT_COMMANDS.find("MEINEDATEN")
    assert found is not None and found.key is CommandKey.MY_DATA
    assert CHAT_COMMANDS.find("frobnicate") is None and CHAT_COMMANDS.find("") is None


def test_every_key_has_one_command() -> None:
    assert sorted(c.key for c in CHAT_COMMANDS) == sorted(CommandKey)


def test_typed_commands_are_split_and_everything_else_is_text() -> None:
    assert CHAT_COMMANDS.split("/termin morgen 9 Uhr") == ("termin", "morgen 9 Uhr")
    assert CHAT_COMMANDS.split("!LINK  abc ") == ("link", "abc")
    assert CHAT_COMMANDS.split("/unbekannt x") is None and CHAT_COMMANDS.split("termin morgen") is None and CHAT_COMMANDS.split("") is None
    assert CHAT_COMMANDS.split("/start " + "x" * 500) == ("start", "x" * 64)


def test_the_menu_speaks_each_language_and_falls_back_to_english() -> None:
    german, english = dict(CHAT_COMMANDS.menu("de")), dict(CHAT_COMMANDS.menu("en"))
    assert german["termin"] == "An einen Termin erinnern lassen" and english["appointment"] == "Get reminded of an appointment"
    assert list(german) == [c.name("de") for c in CHAT_COMMANDS]
    assert CHAT_COMMANDS.menu("tr") == CHAT_COMMANDS.menu("en")
    assert CHAT_COMMANDS.languages == ("de", "en")


def test_the_help_text_lists_every_command_with_the_prefix() -> None:
    lines = CHAT_COMMANDS.help_text("de", "!").split("\n")
    assert lines[0].startswith("Diese Befehle verstehe ich")
    assert "!loeschen – Meine Daten löschen" in lines and len(lines) == 1 + len(list(CHAT_COMMANDS))


def _command(key: CommandKey, names: tuple[str, ...], help_languages: tuple[str, ...] = ("de", "en")) -> ChatCommand:
    return ChatCommand(key, {"de": names, "en": names}, dict.fromkeys(help_languages, "x"))


@pytest.mark.parametrize(
    ("commands", "problem"),
    [
        ([_command(CommandKey.HELP, ("hilfe",)), _command(CommandKey.MENU, ("hilfe",))], "given to both"),
        ([_command(CommandKey.HELP, ("Hilfe!",))], "no valid command name"),
        ([_command(CommandKey.HELP, ("hilfe",), help_languages=("de",))], "names and help"),
    ],
)
def test_a_table_with_a_mistake_is_refused(commands: list[ChatCommand], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        CommandRegistry(commands)
