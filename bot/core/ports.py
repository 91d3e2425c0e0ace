"""What the core needs from the outside world, as Protocols that adapters implement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from bot.core.models import Appointment, ChatRef, LinkResult, Office, Reply, Subscription, UserState


class UserStateStore(Protocol):
    """A chat's state with one profile: the same Telegram user talks to every bot of the city under
    one chat id, and a language chosen or a choice offered in one bot must not carry over to another.
    ``export`` and ``forget`` cover every profile, as the ReminderBook's do: "my data" is everything
    about the person, whichever bot is asked."""

    def load(self, chat: ChatRef) -> UserState: ...
    def save(self, chat: ChatRef, state: UserState) -> None: ...
    def export(self, chat: ChatRef) -> dict[str, UserState]:
        """The chat's state with every profile that keeps one, by profile."""
        ...
    def forget(self, chat: ChatRef) -> None:
        """Delete the chat's state with every profile."""
        ...


class UnansweredLog(Protocol):
    """Questions the bot could not answer, for staff.

    A question may hold a name, so "delete my data" deletes the chat's questions too: ``record``
    is given the chat for that, and implementations that keep questions beyond the process keep
    only a pseudonym of it, which no report shows. Like :class:`UsageLog`: ``record`` must not wait
    for I/O, ``close`` writes what is buffered.
    """

    def record(self, text: str, language: str, channel: str, at: dt.datetime, chat: ChatRef | None = None) -> None: ...
    def forget(self, chat: ChatRef) -> None:
        """Delete the chat's questions, including those not written yet."""
        ...
    def questions(self, chat: ChatRef) -> list[tuple[dt.datetime, str]]:
        """The chat's questions (when, what), oldest first: part of "my data"."""
        ...
    def close(self) -> None: ...


# answer: a reply carried an entry; out_of_scope: the fallback; offered: "Meinten Sie …?" choices;
# menu: the popular-topics menu; chosen: the user took one of the offered entries.
UsageKind = Literal["answer", "out_of_scope", "offered", "menu", "chosen"]
USAGE_KINDS: tuple[UsageKind, ...] = ("answer", "out_of_scope", "offered", "menu", "chosen")


class UsageLog(Protocol):
    """What the bot was used for, for staff reports. Never given a user or chat id, nor the text;
    ``profile`` is the bot (profile) that answered.

    ``record`` is called while a message is answered, so implementations must not wait for I/O;
    ``close`` writes whatever is still buffered and is called once on shutdown.
    """

    def record(self, kind: UsageKind, entry_ids: tuple[str, ...], channel: str, language: str, at: dt.datetime,
               profile: str = "default") -> None: ...
    def close(self) -> None: ...


# up: the answer helped; down: it did not. note: no vote but the "what was missing?" text sent
# after a down vote, kept as a row of its own so that the vote counts at once, whether or not a
# text follows (rows are only ever added, never changed).
FeedbackVote = Literal["up", "down", "note"]
FEEDBACK_VOTES: tuple[FeedbackVote, ...] = ("up", "down")
MAX_FEEDBACK_TEXT = 500  # characters kept of "what was missing": a sentence or two, not a pasted document


@dataclass(frozen=True)
class AnswerFeedback:
    """A vote on one answer. Deliberately without any user or chat id: staff see how an entry is
    received, never who voted."""

    entry_id: str
    language: str
    channel: str
    profile: str
    vote: FeedbackVote
    at: dt.datetime
    missing: str | None = None  # "what was missing?", after a down vote (a "note" row)


class FeedbackLog(Protocol):
    """Votes on answers (the channels' 👍/👎), for staff reports. Like :class:`UsageLog`: ``record``
    is called on the message path and must not wait for I/O; ``close`` writes what is buffered."""

    def record(self, feedback: AnswerFeedback) -> None: ...
    def close(self) -> None: ...


class MemoryUserStates:
    """User states kept in memory: the console, tests, and single-process bots without a database."""

    def __init__(self) -> None:
        # By chat, then profile, so that forgetting a chat finds every profile's state.
        self._states: dict[tuple[str, str], dict[str, UserState]] = {}

    def load(self, chat: ChatRef) -> UserState:
        return self._states.get((chat.channel, chat.chat_id), {}).get(chat.profile) or UserState()

    def save(self, chat: ChatRef, state: UserState) -> None:
        self._states.setdefault((chat.channel, chat.chat_id), {})[chat.profile] = state

    def export(self, chat: ChatRef) -> dict[str, UserState]:
        return dict(self._states.get((chat.channel, chat.chat_id), {}))

    def forget(self, chat: ChatRef) -> None:
        self._states.pop((chat.channel, chat.chat_id), None)


class MemoryUnansweredLog:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, dt.datetime]] = []
        self._chats: list[tuple[str, str] | None] = []  # whose each record is, for forget()

    def record(self, text: str, language: str, channel: str, at: dt.datetime, chat: ChatRef | None = None) -> None:
        self.records.append((text, language, channel, at))
        self._chats.append((chat.channel, chat.chat_id) if chat is not None else None)

    def forget(self, chat: ChatRef) -> None:
        kept = [(r, c) for r, c in zip(self.records, self._chats, strict=True) if c != (chat.channel, chat.chat_id)]
        self.records = [r for r, _ in kept]
        self._chats = [c for _, c in kept]

    def questions(self, chat: ChatRef) -> list[tuple[dt.datetime, str]]:
        return sorted((r[3], r[0]) for r, c in zip(self.records, self._chats, strict=True) if c == (chat.channel, chat.chat_id))

    def close(self) -> None:
        pass


class MemoryFeedbackLog:
    def __init__(self) -> None:
        self.records: list[AnswerFeedback] = []

    def record(self, feedback: AnswerFeedback) -> None:
        self.records.append(feedback)

    def close(self) -> None:
        pass


