"""The console channel: stdin/stdout, the same dialogue as every chat channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.channels.commands import split_command
from bot.channels.markup import reply_as_plain
from bot.core.dialogue import Dialogue
from bot.core.models import Incoming

PROMPT = "> "


def run_console(dialogue: Dialogue, stdin: TextIO, stdout: TextIO, before_each: Callable[[], object] | None = None) -> None:
    stdout.write("Bürgerbot Musterstadt – Fragen Sie mich etwas / ask me anything (Ctrl-D: Ende/quit)\n")
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return
        if before_each is not None:
            before_each()
        for reply in dialogue.handle(incoming(line.rstrip("\n"))):
            stdout.write(reply_as_plain(reply) + "\n\n")
        stdout.flush()


def incoming(line: str) -> Incoming:
    """A typed line as the core sees it: "/termin morgen 9 Uhr" is a command, as on Telegram."""
    command = split_command(line)
    if command is not None:
        return Incoming(channel="console", chat_id="console", text="", command=command[0], argument=command[1])
    return Incoming(channel="console", chat_id="console", text=line)
