"""The console channel: stdin/stdout, the same dialogue as every chat channel. An answer that can
be rated is followed by a hint; "/gut" or "/schlecht" ("/good", "/bad") then rates the last one."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TextIO

from bot.channels.markup import reply_as_plain
from bot.core.chat_commands import CHAT_COMMANDS
from bot.core.models import Incoming, Reply, Vote
from bot.core.texts import text

VOTES = {"/gut": True, "/good": True, "/schlecht": False, "/bad": False}

PROMPT = "> "
Handle = Callable[[Incoming], Sequence[Reply]]  # a dialogue's handle


def run_console(handle: Handle, stdin: TextIO, stdout: TextIO, before_each: Callable[[], object] | None = None, city_name: str = "") -> None:
    """Answer typed lines until the end of input; ``city_name`` (the setting) is in the greeting line."""
    title = f"Bürgerbot {city_name}" if city_name else "Bürgerbot"
    stdout.write(f"{title} – Fragen Sie mich etwas / ask me anything (Ctrl-D: Ende/quit)\n")
    rateable: str | None = None  # the feedback token of the last answer, which /gut or /schlecht rates
    while True:
        stdout.write(PROMPT)
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return
        if before_each is not None:
            before_each()
        said = line.strip()
        message = incoming(line.rstrip("\n"))
        if said.lower() in VOTES and rateable is not None:
            message = Incoming(channel="console", chat_id="console", text="", vote=Vote(rateable, VOTES[said.lower()]))
        replies = handle(message)
        for reply in replies:
            stdout.write(reply_as_plain(reply) + "\n\n")
        if replies:
            rateable = replies[-1].feedback
            if rateable is not None:
                stdout.write(f"({text('feedback_console', replies[-1].language)})\n\n")
        stdout.flush()


def incoming(line: str) -> Incoming:
    """A typed line as the core sees it: "/termin morgen 9 Uhr" is a command, as on Telegram."""
    command = CHAT_COMMANDS.split(line)
    if command is not None:
        return Incoming(channel="console", chat_id="console", text="", command=command[0], argument=command[1])
    return Incoming(channel="console", chat_id="console", text=line)


class ConsoleChannel:
    """The console as a channel of `buergerbot run` when no chat channel is configured: it reads in
    a thread of its own, and Ctrl-D (end of input) stops the bot as SIGTERM would. A blocked read
    cannot be interrupted, so the thread is a daemon: stopping the bot does not wait for a line."""

    def __init__(self, handle: Handle, stdin: TextIO, stdout: TextIO, on_end: Callable[[], object], city_name: str = "") -> None:
        self.handle, self.stdin, self.stdout, self.on_end = handle, stdin, stdout, on_end
        self.city_name = city_name
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def read() -> None:
            try:
                run_console(self.handle, self.stdin, self.stdout, city_name=self.city_name)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is gone: the bot stopped first
                    loop.call_soon_threadsafe(self.on_end)

        self._thread = threading.Thread(target=read, name="console", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        return None
