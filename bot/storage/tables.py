"""Database tables (SQLAlchemy 2). Every change to them comes with an Alembic migration."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Dialect, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database. SQLite would otherwise keep
    the wall-clock digits and drop the offset, and due times in different offsets would not compare."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: the database keeps aware times only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class ChatStateRow(Base):
    """What outlives a restart of one chat's dialogue with one profile: the language choice."""

    __tablename__ = "chat_states"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="default")
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class UnansweredRow(Base):
    """A question the bot could not answer. Deliberately without any user or chat id: only the
    chat's pseudonym, so that "delete my data" can delete the question (it may hold a name)."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (Index("ix_unanswered_asked_at", "asked_at"), Index("ix_unanswered_chat_pseudonym", "chat_pseudonym"))
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    asked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(1000))
    chat_pseudonym: Mapped[str | None] = mapped_column(String(64))  # bot.ops.logs.pseudonym; None for questions from before 0007


_BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class AppointmentRow(Base):
    """An appointment, added in a chat or created by a back-office system (then linked by token)."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("source", "external_ref", name="uq_appointments_source_ref"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # "chat" or the back-office system's name
    external_ref: Mapped[str | None] = mapped_column(String(128))  # the system's own id
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    office: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="de")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | cancelled
    token_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # deep-link token id (hex)
    redeemed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # tokens are single-use
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AppointmentChatRow(Base):
    """A chat that wants reminders of an appointment."""

    __tablename__ = "appointment_chats"
    __table_args__ = (Index("ix_appointment_chats_chat", "channel", "chat_id"),)
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class CaseRow(Base):
    """The status of a case (e.g. a passport application) as the city's systems last reported it."""

    __tablename__ = "cases"
    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(String(32))  # reisepass, personalausweis, …
    status: Mapped[str] = mapped_column(String(32))  # received, in_progress, ready_for_pickup, collected, …
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class SubscriptionRow(Base):
    """A chat following a case's status or a district's waste collections."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "channel", "chat_id", "profile", name="uq_subscriptions_chat"),
        Index("ix_subscriptions_chat", "channel", "chat_id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # case | waste
    ref: Mapped[str] = mapped_column(String(64))  # case reference or district id
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    profile: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class ReminderRow(Base):
    """One message due to one chat at one time: the scheduler's work queue.

    Workers claim due rows, mark them ``sending`` (the delivery key) before the message leaves and
    ``sent`` after; a row left in ``sending`` by a killed worker is sent again once its lease ran out
    (at least once), and counted in ``doubtful_sends`` where the channel cannot drop the repeat.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_due", "status", "due_at"),
        Index("ix_reminders_chat", "channel", "chat_id"),
        Index("ix_reminders_subject", "subject_id"),
    )
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # one row per (what, whom, when)
    subject_id: Mapped[str] = mapped_column(String(64))  # appointment or subscription id
    channel: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(24))  # NoticeKind
    params: Mapped[str] = mapped_column(Text)  # JSON object of strings
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # useless after this: dropped
    # pending | sending | sent | dropped | cancelled | failed | blocked (held while the chat blocks the bot)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    worker: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Sends that may have arrived without the worker learning so (it died, the request timed out)
    # and were followed by another: the chat may have this reminder twice.
    doubtful_sends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class BlockedChatRow(Base):
    """A chat that blocked the bot (Telegram said 403): its reminders are held, not sent, until it
    writes to the bot again. Its appointments and subscriptions stay."""

    __tablename__ = "blocked_chats"
    __table_args__ = (Index("ix_blocked_chats_at", "blocked_at"),)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    blocked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class FloodBudgetRow(Base):
    """The next free send slot of a flood budget shared by every process (one bot token's 30
    messages a second), as seconds since the epoch on the database's clock."""

    __tablename__ = "flood_budgets"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # never the token itself: a hash of it
    next_at: Mapped[float] = mapped_column(Float)


class IdempotencyRow(Base):
    """A back-office request already carried out: a retry with the same key gets the same answer."""

    __tablename__ = "idempotency_keys"
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class UsageEventRow(Base):
    """One use of the bot, for staff reports: an answer, a fallback, an offer or a choice taken.
    Deliberately without any user or chat id and without the message text."""

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_events_at", "at"),)
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # core.ports.UsageKind
    entry_id: Mapped[str | None] = mapped_column(String(200))  # None for out_of_scope
    position: Mapped[int] = mapped_column(Integer, default=0)  # place in an offer or menu (0 = first): position 0 counts the offers
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    profile: Mapped[str] = mapped_column(String(64), server_default="default")  # the bot that answered


