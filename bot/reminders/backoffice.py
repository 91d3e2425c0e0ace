"""What the city's systems tell the bot: appointments booked and cancelled, case statuses changed.

No HTTP in here: the back-office API (bot.web.backoffice) and the CSV import
(bot.reminders.csv_import) both call these methods, with the requests and answers of
bot.reminders.api_models. Each method works inside one transaction that
the caller opens (``with engine.begin() as conn``), so the API can store its answer for an
idempotency key in the same transaction as the work it answers for.

Decisions (the API documents them too):

* **Appointments are unique per (client, external_ref).** Creating one that exists with the same
  data is a safe retry: it answers with the existing appointment (``created: false``) and a fresh
  token for the same token id, so every link issued for it works until one is redeemed. The same
  ``external_ref`` with other data, or of a cancelled appointment, is a :class:`Conflict`:
  rescheduling is "cancel, then create with a new external_ref" (the linked chats hear of both).
* **Case statuses** apply only when newer than the stored one and different from it, so a late or
  repeated report never notifies twice. A case belongs to the client that first reported it.
* All times are stored in UTC (SQLite keeps no offset); notice params carry city time with offset.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

from bot.channels.registry import DeepLink, deep_links
from bot.config import Settings
from bot.core.cases import PICKUP_STATUSES
from bot.core.models import ChatRef, NoticeKind, SubscriptionKind
from bot.reminders.api_models import (
    CancelledAppointment,
    CaseStatusResult,
    CaseStatusUpdate,
    CaseUpdate,
    Conflict,
    CreatedAppointment,
    InvalidField,
    NewAppointment,
    NotFound,
    appointment_model,
    case_reference_adapter,
    parse,
    parse_value,
)
from bot.reminders.link_keys import link_signer
from bot.reminders.queue import Due, enqueue
from bot.reminders.tokens import DEFAULT_TOKEN_ID_BYTES, TokenSigner
from bot.storage.database import as_utc
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import AppointmentChatRow, AppointmentRow, CaseRow, ReminderRow, SubscriptionRow

MAX_AHEAD = dt.timedelta(days=731)  # a booking two years ahead is a typo in the year
MAX_AGE = dt.timedelta(days=731)  # a status change older than that is a typo too (or history nobody needs told)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a system's clock may run a little ahead of ours
FOLLOWUP_TIME = dt.time(10, 0)  # city time: late enough to be polite, early enough to still go that day
RESERVED_SOURCES = frozenset({"chat"})  # the source of appointments citizens add in the chat: no client may use it


def parse_case_update(reference: str, raw: Mapping[str, object]) -> CaseUpdate:
    """A status update for the case in the URL; raises :class:`InvalidField` naming the first bad field."""
    normalised = parse_value(case_reference_adapter, "reference", reference)
    body = parse(CaseStatusUpdate, raw)
    return CaseUpdate(reference=normalised, document=body.document, status=body.status, changed_at=body.changed_at)


class Backoffice:
    """The service; every method takes the caller's open transaction (``conn``) and the client's name."""

    def __init__(
        self,
        signer: TokenSigner,
        *,
        known_offices: Callable[[], Collection[str]],
        languages: Collection[str],
        default_language: str,
        zone: ZoneInfo,
        link_ttl: dt.timedelta,
        followup_days: int,
        deep_links: Callable[[str], list[DeepLink]],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._signer = signer
        self._known_offices = known_offices
        self.languages = frozenset(languages)
        self.default_language = default_language
        self._appointment_model = appointment_model(tuple(languages))
        self._zone = zone
        self._link_ttl = link_ttl
        self._followup_days = followup_days
        self._deep_links = deep_links  # a token's links, one per profile and channel (bot.channels.registry)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, known_offices: Callable[[], Collection[str]], clock: Callable[[], dt.datetime]) -> Backoffice:
        """Raises ``MissingSecret`` when the deep-link keys are not configured."""
        return cls(
            link_signer(settings, clock),
            known_offices=known_offices,
            languages=settings.languages,
            default_language=settings.default_language,
            zone=ZoneInfo(settings.timezone),
            link_ttl=dt.timedelta(days=settings.reminders.link_ttl_days),
            followup_days=settings.reminders.case_followup_days,
            deep_links=partial(deep_links, settings),
            clock=clock,
        )

    def parse_appointment(self, raw: Mapping[str, object]) -> NewAppointment:
        return parse(self._appointment_model, raw)

    def _now(self) -> dt.datetime:
        return as_utc(self._clock())

    def _city(self, moment: dt.datetime) -> dt.datetime:
        return as_utc(moment).astimezone(self._zone)

    # Appointments

    def create_appointment(self, conn: Connection, client: str, new: NewAppointment) -> CreatedAppointment:
        now = self._now()
        if new.office is not None and new.office not in self._known_offices():
            raise InvalidField("office", f"unknown office id {new.office!r}")
        language = new.language or self.default_language
        if language not in self.languages:  # a NewAppointment not made by parse_appointment
            raise InvalidField("language", f"must be one of {', '.join(sorted(self.languages))}")
        subject = new.subject or ""
        if new.starts_at <= now:
            raise InvalidField("starts_at", "must be in the future")
        if new.starts_at > now + MAX_AHEAD:
            raise InvalidField("starts_at", "more than two years ahead")
        token_id = secrets.token_bytes(DEFAULT_TOKEN_ID_BYTES)
        appointment_id = uuid.uuid4().hex
        # Insert-or-ignore on (source, external_ref): of two concurrent creates exactly one inserts,
        # the other finds the row (on PostgreSQL after the first one committed).
        inserted = conn.execute(
            insert_or_ignore(conn, AppointmentRow, ["source", "external_ref"]).returning(AppointmentRow.id),
            [{
                "id": appointment_id, "source": client, "external_ref": new.external_ref, "starts_at": as_utc(new.starts_at),
                "office": new.office, "subject": subject, "language": language, "status": "active",
                "token_id": token_id.hex(), "redeemed_at": None, "created_at": now,
            }],
        ).first()
        if inserted is not None:
            return self._with_token(appointment_id, new.external_ref, new.starts_at, token_id, created=True, redeemed=False)
        row = self._appointment(conn, client, external_ref=new.external_ref)
        assert row is not None  # the insert was skipped because it exists
        if row.status != "active":
            raise Conflict(f"external_ref {new.external_ref!r} belongs to a cancelled appointment; use a new external_ref")
        same = (row.starts_at, row.office, row.subject, row.language) == (as_utc(new.starts_at), new.office, subject, language)
        if not same or row.token_id is None:
            raise Conflict(f"external_ref {new.external_ref!r} exists with other data; to reschedule, cancel it and create a new one")
        return self._with_token(row.id, row.external_ref or "", new.starts_at, bytes.fromhex(row.token_id), created=False,
                                redeemed=row.redeemed_at is not None)

    def _with_token(self, appointment_id: str, external_ref: str, starts_at: dt.datetime, token_id: bytes, *, created: bool,
                    redeemed: bool) -> CreatedAppointment:
        # A link is useless once the appointment is over: it expires a day after at the latest.
        ttl = min(self._link_ttl, as_utc(starts_at) + dt.timedelta(days=1) - self._now())
        issued = self._signer.issue(token_id=token_id, ttl=ttl)
        links = tuple(self._deep_links(issued.token))
        return CreatedAppointment(id=appointment_id, external_ref=external_ref, starts_at=self._city(starts_at), token=issued.token,
                                  expires_at=issued.expires_at, links=links, created=created, redeemed=redeemed)

    @staticmethod
    def _appointment(conn: Connection, client: str, *, external_ref: str | None = None, appointment_id: str | None = None) -> Any:
        query = select(AppointmentRow).where(AppointmentRow.source == client)
        if external_ref is not None:
            query = query.where(AppointmentRow.external_ref == external_ref)
        if appointment_id is not None:
            query = query.where(AppointmentRow.id == appointment_id)
        return conn.execute(query).first()

    def cancel_appointment(self, conn: Connection, client: str, *, external_ref: str | None = None,
                           appointment_id: str | None = None) -> CancelledAppointment:
        """Cancel the client's appointment (by its external_ref or id): drop its pending reminders and
        tell every linked chat. Cancelling again changes nothing and notifies nobody."""
        if (external_ref is None) == (appointment_id is None):
            raise ValueError("give external_ref or appointment_id")
        row = self._appointment(conn, client, external_ref=external_ref, appointment_id=appointment_id)
        if row is None:
            raise NotFound(f"no appointment {external_ref or appointment_id!r} of client {client!r}")
        result = CancelledAppointment(id=row.id, external_ref=row.external_ref or "", notified=0)
        # The conditional update is the lock: of two concurrent cancels only one sees "active".
        changed = conn.execute(
            update(AppointmentRow).where(AppointmentRow.id == row.id, AppointmentRow.status == "active").values(status="cancelled")
        ).rowcount
        if not changed:
            return result
        conn.execute(
            update(ReminderRow)
            .where(ReminderRow.subject_id == row.id, ReminderRow.status == "pending", ReminderRow.kind != NoticeKind.APPOINTMENT_CANCELLED.value)
            .values(status="cancelled")
        )
        now = self._now()
        starts_at = row.starts_at  # UtcDateTime: already aware UTC
        if starts_at <= now:
            return result  # nobody needs to hear that a past appointment will not take place
        params = {"starts_at": self._city(starts_at).isoformat(), "office": row.office or "", "subject": row.subject}
        # FOR SHARE: a chat deleting its data meanwhile waits until these notices are queued, then takes them along.
        chats = conn.execute(select(AppointmentChatRow).where(AppointmentChatRow.appointment_id == row.id).with_for_update(read=True)).all()
        notified = enqueue(conn, [
            Due(
                dedupe_key=f"appt-cancel:{row.id}:{chat.channel}:{chat.chat_id}", subject_id=row.id,
                chat=ChatRef(chat.channel, chat.chat_id, chat.profile), language=chat.language,
                kind=NoticeKind.APPOINTMENT_CANCELLED, params=params, due_at=now, expires_at=starts_at,
            )
            for chat in chats
        ])
        return CancelledAppointment(id=row.id, external_ref=row.external_ref or "", notified=notified)

    # Cases

    def followup_due(self, changed_at: dt.datetime) -> dt.datetime:
        """``followup_days`` after the change, at 10:00 city time (in UTC; the wall clock stays 10:00 across DST)."""
        day = self._city(changed_at).date() + dt.timedelta(days=self._followup_days)
        return dt.datetime.combine(day, FOLLOWUP_TIME, tzinfo=self._zone).astimezone(dt.UTC)

    def post_case_status(self, conn: Connection, client: str, case: CaseUpdate) -> CaseStatusResult:
        now = self._now()
        changed_at = as_utc(case.changed_at) if case.changed_at is not None else now
        if changed_at > now + CLOCK_SKEW:
            raise InvalidField("changed_at", "must not be in the future")
        if changed_at < now - MAX_AGE:
            raise InvalidField("changed_at", "more than two years ago")
        values = {"reference": case.reference, "source": client, "document": case.document, "status": case.status, "changed_at": changed_at}
        created = conn.execute(insert_or_ignore(conn, CaseRow, ["reference"]).returning(CaseRow.reference), [values]).first()
        if created is None:
            row = conn.execute(select(CaseRow).where(CaseRow.reference == case.reference).with_for_update()).one()
            if row.source != client:
                raise Conflict(f"case {case.reference!r} is reported by another system")
            stale = row.changed_at > changed_at or (row.status, row.document) == (case.status, case.document)
            if stale:
                return CaseStatusResult(reference=case.reference, document=row.document, status=row.status,
                                        changed_at=self._city(row.changed_at), applied=False, notified=0, followup_at=None)
            conn.execute(update(CaseRow).where(CaseRow.reference == case.reference).values(**values))
        return self._notify_case(conn, case, changed_at, now)

    def _notify_case(self, conn: Connection, case: CaseUpdate, changed_at: dt.datetime, now: dt.datetime) -> CaseStatusResult:
        subscriptions = conn.execute(
            select(SubscriptionRow).where(SubscriptionRow.kind == SubscriptionKind.CASE.value, SubscriptionRow.ref == case.reference)
            .with_for_update(read=True)
        ).all()
        changed_key = changed_at.isoformat()
        followup_at = self.followup_due(changed_at) if case.status in PICKUP_STATUSES else None
        followup_keys = {sub.id: f"case-followup:{sub.id}:{changed_key}" for sub in subscriptions}
        if subscriptions:
            # Whatever the new status, the old "still waiting" reminder no longer fits (the one this
            # very change schedules is kept, should it exist from an earlier report of it).
            # Only a new "ready for pickup" keeps its own follow-up: after "collected" none may remain,
            # even when the city's system reports both with the same time.
            keep = list(followup_keys.values()) if followup_at is not None else []
            conn.execute(
                update(ReminderRow)
                .where(ReminderRow.subject_id.in_(list(followup_keys)), ReminderRow.kind == NoticeKind.CASE_FOLLOWUP.value,
                       ReminderRow.status == "pending", ReminderRow.dedupe_key.not_in(keep))
                .values(status="cancelled")
            )
        params = {"reference": case.reference, "document": case.document, "status": case.status}
        dues = []
        for sub in subscriptions:
            chat = ChatRef(sub.channel, sub.chat_id, sub.profile)
            dues.append(Due(f"case:{sub.id}:{case.status}:{changed_key}", sub.id, chat, sub.language, NoticeKind.CASE_STATUS, params, now))
        notified = enqueue(conn, dues)
        if followup_at is not None:
            enqueue(conn, [
                Due(followup_keys[sub.id], sub.id, ChatRef(sub.channel, sub.chat_id, sub.profile), sub.language,
                    NoticeKind.CASE_FOLLOWUP, params, followup_at, expires_at=None)
                for sub in subscriptions
            ])
        return CaseStatusResult(reference=case.reference, document=case.document, status=case.status, changed_at=self._city(changed_at),
                                applied=True, notified=notified, followup_at=self._city(followup_at) if followup_at else None)
