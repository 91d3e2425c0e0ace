"""The SQL side of the core's ReminderBook port: appointments, links, subscriptions, and their queued notices."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from bot.core.cases import normalise_reference
from bot.core.models import Appointment, ChatRef, LinkError, LinkResult, NoticeKind, Subscription, SubscriptionKind
from bot.core.schedule import ReminderPolicy
from bot.reminders.planning import appointment_dues, waste_dues
from bot.reminders.queue import Due, enqueue
from bot.reminders.tokens import BadSignature, ExpiredToken, MalformedToken, TokenSigner, token_shaped
from bot.reminders.waste_calendar import WasteCalendar
from bot.storage.blocked_chats import BlockedChats
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import AppointmentChatRow, AppointmentRow, BlockedChatRow, CaseRow, ChatStateRow, ReminderRow, SubscriptionRow


class SqlReminderBook:
    def __init__(
        self, engine: Engine, policy: ReminderPolicy, clock: Callable[[], dt.datetime],
        signer: TokenSigner | None = None, calendar: Callable[[], WasteCalendar] = WasteCalendar,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self._clock = clock
        self._signer = signer
        self._calendar = calendar
        self._blocked = BlockedChats(engine, clock)

    # -- appointments ------------------------------------------------------------------------------
    def add_appointment(self, chat: ChatRef, language: str, starts_at: dt.datetime, office: str | None, subject: str) -> Appointment:
        now = self._clock()
        appointment = Appointment(uuid.uuid4().hex, self.policy.local(starts_at), office, subject[:200], "chat")
        with self.engine.begin() as conn:
            conn.execute(insert(AppointmentRow).values(
                id=appointment.id, source="chat", external_ref=None, starts_at=starts_at, office=office, subject=appointment.subject,
                language=language, status="active", token_id=None, redeemed_at=None, created_at=now,
            ))
            self._follow(conn, appointment, chat, language, now)
        return appointment

    def _follow(self, conn: Connection, appointment: Appointment, chat: ChatRef, language: str, now: dt.datetime) -> None:
        conn.execute(insert(AppointmentChatRow).values(
            appointment_id=appointment.id, channel=chat.channel, chat_id=chat.chat_id, profile=chat.profile, language=language, created_at=now,
        ))
        enqueue(conn, appointment_dues(self.policy, appointment.id, appointment.starts_at, appointment.office, appointment.subject, chat, language, now))

    def upcoming(self, chat: ChatRef, now: dt.datetime) -> list[Appointment]:
        query = (
            select(AppointmentRow)
            .join(AppointmentChatRow, AppointmentChatRow.appointment_id == AppointmentRow.id)
            .where(*_links_of(chat), AppointmentRow.status == "active", AppointmentRow.starts_at > now)
            .order_by(AppointmentRow.starts_at)
        )
        with self.engine.connect() as conn:
            return [self._appointment_from(r) for r in conn.execute(query)]

    def _appointment_from(self, row: Any) -> Appointment:
        return Appointment(row.id, self.policy.local(row.starts_at), row.office, row.subject, row.source)

    def cancel(self, chat: ChatRef, appointment_id: str) -> bool:
        """This chat no longer wants reminders of it; an appointment the chat itself added is gone."""
        with self.engine.begin() as conn:
            removed = conn.execute(delete(AppointmentChatRow).where(AppointmentChatRow.appointment_id == appointment_id, *_links_of(chat))).rowcount
            if not removed:
                return False
            conn.execute(delete(ReminderRow).where(
                ReminderRow.subject_id == appointment_id, ReminderRow.channel == chat.channel, ReminderRow.chat_id == chat.chat_id,
                ReminderRow.profile == chat.profile, ReminderRow.status == "pending",
            ))
            conn.execute(delete(AppointmentRow).where(AppointmentRow.id == appointment_id, AppointmentRow.source == "chat"))
            return True

    def redeem(self, chat: ChatRef, language: str, token: str) -> LinkResult:
        # A payload that is no token at all is "malformed", and /start greets as usual; one shaped
        # like a token that does not verify is a booking link broken on its way, and is told so.
        damaged = LinkError.DAMAGED if token_shaped(token) else LinkError.MALFORMED
        if self._signer is None:  # without keys no link can be genuine
            return LinkResult(error=damaged)
        try:
            verified = self._signer.verify(token)
        except MalformedToken:
            return LinkResult(error=damaged)
        except BadSignature:
            return LinkResult(error=LinkError.FORGED)
        except ExpiredToken:
            return LinkResult(error=LinkError.EXPIRED)
        now = self._clock()
        with self.engine.begin() as conn:
            # The conditional update is the single-use check: of two chats redeeming at once, one wins.
            claimed = conn.execute(
                update(AppointmentRow)
                .where(AppointmentRow.token_id == verified.token_id, AppointmentRow.redeemed_at.is_(None), AppointmentRow.status == "active")
                .values(redeemed_at=now)
                .returning(AppointmentRow.id, AppointmentRow.starts_at, AppointmentRow.office, AppointmentRow.subject, AppointmentRow.source)
            ).first()
            if claimed is None:
                row = conn.execute(select(AppointmentRow.redeemed_at, AppointmentRow.status).where(AppointmentRow.token_id == verified.token_id)).first()
                used = row is not None and row.redeemed_at is not None and row.status == "active"
                return LinkResult(error=LinkError.USED if used else LinkError.UNKNOWN)
            appointment = self._appointment_from(claimed)
            if appointment.starts_at <= now:
                return LinkResult(error=LinkError.EXPIRED)
            already = conn.execute(select(AppointmentChatRow.appointment_id).where(
                AppointmentChatRow.appointment_id == appointment.id, *_links_of(chat),
            )).first()
            if already is None:
                self._follow(conn, appointment, chat, language, now)
            return LinkResult(appointment=appointment)

    # -- subscriptions -----------------------------------------------------------------------------
    def subscribe_case(self, chat: ChatRef, language: str, reference: str) -> Subscription | None:
        ref = normalise_reference(reference)
        now = self._clock()
        with self.engine.begin() as conn:
            case = conn.execute(select(CaseRow).where(CaseRow.reference == ref)).first()
            if case is None:
                return None
            sub = self._subscribe(conn, chat, language, SubscriptionKind.CASE, ref, now)
            # The current status at once, so the citizen knows where things stand.
            changed = case.changed_at
            enqueue(conn, [Due(
                dedupe_key=f"case:{sub.id}:{case.status}:{changed.isoformat()}", subject_id=sub.id, chat=chat, language=language,
                kind=NoticeKind.CASE_STATUS, params={"reference": ref, "document": case.document, "status": case.status}, due_at=now,
            )])
            return sub

    def subscribe_waste(self, chat: ChatRef, language: str, district: str) -> Subscription:
        calendar = self._calendar()
        if district not in calendar.names:
            raise KeyError(district)
        now = self._clock()
        with self.engine.begin() as conn:
            sub = self._subscribe(conn, chat, language, SubscriptionKind.WASTE, district, now)
            enqueue(conn, waste_dues(self.policy, calendar, sub.id, district, chat, language, now))
            return sub

    def _subscribe(self, conn: Connection, chat: ChatRef, language: str, kind: SubscriptionKind, ref: str, now: dt.datetime) -> Subscription:
        values = {"id": uuid.uuid4().hex, "kind": kind.value, "ref": ref, "channel": chat.channel, "chat_id": chat.chat_id,
                  "profile": chat.profile, "language": language, "created_at": now}
        conn.execute(insert_or_ignore(conn, SubscriptionRow, ["kind", "ref", "channel", "chat_id", "profile"]).values(values))
        row = conn.execute(select(SubscriptionRow.id).where(SubscriptionRow.kind == kind.value, SubscriptionRow.ref == ref, *_subscriptions_of(chat))).one()
        return _subscription(row.id, kind, ref, self._calendar().names)

    def subscriptions(self, chat: ChatRef) -> list[Subscription]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(SubscriptionRow.id, SubscriptionRow.kind, SubscriptionRow.ref).where(*_subscriptions_of(chat))
                                .order_by(SubscriptionRow.created_at)).all()
        names = self._calendar().names  # once per listing: the calendar folder is checked for changes on each call
        return [_subscription(r.id, SubscriptionKind(r.kind), r.ref, names) for r in rows]

    def unsubscribe(self, chat: ChatRef, subscription_id: str) -> bool:
        with self.engine.begin() as conn:
            removed = conn.execute(delete(SubscriptionRow).where(SubscriptionRow.id == subscription_id, *_subscriptions_of(chat))).rowcount
            if removed:
                conn.execute(delete(ReminderRow).where(ReminderRow.subject_id == subscription_id, ReminderRow.status == "pending"))
            return bool(removed)

    def top_up_waste(self) -> int:
        """Queue the coming collections for every waste subscriber (hourly job), and cancel queued
        reminders for days a replaced calendar no longer has. Returns how many rows were queued."""
        calendar = self._calendar()
        now = self._clock()
        with self.engine.begin() as conn:
            # FOR SHARE: a chat deleting its data at this moment waits, or its rows are already gone.
            subs = conn.execute(select(SubscriptionRow).where(SubscriptionRow.kind == SubscriptionKind.WASTE.value).with_for_update(read=True)).all()
            districts = {s.id: s.ref for s in subs}
            queued = conn.execute(select(ReminderRow.id, ReminderRow.subject_id, ReminderRow.dedupe_key).where(
                ReminderRow.kind == NoticeKind.WASTE.value, ReminderRow.status == "pending", ReminderRow.subject_id.in_(list(districts)),
            )).all()
            gone = [r.id for r in queued if _waste_day(r.dedupe_key) not in calendar.days.get(districts[r.subject_id], {})]
            if gone:
                conn.execute(update(ReminderRow).where(ReminderRow.id.in_(gone)).values(status="cancelled"))
            return enqueue(conn, [
                due for s in subs
                for due in waste_dues(self.policy, calendar, s.id, s.ref, ChatRef(s.channel, s.chat_id, s.profile), s.language, now)
            ])

    def districts(self) -> dict[str, str]:
        return dict(self._calendar().names)

    # -- the citizen's data ------------------------------------------------------------------------
    # export and forget cover every profile: they answer "everything about me", whichever bot is asked.
    def export(self, chat: ChatRef) -> dict[str, Any]:
        where_chat = (ReminderRow.channel == chat.channel, ReminderRow.chat_id == chat.chat_id)
        with self.engine.connect() as conn:
            appointments = conn.execute(
                select(AppointmentRow.id, AppointmentRow.starts_at, AppointmentRow.office, AppointmentRow.subject, AppointmentRow.source,
                       AppointmentRow.status, AppointmentChatRow.language, AppointmentChatRow.created_at)
                .join(AppointmentChatRow, AppointmentChatRow.appointment_id == AppointmentRow.id)
                .where(AppointmentChatRow.channel == chat.channel, AppointmentChatRow.chat_id == chat.chat_id)
                .order_by(AppointmentRow.starts_at)
            ).all()
            subs = conn.execute(select(SubscriptionRow).where(SubscriptionRow.channel == chat.channel, SubscriptionRow.chat_id == chat.chat_id)).all()
            reminders = conn.execute(
                select(ReminderRow.kind, ReminderRow.due_at, ReminderRow.status, ReminderRow.sent_at, ReminderRow.params, ReminderRow.language)
                .where(*where_chat).order_by(ReminderRow.due_at)
            ).all()
        return {
            "appointments": [
                {"id": a.id, "starts_at": self.policy.local(a.starts_at).isoformat(), "office": a.office, "subject": a.subject,
                 "source": a.source, "status": a.status, "language": a.language, "linked_at": _iso(a.created_at)}
                for a in appointments
            ],
            "subscriptions": [
                {"id": s.id, "kind": s.kind, "ref": s.ref, "language": s.language, "created_at": _iso(s.created_at)} for s in subs
            ],
            "reminders": [
                {"kind": r.kind, "due_at": _iso(r.due_at), "status": r.status, "sent_at": _iso(r.sent_at), "language": r.language,
                 "details": json.loads(r.params)}
                for r in reminders
            ],
        }

    def forget(self, chat: ChatRef) -> None:
        with self.engine.begin() as conn:
            own = select(AppointmentChatRow.appointment_id).where(
                AppointmentChatRow.channel == chat.channel, AppointmentChatRow.chat_id == chat.chat_id,
            )
            chat_made = [r.id for r in conn.execute(select(AppointmentRow.id).where(AppointmentRow.id.in_(own), AppointmentRow.source == "chat"))]
            # Subscriptions and links first: a job that read them FOR SHARE and is queueing rows for
            # this chat is waited for here, so the reminders deleted next include its rows.
            conn.execute(delete(SubscriptionRow).where(SubscriptionRow.channel == chat.channel, SubscriptionRow.chat_id == chat.chat_id))
            conn.execute(delete(AppointmentChatRow).where(AppointmentChatRow.channel == chat.channel, AppointmentChatRow.chat_id == chat.chat_id))
            conn.execute(delete(ReminderRow).where(ReminderRow.channel == chat.channel, ReminderRow.chat_id == chat.chat_id))
            if chat_made:
                conn.execute(delete(AppointmentRow).where(AppointmentRow.id.in_(chat_made)))
            conn.execute(delete(ChatStateRow).where(ChatStateRow.channel == chat.channel, ChatStateRow.chat_id == chat.chat_id))
            conn.execute(delete(BlockedChatRow).where(BlockedChatRow.channel == chat.channel, BlockedChatRow.chat_id == chat.chat_id))
        self._blocked.forget(chat)

    def heard_from(self, chat: ChatRef) -> None:
        self._blocked.heard_from(chat)


def _subscription(sub_id: str, kind: SubscriptionKind, ref: str, district_names: dict[str, str]) -> Subscription:
    """A subscription as the citizen sees it: a waste district by its name, a case by its reference."""
    return Subscription(sub_id, kind, ref, district_names.get(ref, ref) if kind is SubscriptionKind.WASTE else ref)


def _links_of(chat: ChatRef) -> tuple[Any, ...]:
    """This chat's appointment links as seen by one profile: a Telegram user has the same chat id
    with every bot of the city, and each bot lists and ends only its own."""
    return (AppointmentChatRow.channel == chat.channel, AppointmentChatRow.chat_id == chat.chat_id, AppointmentChatRow.profile == chat.profile)


def _subscriptions_of(chat: ChatRef) -> tuple[Any, ...]:
    return (SubscriptionRow.channel == chat.channel, SubscriptionRow.chat_id == chat.chat_id, SubscriptionRow.profile == chat.profile)


def _waste_day(dedupe_key: str) -> dt.date | None:
    """The collection day in a waste reminder's key (``waste:<subscription>:<ISO date>``)."""
    try:
        return dt.date.fromisoformat(dedupe_key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
