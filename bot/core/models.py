"""Frozen value types shared by the knowledge base, the matcher, the dialogue and the adapters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.language_chain import fallback_chain


class Kind(StrEnum):
    FAQ = "faq"
    SERVICE = "service"
    INTENT = "intent"


class ReplyKind(StrEnum):
    """What a reply does, as `ask --json`, `eval` and the tests report it."""

    ANSWER = "answer"  # an entry's full answer
    FACET = "facet"  # one side of the last topic (costs, documents, …)
    CHOICES = "choices"  # topics offered to choose from
    HOURS = "hours"  # an office's opening hours
    OUT_OF_SCOPE = "out_of_scope"  # not the city's business: says what the bot can and cannot do
    FALLBACK = "fallback"  # no answer to a real question
    MESSAGE = "message"  # anything else: a hint, a language switch, a step of a flow


class LinkKind(StrEnum):
    FORM = "form"
    INFO = "info"
    APPOINTMENT = "appointment"
    EXTERNAL = "external"


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    url: str
    labels: dict[str, str]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or next(iter(self.labels.values()))


@dataclass(frozen=True)
class LocalText:
    """Everything an entry says in one language."""

    title: str
    questions: tuple[str, ...]
    answer: str
    fees: str | None = None
    documents: tuple[str, ...] = ()
    duration: str | None = None  # how long it takes, for "wie lange dauert das?"


@dataclass(frozen=True)
class Entry:
    id: str
    kind: Kind
    texts: dict[str, LocalText]
    source: str  # "path:line" of the entry, for messages to staff
    links: tuple[Link, ...] = ()
    office: str | None = None
    leika: str | None = None
    tags: frozenset[str] = frozenset()
    owner: str | None = None
    last_reviewed: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    emergency: bool = False
    action: str | None = None

    def text(self, lang: str) -> LocalText:
        return self.texts[self.answered_in(lang)]

    def answered_in(self, lang: str) -> str:
        """The language the entry answers ``lang`` in: that one, else the first of its fallback
        chain the entry is written in (the knowledge loader wants German and English in every entry)."""
        if lang in self.texts:
            return lang
        return next((code for code in fallback_chain(lang) if code in self.texts), next(iter(self.texts)))

    def is_valid_on(self, day: dt.date) -> bool:
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)

    @property
    def form_link(self) -> Link | None:
        return next((link for link in self.links if link.kind is LinkKind.FORM), None)


@dataclass(frozen=True)
class TimeSpan:
    start: dt.time
    end: dt.time


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Office:
    id: str
    names: dict[str, str]
    address: str
    phone: str
    hours: dict[int, tuple[TimeSpan, ...]]  # weekday (0 = Monday) -> spans
    email: str | None = None
    url: str | None = None
    closed: frozenset[dt.date] = frozenset()
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # other names, by language
    pickup_documents: frozenset[str] = frozenset()  # document ids (bot.core.cases) collected here

    def name(self, lang: str) -> str:
        return self.names.get(lang) or next(iter(self.names.values()))


@dataclass(frozen=True)
class Problem:
    """A problem in a knowledge file, reported to staff as ``path:line: message``."""

    path: str
    line: int
    message: str
    severity: str = "error"  # "error" stops a (re)load; "warning" does not

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass(frozen=True)
class Incoming:
    """A message from any channel, stripped of everything channel-specific."""

    channel: str
    chat_id: str
    text: str
    language_hint: str | None = None
    profile: str = "default"
    choice: str | None = None  # set when the user pressed a button rather than typing
    command: str | None = None  # "start", "help", "menu", "language", … without the channel's prefix
    argument: str = ""  # what followed the command, e.g. a /start deep-link payload
    vote: Vote | None = None  # set when the user rated an answer (👍/👎) rather than writing
    # The channel's own id of the message (Matrix event id, Telegram message id, web client id),
    # unique within the chat: a message a channel delivers again after a crash is known by it.
    message_id: str | None = None

    @property
    def chat(self) -> ChatRef:
        return ChatRef(self.channel, self.chat_id, self.profile)


@dataclass(frozen=True)
class Vote:
    """A 👍 or 👎 on one answer. ``answer`` is the answer's :attr:`Reply.feedback` token, handed
    back as the channel got it: the channel needs to know nothing about entries or languages."""

    answer: str
    helpful: bool


@dataclass(frozen=True)
class Button:
    """A link button (url) or a choice button (payload sent back as Incoming.choice)."""

    label: str
    url: str | None = None
    payload: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send. ``text`` uses the small Markdown subset of the knowledge files;
    adapters render it (HTML for Telegram and Matrix, plain text for the console) and must
    escape everything else."""

    text: str
    buttons: tuple[Button, ...] = ()
    choices: tuple[Button, ...] = ()
    language: str = "de"
    entry_id: str | None = None
    # Set on answers citizens may rate: a short token (bot.core.feedback) naming the entry and
    # language answered. Channels offer 👍/👎 under such a reply and send the token back as a Vote.
    feedback: str | None = None
    # Set where the text alone does not tell (hours, out of scope, fallback); see bot.core.decision.
    kind: ReplyKind | None = None


