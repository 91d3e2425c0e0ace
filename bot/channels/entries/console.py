"""The console as a channel of `buergerbot run`: built only when no profile configures a chat channel."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from bot.channels.registry import Channel, ChannelKind, Wanted

log = logging.getLogger(__name__)


class ConsoleKind(ChannelKind):
    name = "console"
    fallback = True

    def section(self, profile: Any) -> None:
        return None  # never configured in a profile

    def build(self, wanted: Wanted) -> Sequence[Channel]:
        """The console in a terminal (Ctrl-D stops the bot). Without a terminal (a container, a
        service) there is nobody to type, and an end of input at once must not stop the HTTP
        server, the back-office API and the reminders."""
        from bot.channels.console import ConsoleChannel

        if not sys.stdin.isatty():
            log.info("no chat channel configured and no terminal: serving HTTP, the back-office API and reminders only")
            return []
        return [ConsoleChannel(wanted.context.handle, sys.stdin, sys.stdout, wanted.context.request_stop, city_name=wanted.context.settings.city_name)]


CHANNEL = ConsoleKind()