class NoFeedbackLog:
    """Keeps nothing: storage in memory, where votes would only pile up."""

    def record(self, feedback: AnswerFeedback) -> None:
        pass

    def close(self) -> None:
        pass


class MemoryUsageLog:
    def __init__(self) -> None:
        self.records: list[tuple[UsageKind, tuple[str, ...], str, str, dt.datetime]] = []
        self.profiles: list[str] = []  # each record's profile, in the same order

    def record(self, kind: UsageKind, entry_ids: tuple[str, ...], channel: str, language: str, at: dt.datetime,
               profile: str = "default") -> None:
        self.records.append((kind, entry_ids, channel, language, at))
        self.profiles.append(profile)

    def close(self) -> None:
        pass


class NoUsageLog:
    """Records nothing: one-off questions (``buergerbot ask``) and dialogues built without storage."""

    def record(self, kind: UsageKind, entry_ids: tuple[str, ...], channel: str, language: str, at: dt.datetime,
               profile: str = "default") -> None:
        pass

    def close(self) -> None:
        pass


class ReminderBook(Protocol):
    """A chat's appointments and subscriptions. The storage side keeps the due notices in step:
    adding an appointment schedules its reminders, cancelling drops them, forgetting a chat
    deletes every row about it."""

    def add_appointment(self, chat: ChatRef, language: str, starts_at: dt.datetime, office: str | None, subject: str) -> Appointment: ...
    def upcoming(self, chat: ChatRef, now: dt.datetime) -> list[Appointment]: ...
    def cancel(self, chat: ChatRef, appointment_id: str) -> bool: ...
    def redeem(self, chat: ChatRef, language: str, token: str) -> LinkResult: ...
    def subscribe_case(self, chat: ChatRef, language: str, reference: str) -> Subscription | None:
        """None when the city's systems do not know the reference."""
        ...
    def subscribe_waste(self, chat: ChatRef, language: str, district: str) -> Subscription: ...
    def subscriptions(self, chat: ChatRef) -> list[Subscription]: ...
    def unsubscribe(self, chat: ChatRef, subscription_id: str) -> bool: ...
    def districts(self) -> dict[str, str]:
        """Waste collection districts known from the city's calendars: id -> display name."""
        ...
    def export(self, chat: ChatRef) -> dict[str, Any]:
        """Everything stored about the chat, JSON-serialisable (GDPR access request)."""
        ...
    def forget(self, chat: ChatRef) -> None:
        """Delete every row about the chat; its pending reminders are gone with them."""
        ...
    def heard_from(self, chat: ChatRef) -> None:
        """The chat wrote to the bot, so it can be reached: reminders held because it had blocked
        the bot go out again. Called for every message, so it must not wait for I/O as a rule."""
        ...


class DeliveryFailed(Exception):
    """A reminder could not be delivered. ``permanent``: retrying will not help (the chat is gone).
    ``blocked``: the user blocked the bot; the chat's reminders are held until it writes again.
    ``maybe_sent``: the channel may have accepted it before failing (a timeout after the request
    left): sending it again may deliver it twice, unless the channel is idempotent."""

    def __init__(self, reason: str, permanent: bool = False, maybe_sent: bool = False, blocked: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent or blocked
        self.maybe_sent = maybe_sent
        self.blocked = blocked


@runtime_checkable
class Deliverer(Protocol):
    """A channel that sends reminders. ``idempotent`` channels deduplicate by ``key`` themselves
    (Matrix transaction ids), so a message in doubt can safely be sent again."""

    idempotent: bool

    @property
    def address(self) -> tuple[str, str]:
        """(channel, profile): the reminder rows this deliverer sends."""
        ...

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None: ...


# The citizen's answer to the offer of a hand-over (bot/handover).
HANDOVER_CHOICE = "handover:"
HANDOVER_YES = HANDOVER_CHOICE + "yes"
HANDOVER_NO = HANDOVER_CHOICE + "no"


@dataclass(frozen=True)
class HandoverTurn:
    """One handled message as the hand-over desk sees it, to decide whether to offer a person."""

    chat: ChatRef
    language: str
    said: str
    replies: tuple[Reply, ...]
    missed: bool  # the bot could not answer (its fallback)
    wants_person: bool  # the citizen asked for a person (the "human" intent)
    offices: Mapping[str, Office]
    now: dt.datetime  # the city's local time
    is_holiday: Callable[[dt.date], bool]


class HandoverDesk(Protocol):
    """A person from the city's service team answering in the same chat. The dialogue only asks
    these few things; the staff side (a Matrix room) runs elsewhere. Like the state store, calls
    must be quick: the desk keeps the open hand-overs in memory and writes only when one changes."""

    def relay(self, chat: ChatRef, said: str, message_id: str | None = None) -> bool:
        """Pass a message to the team when a hand-over is open for the chat; False when none is.
        A message with the ``message_id`` of one relayed already is not passed on again (True)."""
        ...

    def follow(self, turn: HandoverTurn, state: UserState) -> Reply | None:
        """Note the turn in the conversation's context (``ctx.*`` keys of ``state``); the offer of a
        hand-over, with its consent text and yes/no choices, when one is due."""
        ...

    def choose(self, chat: ChatRef, language: str, payload: str, state: UserState) -> list[Reply]:
        """The citizen's answer to the offer (HANDOVER_YES or HANDOVER_NO)."""
        ...

    def export(self, chat: ChatRef, language: str) -> Reply | None:
        """The chat's hand-overs for "my data"; None when there are none."""
        ...

    def forget(self, chat: ChatRef) -> None:
        """Delete the chat's hand-overs; their copies in the staff room are redacted."""
        ...