class TelegramUpdateRow(Base):
    """A Telegram update one of the bot's processes has taken on: Telegram delivers an update again
    after a crash before its confirmation, or retries a webhook call, and a second replica may get
    it. Only ids, a time, how far the answer got and which process took it on, kept for a few days
    (Telegram keeps undelivered updates for 24 hours). ``state``: 0 taken on, nothing sent yet; 1 its
    reply is being sent or was sent (bot.storage.telegram_updates)."""

    __tablename__ = "telegram_updates"
    __table_args__ = (Index("ix_telegram_updates_seen_at", "seen_at"),)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    state: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    owner: Mapped[str | None] = mapped_column(String(32), nullable=True)


class StaffAccountRow(Base):
    """A person who may use the staff dashboard. Only an argon2 hash of the password is kept."""

    __tablename__ = "staff_accounts"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # editor | viewer
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class StaffSessionRow(Base):
    """A signed-in dashboard session. The key is the SHA-256 of the session id in the cookie, so a
    copy of the table does not let anyone sign in."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_expires_at", "expires_at"), Index("ix_staff_sessions_account", "account"))
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(ForeignKey("staff_accounts.name", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class AnswerFeedbackRow(Base):
    """A 👍 or 👎 on one answer. Deliberately without any user or chat id."""

    __tablename__ = "answer_feedback"
    __table_args__ = (Index("ix_answer_feedback_at", "at"), Index("ix_answer_feedback_entry", "entry_id"))
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    entry_id: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(64))
    vote: Mapped[str] = mapped_column(String(4))  # core.ports.FeedbackVote
    missing: Mapped[str | None] = mapped_column(String(500))  # "what was missing?", after a down vote


class HandoverRow(Base):
    """A hand-over to a person of the service team (bot/handover). The chat id is kept while the
    hand-over is open, as for a reminder, so the team's answers reach the chat; once the closing
    message is out only the chat's pseudonym is left, for "my data" and "delete my data"."""

    __tablename__ = "handovers"
    __table_args__ = (
        Index("ix_handovers_chat", "channel", "chat_id", "profile"),
        Index("ix_handovers_chat_pseudonym", "chat_pseudonym"),
        Index("ix_handovers_state", "state"),
    )
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # H-00042, shown to the citizen and the team
    profile: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str | None] = mapped_column(String(255))  # None once closed and said goodbye to
    chat_pseudonym: Mapped[str] = mapped_column(String(64))  # bot.ops.logs.pseudonym
    language: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))  # bot.handover.core.CaseState
    question: Mapped[str] = mapped_column(Text)
    turns: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the conversation before the offer
    staff_room: Mapped[str] = mapped_column(String(255))
    root_event_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # the thread's first event; None until posted
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(255))  # the team member's Matrix id
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # the team's first answer
    last_activity_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(16))  # bot.handover.core.CloseReason


class HandoverMessageRow(Base):
    """One message of a hand-over: the citizen's to the staff room (``event_id`` set once posted
    there), the team's to the chat (``event_id`` the staff room event it came as, unique, so a
    replayed sync relays nothing twice), or the bot's own to the chat (claimed, closed). A citizen's
    message carries the channel's id of it (``chat_message_id``), unique within its hand-over, so a
    message the channel delivers again after a crash is relayed once."""

    __tablename__ = "handover_messages"
    __table_args__ = (Index("ix_handover_messages_pending", "done"),
                      Index("uq_handover_messages_chat_message", "handover_id", "chat_message_id", unique=True))
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    handover_id: Mapped[int] = mapped_column(_BigId, ForeignKey("handovers.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # citizen | staff | bot
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    event_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    sender: Mapped[str | None] = mapped_column(String(255))  # the team member, for staff messages
    chat_message_id: Mapped[str | None] = mapped_column(String(255))  # the channel's id of a citizen's message
    done: Mapped[bool] = mapped_column(default=False)  # posted to the staff room, or delivered to the chat


class HandoverRedactionRow(Base):
    """A copy the bot posted in a staff room whose hand-over was deleted: redacted there, then
    this row goes. It names no chat, so deleting the hand-over need not wait for the homeserver."""

    __tablename__ = "handover_redactions"
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
