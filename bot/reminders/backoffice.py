"""What the city's systems tell the bot: appointments booked and cancelled, case statuses changed.

No HTTP in here: the back-office API (bot.web.backoffice) and the CSV import
(bot.reminders.csv_import) both call these methods. Each method works inside one transaction that
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
import re
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

from bot.channels.registry import deep_links
from bot.config import Settings
from bot.core.cases import CASE_STATUSES, DOCUMENTS, normalise_reference
from bot.core.models import ChatRef, NoticeKind, SubscriptionKind
from bot.reminders.link_keys import link_signer
from bot.reminders.queue import Due, enqueue
from bot.reminders.tokens import DEFAULT_TOKEN_ID_BYTES, TokenSigner
from bot.storage.database import as_utc
from bot.storage.inserts import insert_or_ignore
from bot.storage.tables import AppointmentChatRow, AppointmentRow, CaseRow, ReminderRow, SubscriptionRow

EXTERNAL_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # goes into URL paths: no "/" or spaces
CASE_REFERENCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MAX_SUBJECT = 200
MAX_AHEAD = dt.timedelta(days=731)  # a booking two years ahead is a typo in the year
MAX_AGE = dt.timedelta(days=731)  # a status change older than that is a typo too (or history nobody needs told)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a system's clock may run a little ahead of ours
FOLLOWUP_TIME = dt.time(10, 0)  # city time: late enough to be polite, early enough to still go that day
RESERVED_SOURCES = frozenset({"chat"})  # the source of appointments citizens add in the chat: no client may use it
APPOINTMENT_FIELDS = ("external_ref", "starts_at", "office", "subject", "language")
CASE_FIELDS = ("document", "status", "changed_at")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")  # JSON's \ud800 escapes give these; no text can be stored or sent with one
# A day from either end: every time zone's offset fits, so UTC and city time exist for every time in between.
_CALENDAR_MIN = dt.datetime.min + dt.timedelta(days=1)
_CALENDAR_MAX = dt.datetime.max - dt.timedelta(days=1)


class BackofficeError(Exception):
    """A request the service refuses; ``message`` is English for the client's developers and staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidField(BackofficeError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(BackofficeError):
    pass


class Conflict(BackofficeError):
    pass


@dataclass(frozen=True)
class NewAppointment:
    external_ref: str
    starts_at: dt.datetime  # timezone-aware
    office: str | None
    subject: str
    language: str


@dataclass(frozen=True)
class CreatedAppointment:
    id: str
    external_ref: str
    starts_at: dt.datetime
    token: str
    expires_at: dt.datetime
    links: tuple[dict[str, str], ...]
    created: bool  # False: the same appointment existed already (a retry)
    redeemed: bool  # a chat has already used a token of this appointment

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "external_ref": self.external_ref, "starts_at": self.starts_at.isoformat(), "token": self.token,
            "expires_at": self.expires_at.isoformat(), "links": [dict(link) for link in self.links], "created": self.created,
            "redeemed": self.redeemed,
        }


@dataclass(frozen=True)
class CancelledAppointment:
    id: str
    external_ref: str
    notified: int  # chats that get a cancellation notice (0 when it was cancelled before)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "external_ref": self.external_ref, "status": "cancelled", "notified": self.notified}


@dataclass(frozen=True)
class CaseUpdate:
    reference: str
    document: str
    status: str
    changed_at: dt.datetime | None  # None: now


@dataclass(frozen=True)
class CaseResult:
    reference: str
    document: str
    status: str
    changed_at: dt.datetime
    applied: bool  # False: older than, or the same as, the status already known
    notified: int  # subscribed chats that get a status notice
    followup_at: dt.datetime | None  # when the "still waiting to be collected" reminder is due

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference, "document": self.document, "status": self.status, "changed_at": self.changed_at.isoformat(),
            "applied": self.applied, "notified": self.notified, "followup_at": self.followup_at.isoformat() if self.followup_at else None,
        }


