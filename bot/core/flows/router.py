"""Where the dialogue enters the flows: a command, a button, an intent of the knowledge files, a
message that carries a reminder's details itself, or the answer to a question a flow asked.

Each entry point takes the language the turn would answer in and returns the flow's replies, or
None when the message is not for a flow. After replies, :attr:`Flows.language` is the language
they are in (a flow answers "ja" or "2" in the language it began in), and at the end of the
turn :meth:`Flows.settle` writes the flow state into the chat's state.
"""

from __future__ import annotations

from bot.core.chat_commands import CommandKey
from bot.core.flows import appointment, case_status, waste_collection
from bot.core.flows.appointment import CHOICE_NO, CHOICE_YES, AppointmentFlow
from bot.core.flows.base import FlowSetup
from bot.core.flows.booking_link import BookingLinkFlow, typed_token
from bot.core.flows.case_status import CaseStatusFlow, asked_about_case
from bot.core.flows.privacy import CHOICE_CONFIRM_DELETE, CHOICE_KEEP, DELETE_INTENT, PrivacyFlow
from bot.core.flows.reminder_list import CHOICE_END, ReminderListFlow
from bot.core.flows.state import CHOICE_PREFIX, FlowState
from bot.core.flows.waste_collection import CHOICE_DISTRICT, WasteCollectionFlow, mentions_waste
from bot.core.matching.normalise import fold
from bot.core.models import Incoming, Reply, UserState
from bot.core.ports import HANDOVER_NO, HANDOVER_YES
from bot.core.texts import text
from bot.core.when import parse_when

__all__ = ["CHOICE_CONFIRM_DELETE", "NO_CHOICES", "YES_CHOICES", "FlowSetup", "Flows"]

# What "ja" and "nein" pick among the offered choices.
YES_CHOICES = frozenset({CHOICE_CONFIRM_DELETE, CHOICE_YES, HANDOVER_YES})
NO_CHOICES = frozenset({CHOICE_KEEP, CHOICE_NO, HANDOVER_NO})
_ABORT = frozenset({"abbrechen", "abbruch", "cancel", "stop", "stopp", "vergiss es", "never mind", "nevermind", "egal"})
_REMIND_WORDS = ("erinner", "remind")
# The commands and intent actions that need the reminder book.
_REMINDER_COMMANDS = frozenset({CommandKey.APPOINTMENT, CommandKey.REMINDERS, CommandKey.LINK, CommandKey.STATUS, CommandKey.WASTE})
_REMINDER_ACTIONS = frozenset({"reminders", "reminder_list", "case_status", "waste_reminder"})
MY_DATA_ACTION = "my_data"


