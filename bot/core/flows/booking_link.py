"""Linking a booking: the token of the link in the city's booking confirmation (``/start <token>``
from a deep link, ``/link <token>`` or "link <token>" typed) turns into the appointment's reminders."""

from __future__ import annotations

import re

from bot.core.flows.appointment import describe_appointment, promised_reminders
from bot.core.flows.base import Flow
from bot.core.models import LinkError, Reply
from bot.core.notices import office_buttons
from bot.core.texts import text

# "link <token>" typed as text (console, "!bot link …"); only something shaped like a link token
# (bot/reminders/tokens.py: version "1", 30 to 64 base64url characters), so "Link Sperrmüll" stays a question.
_LINK_TEXT = re.compile(r"^\s*[!/]?link\s+(1[A-Za-z0-9_-]{29,63})\s*$", re.IGNORECASE)
TOKEN_LIMIT = 128


def typed_token(said: str) -> str | None:
    """The token of a "link <token>" message, if it is one."""
    found = _LINK_TEXT.match(said)
    return found.group(1) if found else None


class BookingLinkFlow(Flow):
    def command(self, argument: str) -> list[Reply]:
        """``/link`` with or without its code."""
        if not argument.strip():
            return [self.reply(text("link_ask", self.lang))]
        return self.redeem(argument) or [self.reply(text("link_malformed", self.lang))]

    def redeem(self, argument: str) -> list[Reply] | None:
        """None when the token is malformed (the caller decides what that means)."""
        token = argument.strip().split()[0] if argument.strip() else ""
        result = self.book.redeem(self.chat, self.lang, token[:TOKEN_LIMIT])
        lang = self.lang
        if result.appointment is not None:
            self.state.clear()
            appointment = result.appointment
            at = self.in_city_time(appointment.starts_at)
            parts = [text("link_ok", lang), describe_appointment(at, appointment.office, appointment.subject, self.setup.kb, lang)]
            leads = promised_reminders(self.setup, appointment.office, at, lang)
            if leads:
                parts.append(leads)
            parts.append(text("list_hint", lang))
            return [Reply("\n\n".join(parts), buttons=office_buttons(appointment.office, self.setup.kb, lang), language=lang)]
        if result.error is LinkError.MALFORMED or result.error is None:
            return None
        return [self.reply(text(f"link_{result.error.value}", lang))]