def parse_time(field: str, value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise InvalidField(field, "must be a string: an ISO 8601 date and time with offset, e.g. 2026-03-05T09:30:00+01:00")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidField(field, f"{value[:40]!r} is not an ISO 8601 date and time, e.g. 2026-03-05T09:30:00+01:00") from None
    offset = moment.utcoffset()
    if offset is None:
        raise InvalidField(field, "needs a UTC offset, e.g. 2026-03-05T09:30:00+01:00 or …Z")
    # At the ends of the calendar the conversion to UTC, or from UTC to city time, leaves years 1 to 9999.
    try:
        in_range = _CALENDAR_MIN <= moment.replace(tzinfo=None) - offset <= _CALENDAR_MAX
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidField(field, f"{value[:40]!r} is too close to the ends of the calendar (years 1 and 9999)")
    return moment


def _reject_unknown(raw: Mapping[str, object], known: Sequence[str]) -> None:
    for key in raw:
        if key not in known:
            raise InvalidField(str(key), f"unknown field (known: {', '.join(known)})")


def _text(raw: Mapping[str, object], field: str, *, required: bool = False) -> str | None:
    """The stripped string value of ``field``; None when absent or blank (and not required)."""
    value = raw.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidField(field, "must be a string")
    value = (value or "").strip()
    if _SURROGATE_RE.search(value):
        raise InvalidField(field, "is not valid Unicode text (it contains a lone surrogate, such as \\ud800)")
    if not value:
        if required:
            raise InvalidField(field, "is required")
        return None
    return value


def parse_appointment(raw: Mapping[str, object], languages: Collection[str], default_language: str) -> NewAppointment:
    """A new appointment from JSON or a CSV row; raises :class:`InvalidField` naming the first bad field."""
    _reject_unknown(raw, APPOINTMENT_FIELDS)
    ref = _text(raw, "external_ref", required=True) or ""
    if not EXTERNAL_REF_RE.fullmatch(ref):
        raise InvalidField("external_ref", "must be 1 to 128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit")
    if raw.get("starts_at") is None:
        raise InvalidField("starts_at", "is required")
    starts_at = parse_time("starts_at", raw["starts_at"])
    office = _text(raw, "office")
    subject = _text(raw, "subject") or ""
    if len(subject) > MAX_SUBJECT:
        raise InvalidField("subject", f"at most {MAX_SUBJECT} characters")
    if _CONTROL_RE.search(subject):
        raise InvalidField("subject", "must be one line without control characters")
    language = _text(raw, "language") or default_language
    if language not in languages:
        raise InvalidField("language", f"must be one of {', '.join(sorted(languages))}")
    return NewAppointment(ref, starts_at, office, subject, language)


def parse_case_update(reference: str, raw: Mapping[str, object]) -> CaseUpdate:
    if not CASE_REFERENCE_RE.fullmatch(reference):
        raise InvalidField("reference", "must be 1 to 64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit")
    _reject_unknown(raw, CASE_FIELDS)
    document = _text(raw, "document", required=True)
    if document not in DOCUMENTS:
        raise InvalidField("document", f"must be one of {', '.join(sorted(DOCUMENTS))}")
    status = _text(raw, "status", required=True)
    if status not in CASE_STATUSES:
        raise InvalidField("status", f"must be one of {', '.join(sorted(CASE_STATUSES))}")
    changed = raw.get("changed_at")
    return CaseUpdate(normalise_reference(reference), document, status, None if changed is None else parse_time("changed_at", changed))


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
        deep_links: Callable[[str], list[dict[str, str]]],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._signer = signer
        self._known_offices = known_offices
        self.languages = frozenset(languages)
        self.default_language = default_language
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
        return parse_appointment(raw, self.languages, self.default_language)

    def _now(self) -> dt.datetime:
        return as_utc(self._clock())

    def _city(self, moment: dt.datetime) -> dt.datetime:
        return as_utc(moment).astimezone(self._zone)

    # Appointments

    def create_appointment(self, conn: Connection, client: str, new: NewAppointment) -> CreatedAppointment:
        now = self._now()
        if new.office is not None and new.office not in self._known_offices():
            raise InvalidField("office", f"unknown office id {new.office!r}")
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
                "office": new.office, "subject": new.subject, "language": new.language, "status": "active",
                "token_id": token_id.hex(), "redeemed_at": None, "created_at": now,
            }],
        ).first()
        if inserted is not None:
            return self._with_token(appointment_id, new.external_ref, new.starts_at, token_id, created=True, redeemed=False)
        row = self._appointment(conn, client, external_ref=new.external_ref)
        assert row is not None  # the insert was skipped because it exists
        if row.status != "active":
            raise Conflict(f"external_ref {new.external_ref!r} belongs to a cancelled appointment; use a new external_ref")
        same = (row.starts_at, row.office, row.subject, row.language) == (as_utc(new.starts_at), new.office, new.subject, new.language)
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
        return CreatedAppointment(appointment_id, external_ref, self._city(starts_at), issued.token, issued.expires_at, links, created, redeemed)

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
        result = CancelledAppointment(row.id, row.external_ref or "", 0)
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
        return CancelledAppointment(row.id, row.external_ref or "", notified)

    # Cases

    def followup_due(self, changed_at: dt.datetime) -> dt.datetime:
        """``followup_days`` after the change, at 10:00 city time (in UTC; the wall clock stays 10:00 across DST)."""
        day = self._city(changed_at).date() + dt.timedelta(days=self._followup_days)
        return dt.datetime.combine(day, FOLLOWUP_TIME, tzinfo=self._zone).astimezone(dt.UTC)

    def post_case_status(self, conn: Connection, client: str, case: CaseUpdate) -> CaseResult:
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
                return CaseResult(case.reference, row.document, row.status, self._city(row.changed_at), False, 0, None)
            conn.execute(update(CaseRow).where(CaseRow.reference == case.reference).values(**values))
        return self._notify_case(conn, case, changed_at, now)

    def _notify_case(self, conn: Connection, case: CaseUpdate, changed_at: dt.datetime, now: dt.datetime) -> CaseResult:
        subscriptions = conn.execute(
            select(SubscriptionRow).where(SubscriptionRow.kind == SubscriptionKind.CASE.value, SubscriptionRow.ref == case.reference)
            .with_for_update(read=True)
        ).all()
        changed_key = changed_at.isoformat()
        followup_at = self.followup_due(changed_at) if case.status == "ready_for_pickup" else None
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
        return CaseResult(case.reference, case.document, case.status, self._city(changed_at), True, notified,
                          self._city(followup_at) if followup_at else None)