class Flows:
    """The flows of one turn. ``chat_state`` is the chat's state as the turn holds it: read when
    the turn begins and by the data export, written only by :meth:`settle`."""

    def __init__(self, setup: FlowSetup, message: Incoming, said: str, chat_state: UserState) -> None:
        self.setup = setup
        self._chat_state = chat_state
        self._state = FlowState(chat_state)
        shared = (setup, self._state, message, said)
        self.said = said
        self.appointment = AppointmentFlow(*shared)
        self.reminder_list = ReminderListFlow(*shared)
        self.booking_link = BookingLinkFlow(*shared)
        self.case_status = CaseStatusFlow(*shared)
        self.waste_collection = WasteCollectionFlow(*shared)
        self.privacy = PrivacyFlow(*shared)

    @property
    def language(self) -> str:
        """The language of the flow's last replies."""
        return self._state.lang

    @property
    def deleted(self) -> bool:
        """Whether this turn deleted the chat's data: its state must not be saved again."""
        return self.privacy.deleted

    @property
    def asking(self) -> bool:
        """Whether a flow asked something last turn that this message may answer."""
        return self._state.step is not None and self.setup.book is not None

    # -- entry points ------------------------------------------------------------------------------
    def command(self, key: CommandKey, argument: str, lang: str) -> list[Reply] | None:
        """Replies for a flow's command; None for another command (or /start without a link)."""
        self._state.begin(lang)
        if key is CommandKey.START:
            if not argument.strip() or self.setup.book is None:
                return None
            # A payload that is no link token (a campaign, a profile) is not ours to refuse: greet as usual.
            return self.booking_link.redeem(argument)
        if key is CommandKey.MY_DATA:
            return self.privacy.export(self._chat_state)
        if key is CommandKey.DELETE:
            return self.privacy.ask_delete()
        if key not in _REMINDER_COMMANDS:
            return None
        if self.setup.book is None:
            return self._say("reminders_unavailable")
        if key is CommandKey.LINK:
            return self.booking_link.command(argument)
        if key is CommandKey.APPOINTMENT:
            return self.appointment.add(argument)
        if key is CommandKey.REMINDERS:
            return self.reminder_list.show()
        if key is CommandKey.STATUS:
            return self.case_status.follow(argument, lenient=True)
        return self.waste_collection.start(argument)

    def intent(self, action: str, answer: str, lang: str) -> list[Reply] | None:
        """Replies for an intent of the knowledge files whose action is a flow."""
        self._state.begin(lang)
        if action == MY_DATA_ACTION:
            return self.privacy.export(self._chat_state, answer)
        if action == DELETE_INTENT:
            return self.privacy.ask_delete(answer)
        if action not in _REMINDER_ACTIONS:
            return None
        if self.setup.book is None:
            return self._say("reminders_unavailable")
        if action == "reminders":
            return self.appointment.add(self.said, intro=answer)
        if action == "reminder_list":
            return self.reminder_list.show()
        if action == "case_status":
            return self.case_status.follow(self.said)
        return self.waste_collection.start(self.said)

    def detect(self, lang: str) -> list[Reply] | None:
        """A message that carries a reminder's details itself ("Erinnere mich an meinen Termin am 3.12.
        um 10:30", "Status RP-2026-004711"). The matcher would answer the topic (the Bürgerbüro, the
        passport); the details say what the person wants."""
        self._state.begin(lang)
        token = typed_token(self.said)
        if token is not None:
            return self._without_book() or self.booking_link.command(token)
        padded = f" {fold(self.said)} "
        reference = asked_about_case(self.said, padded)
        if reference is not None:
            return self._without_book() or self.case_status.follow(reference, lenient=True)
        if not _mentions_reminder(padded):
            return None
        if mentions_waste(padded):
            return self._without_book() or self.waste_collection.start(self.said)
        when = parse_when(self.said, self.setup.now)
        if when.day or when.time:
            return self._without_book() or self.appointment.add(self.said)
        return None

    def resume(self, lang: str) -> list[Reply] | None:
        """The answer to what a flow asked last turn; None when the message is about something else
        (the question is then forgotten at the end of the turn)."""
        step = self._state.step
        if step is None or self.setup.book is None:
            return None
        self._state.begin(lang)
        said = " ".join(fold(self.said).split())
        if step in appointment.STEPS and _mentions_reminder(f" {said} "):
            # "Erinnere mich an meinen Termin am Montag" is a new request, not the answer to the
            # last one: it is routed as if nothing were pending, so it keeps nothing of the last
            # one (its office least of all) and runs in its own language.
            return None
        self._state.answer_in_flow_language()
        if said in _ABORT:
            self._state.clear()
            return self._say("flow_cancelled")
        if step in appointment.STEPS:
            return self.appointment.resume(step, said)
        if step == case_status.STEP:
            return self.case_status.resume()
        if step == waste_collection.STEP:
            return self.waste_collection.resume()
        return None  # a list waits for a button or a number, which the dialogue reads as a choice

    def choice(self, payload: str, lang: str) -> list[Reply] | None:
        """Replies for a flow's button; None for another payload."""
        self._state.begin(lang)
        if not payload.startswith(CHOICE_PREFIX):
            return self.privacy.choice(payload)
        if self.setup.book is None:
            return self._say("reminders_unavailable")
        self._state.answer_in_flow_language()
        if payload == CHOICE_YES:
            return self.appointment.save()
        if payload == CHOICE_NO:
            return self.appointment.decline()
        if payload.startswith(CHOICE_END):
            return self.reminder_list.end(payload[len(CHOICE_END):])
        if payload.startswith(CHOICE_DISTRICT):
            return self.waste_collection.choose(payload[len(CHOICE_DISTRICT):])
        return None

    def settle(self) -> None:
        """The end of the turn: the flow state goes into the chat's state."""
        self._state.write_to(self._chat_state)

    def _without_book(self) -> list[Reply] | None:
        return self._say("reminders_unavailable") if self.setup.book is None else None

    def _say(self, key: str) -> list[Reply]:
        return [Reply(text(key, self.language), language=self.language)]


def _mentions_reminder(padded: str) -> bool:
    """Whether a folded message, padded with spaces, asks to be reminded."""
    return any(f" {word}" in padded for word in _REMIND_WORDS)
