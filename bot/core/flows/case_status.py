"""Following a case: the person gives the reference of an application ("RP-2026-004711") and hears
here when its status changes."""

from __future__ import annotations

import re

from bot.core.flows.base import EDGE_PUNCTUATION, Flow
from bot.core.models import Reply
from bot.core.texts import inline, text

STEP = "case"
_CASE_WORDS = ("status", "vorgang", "aktenzeichen", "antragsnummer", "bearbeitungsstand", "case", "reference", "referenz", "tracking")
# Weaker hints count only with a reference that is no plain number ("where is … 12345" is a postcode).
_CASE_HINTS = ("wo ist", "where is", "fertig", "ready", "abhol", "collect")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/._]{2,62}[A-Za-z0-9]$")
_DATE_LIKE = re.compile(r"^(\d{1,2}[./]\d{1,2}[./]?(\d{2}|\d{4})?|\d{1,2}[:.]\d{2}|\d{4}-\d{1,2}-\d{1,2})$")


def asked_about_case(said: str, padded_folded: str) -> str | None:
    """The reference of a message that asks about a case ("Status RP-2026-004711", "Ist mein
    Ausweis fertig? rp-2026-004711"); ``padded_folded`` is the folded message between spaces."""
    reference = find_reference(said)
    if reference is None:
        return None
    if any(f" {word}" in padded_folded for word in _CASE_WORDS):
        return reference
    if not reference.isdigit() and any(f" {word}" in padded_folded for word in _CASE_HINTS):
        return reference
    return None


def find_reference(said: str, lenient: bool = False) -> str | None:
    """A case reference ("RP-2026-004711") in a message. ``lenient`` for the argument of /status,
    where any code-like word counts; in free text it needs five characters, four of them digits,
    and must not be a date or a time."""
    for word in said.split():
        word = word.strip(EDGE_PUNCTUATION)
        if not _REFERENCE.match(word) or _DATE_LIKE.match(word):
            continue
        digits = sum(ch.isdigit() for ch in word)
        if (digits >= 4 and len(word) >= 5) or (lenient and digits >= 1):
            return word
    return None


class CaseStatusFlow(Flow):
    def follow(self, said: str, lenient: bool = False) -> list[Reply]:
        reference = find_reference(said, lenient=lenient)
        if reference is None:
            self.state.wait_for(STEP)
            self.state.offer(())
            return [self.reply(text("case_ask", self.lang))]
        subscription = self.book.subscribe_case(self.chat, self.lang, reference)
        if subscription is None:
            self.state.wait_for(STEP)  # a corrected number in the next message is taken
            self.state.offer(())
            return [self.reply(text("case_unknown", self.lang, reference=inline(reference, 64)))]
        self.state.clear()
        return [self.reply(text("case_ok", self.lang, reference=inline(subscription.label, 64)))]

    def resume(self) -> list[Reply] | None:
        """The reference the flow asked for; None when the message holds none."""
        reference = find_reference(self.said, lenient=len(self.said.split()) == 1)
        return self.follow(reference, lenient=True) if reference else None