# Keys of UserState.extra with this prefix are the conversation's context (last topic, list
# language, …): kept in memory with the chat, never written to a store.
CONTEXT_PREFIX = "ctx."


@dataclass
class UserState:
    """What the dialogue remembers about one chat between messages."""

    language: str | None = None
    pending_choices: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatRef:
    """One chat on one channel, answered by one profile: where a reminder goes, whose state the
    dialogue keeps. A Telegram user has the same chat id with every bot of the city."""

    channel: str
    chat_id: str
    profile: str = "default"


@dataclass(frozen=True)
class Appointment:
    """An appointment a chat is reminded of (added in the chat or linked from a booking)."""

    id: str
    starts_at: dt.datetime  # timezone-aware
    office: str | None  # office id from offices.yaml
    subject: str  # what it is for ("Personalausweis beantragen"); may be empty
    source: str  # "chat", or the back-office system that created it


class SubscriptionKind(StrEnum):
    CASE = "case"  # status changes of one case (e.g. a passport application), by its reference
    WASTE = "waste"  # the evening before each waste collection in one district


@dataclass(frozen=True)
class Subscription:
    id: str
    kind: SubscriptionKind
    ref: str  # case reference or district id
    label: str  # what the citizen sees: the case reference or the district's name


class LinkError(StrEnum):
    MALFORMED = "malformed"  # not a token at all (a campaign's /start payload, a typo)
    DAMAGED = "damaged"  # shaped like a token but cut short or changed on its way: a broken booking link
    FORGED = "forged"  # well-formed, bad signature
    EXPIRED = "expired"
    USED = "used"  # already redeemed (tokens are single-use)
    UNKNOWN = "unknown"  # genuine, but no appointment behind it (e.g. cancelled by the office)


@dataclass(frozen=True)
class LinkResult:
    appointment: Appointment | None = None
    error: LinkError | None = None


class NoticeKind(StrEnum):
    APPOINTMENT = "appointment"  # params: starts_at (ISO 8601 with offset), office, subject, lead ("1d", "1h", …)
    APPOINTMENT_CANCELLED = "appointment_cancelled"  # params: starts_at, office, subject (cancelled by the office)
    CASE_STATUS = "case_status"  # params: reference, document, status
    CASE_FOLLOWUP = "case_followup"  # params: reference, document, status (still waiting to be collected)
    WASTE = "waste"  # params: district, date (ISO), fractions (comma-separated fraction ids)


@dataclass(frozen=True)
class Notice:
    """A stored message that is due: rendered into a Reply (bot.core.notices) when it is sent,
    so it uses the knowledge (office names, hours) current at that time."""

    kind: NoticeKind
    language: str
    params: dict[str, str]
