"""The chat commands: what a person can type after "/" (Telegram, the console, the web chat) or
"!" (Matrix), under which names in each language, and the line that explains each.

This table is the only list of commands. The dialogue dispatches on a command's key, whatever
name was typed; Telegram's command menu (setMyCommands) and the Matrix help are written from it,
so a command is added, renamed or explained in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.texts import text

ARGUMENT_LIMIT = 64  # as Telegram's /start payload: longer arguments are never needed
FALLBACK_LANGUAGE = "en"  # for a language the table has no names or help for
_NAME = re.compile(r"[a-z0-9_]{1,32}")  # what Telegram accepts as a command, and all a person needs to type
_PREFIXES = ("!", "/")


class CommandKey(StrEnum):
    """What a command does, independent of the name it was typed under."""

    START = "start"
    HELP = "help"
    MENU = "menu"
    LANGUAGE = "language"
    APPOINTMENT = "appointment"
    REMINDERS = "reminders"
    LINK = "link"
    STATUS = "status"
    WASTE = "waste"
    PERSON = "person"
    MY_DATA = "my_data"
    DELETE = "delete"


@dataclass(frozen=True)
class ChatCommand:
    key: CommandKey
    # By language, the names the command answers to; the first is the one menus show. Every name
    # of every language is understood in every chat.
    names: Mapping[str, tuple[str, ...]]
    help: Mapping[str, str]  # one short line by language, for menus and help lists

    def name(self, lang: str) -> str:
        """The name shown in a menu in ``lang``."""
        return (self.names.get(lang) or self.names[FALLBACK_LANGUAGE])[0]

    def description(self, lang: str) -> str:
        return self.help.get(lang) or self.help[FALLBACK_LANGUAGE]


class CommandRegistry:
    """The commands in menu order, found by any of their names."""

    def __init__(self, commands: Sequence[ChatCommand]) -> None:
        self._commands = tuple(commands)
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(lang for command in self._commands for lang in command.names))
        by_name: dict[str, ChatCommand] = {}
        for command in self._commands:
            if FALLBACK_LANGUAGE not in command.names or set(command.help) != set(command.names):
                raise ValueError(f"command {command.key}: names and help are needed for the same languages, {FALLBACK_LANGUAGE} among them")
            for name in (name for names in command.names.values() for name in names):
                if not _NAME.fullmatch(name):
                    raise ValueError(f"command {command.key}: {name!r} is no valid command name")
                if by_name.setdefault(name, command) is not command:
                    raise ValueError(f"command name {name!r} is given to both {by_name[name].key} and {command.key}")
        self._by_name = by_name

    def __iter__(self) -> Iterator[ChatCommand]:
        return iter(self._commands)

    @property
    def names(self) -> frozenset[str]:
        """Every name a command answers to."""
        return frozenset(self._by_name)

    def find(self, typed: str) -> ChatCommand | None:
        """The command a name stands for ("termin", "/Appointment" as a channel passes it on); None
        for a name no command has."""
        return self._by_name.get(typed.strip().lower())

    def split(self, said: str) -> tuple[str, str] | None:
        """(name, argument) when a typed message starts with ! or / and a command's name, else None:
        for channels without a command entity of their own (Matrix, the console, the web chat)."""
        stripped = said.strip()
        if stripped[:1] not in _PREFIXES:
            return None
        head, *rest = stripped[1:].split(None, 1) or [""]
        if self.find(head) is None:
            return None
        return head.lower(), (rest[0].strip() if rest else "")[:ARGUMENT_LIMIT]

    def menu(self, lang: str) -> list[tuple[str, str]]:
        """(name, description) of every command in ``lang``, in menu order."""
        return [(command.name(lang), command.description(lang)) for command in self._commands]

    def help_text(self, lang: str, prefix: str = "!") -> str:
        """The commands as a message, for a chat app without a command menu."""
        lines = [f"{prefix}{name} – {description}" for name, description in self.menu(lang)]
        return text("commands_heading", lang) + "\n" + "\n".join(lines)


def _command(key: CommandKey, de: tuple[tuple[str, ...], str], en: tuple[tuple[str, ...], str]) -> ChatCommand:
    return ChatCommand(key, {"de": de[0], "en": en[0]}, {"de": de[1], "en": en[1]})


CHAT_COMMANDS = CommandRegistry((
    _command(CommandKey.START, (("start",), "Begrüßung und häufige Fragen"), (("start",), "Welcome and frequent questions")),
    _command(CommandKey.HELP, (("hilfe",), "Was ich kann"), (("help",), "What I can do")),
    _command(CommandKey.MENU, (("menu",), "Häufig gefragte Themen"), (("menu",), "Frequently asked topics")),
    _command(CommandKey.LANGUAGE, (("sprache",), "Sprache wählen"), (("language",), "Choose the language")),
    _command(CommandKey.APPOINTMENT, (("termin",), "An einen Termin erinnern lassen"), (("appointment",), "Get reminded of an appointment")),
    _command(CommandKey.REMINDERS, (("erinnerungen",), "Meine Erinnerungen ansehen und beenden"), (("reminders",), "See and end my reminders")),
    _command(CommandKey.LINK, (("link",), "Termin mit dem Code aus der Buchungsbestätigung verbinden"),
             (("link",), "Link an appointment with the code from its booking confirmation")),
    _command(CommandKey.STATUS, (("status",), "Einen Antrag verfolgen (mit der Vorgangsnummer)"),
             (("status",), "Follow an application by its case number")),
    _command(CommandKey.WASTE, (("muell",), "An die Müllabfuhr erinnern lassen"), (("waste",), "Get reminded of the waste collection")),
    _command(CommandKey.PERSON, (("mitarbeiter",), "Mit einer Person aus dem Serviceteam schreiben"),
             (("agent",), "Write with a person of the service team")),
    _command(CommandKey.MY_DATA, (("meinedaten",), "Meine gespeicherten Daten ansehen"), (("mydata",), "See the data stored about me")),
    _command(CommandKey.DELETE, (("loeschen",), "Meine Daten löschen"), (("delete",), "Delete my data")),
))
