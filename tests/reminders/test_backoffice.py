"""The back-office service on SQLite and PostgreSQL: appointments with deep-link tokens, cancellation, case statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select

from bot.core.models import NoticeKind
from bot.reminders.api_models import CaseStatusResult, CaseUpdate, Conflict, CreatedAppointment, InvalidField, NotFound
from bot.reminders.backoffice import Backoffice, parse_case_update
from bot.reminders.tokens import ExpiredToken, TokenSigner
from bot.storage.database import as_utc
from bot.storage.tables import AppointmentRow, CaseRow, ReminderRow
from tests.reminders.conftest import LINK_KEY, NOW, Clock, link_chat, reminders, subscribe

BERLIN = ZoneInfo("Europe/Berlin")
STARTS = "2026-10-23T09:30:00+02:00"


def appointment(**fields: Any) -> dict[str, Any]:
    return {"external_ref": "T-1", "starts_at": STARTS, "office": "buergerbuero", "subject": "Personalausweis beantragen",
            "language": "de", **fields}


def create(service: Backoffice, db: Engine, client: str = "termine", **fields: Any) -> CreatedAppointment:
    with db.begin() as conn:
        return service.create_appointment(conn, client, service.parse_appointment(appointment(**fields)))


def cancel(service: Backoffice, db: Engine, client: str = "termine", **by: str) -> Any:
    with db.begin() as conn:
        return service.cancel_appointment(conn, client, **by)


def case_status(service: Backoffice, db: Engine, reference: str, status: str, changed_at: dt.datetime | None, client: str = "ausweis",
                document: str = "reisepass") -> CaseStatusResult:
    with db.begin() as conn:
        return service.post_case_status(conn, client, CaseUpdate(reference=reference, document=document, status=status, changed_at=changed_at))


def test_create_stores_the_appointment_and_answers_a_token_for_it(service: Backoffice, engine: Engine, clock: Clock) -> None:
    created = create(service, engine)
    assert created.created and not created.redeemed
    with engine.connect() as conn:
        row = conn.execute(select(AppointmentRow)).one()
    assert (row.id, row.source, row.external_ref, row.status, row.office, row.language) == (created.id, "termine", "T-1", "active", "buergerbuero", "de")
    assert as_utc(row.starts_at) == dt.datetime(2026, 10, 23, 7, 30, tzinfo=dt.UTC)
    verified = TokenSigner([bytes.fromhex(LINK_KEY)], now=clock).verify(created.token)
    assert verified.token_id == row.token_id
    # The appointment is three days ahead: the link lives until a day after it, not the configured 90 days.
    assert created.expires_at == dt.datetime(2026, 10, 24, 7, 30, tzinfo=dt.UTC)
    assert created.starts_at == dt.datetime(2026, 10, 23, 9, 30, tzinfo=BERLIN)
    assert tuple(link.model_dump() for link in created.links) == (
        {"channel": "telegram", "profile": "buerger", "url": f"https://t.me/MusterstadtBot?start={created.token}"},
        {"channel": "telegram", "profile": "welcome", "url": f"https://t.me/WelcomeMusterBot?start={created.token}"},
        {"channel": "matrix", "profile": "welcome", "user_id": "@welcome:musterstadt.example", "command": f"!link {created.token}"},
    )


def test_link_lifetime_is_the_configured_one_for_far_appointments(service: Backoffice, engine: Engine) -> None:
    created = create(service, engine, starts_at="2027-06-01T10:00:00+02:00")
    assert created.expires_at == NOW + dt.timedelta(days=90)


def test_optional_fields_default(service: Backoffice, engine: Engine) -> None:
    with engine.begin() as conn:
        created = service.create_appointment(conn, "termine", service.parse_appointment({"external_ref": "T-2", "starts_at": STARTS}))
    with engine.connect() as conn:
        row = conn.execute(select(AppointmentRow).where(AppointmentRow.id == created.id)).one()
    assert (row.office, row.subject, row.language) == (None, "", "de")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"external_ref": ""}, "external_ref"),
        ({"external_ref": "T 1"}, "external_ref"),
        ({"external_ref": "a/b"}, "external_ref"),
        ({"external_ref": "x" * 129}, "external_ref"),
        ({"external_ref": 17}, "external_ref"),
        ({"starts_at": None}, "starts_at"),
        ({"starts_at": "morgen"}, "starts_at"),
        ({"starts_at": "2026-10-23T09:30:00"}, "starts_at"),  # no offset
        ({"starts_at": "2026-10-23"}, "starts_at"),
        ({"starts_at": 1792733400}, "starts_at"),
        ({"starts_at": "2026-10-20T09:59:00+02:00"}, "starts_at"),  # a minute ago
        ({"starts_at": "2029-01-01T10:00:00+01:00"}, "starts_at"),  # a typo in the year
        ({"office": "rathaus-keller"}, "office"),
        ({"office": ["buergerbuero"]}, "office"),
        ({"subject": "x" * 201}, "subject"),
        ({"subject": "zwei\nZeilen"}, "subject"),
        ({"language": "fr"}, "language"),
        ({"start_at": STARTS}, "start_at"),  # a typo in a field name is not silently ignored
    ],
)
def test_invalid_appointments_name_the_field(service: Backoffice, engine: Engine, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        create(service, engine, **fields)
    assert info.value.field == field and info.value.reason
    with engine.connect() as conn:
        assert conn.execute(select(AppointmentRow)).first() is None


def test_same_appointment_again_is_a_retry_with_a_fresh_token_for_the_same_id(service: Backoffice, engine: Engine, clock: Clock) -> None:
    first = create(service, engine)
    again = create(service, engine, starts_at="2026-10-23T07:30:00Z")  # the same moment, written differently
    assert (again.id, again.created) == (first.id, False)
    signer = TokenSigner([bytes.fromhex(LINK_KEY)], now=clock)
    assert signer.verify(again.token).token_id == signer.verify(first.token).token_id
    assert create(service, engine, client="ausweis").id != first.id  # external_ref is unique per client only
    with pytest.raises(Conflict):
        create(service, engine, starts_at="2026-10-23T10:30:00+02:00")
    with pytest.raises(Conflict):
        create(service, engine, subject="Reisepass beantragen")
    cancel(service, engine, external_ref="T-1")
    with pytest.raises(Conflict, match="cancelled"):
        create(service, engine)


def test_a_redeemed_appointment_says_so(service: Backoffice, engine: Engine) -> None:
    first = create(service, engine)
    with engine.begin() as conn:
        conn.execute(AppointmentRow.__table__.update().where(AppointmentRow.id == first.id).values(redeemed_at=NOW))
    assert create(service, engine).redeemed


def pending_reminder(db: Engine, appointment_id: str, chat_id: str, lead: str, status: str = "pending") -> None:
    with db.begin() as conn:
        conn.execute(insert(ReminderRow).values(
            dedupe_key=f"appt:{appointment_id}:telegram:{chat_id}:{lead}", subject_id=appointment_id, channel="telegram", profile="buerger",
            chat_id=chat_id, language="de", kind="appointment", params="{}", due_at=NOW + dt.timedelta(days=2), status=status, attempts=0,
        ))


def test_cancel_drops_pending_reminders_and_tells_linked_chats(service: Backoffice, engine: Engine) -> None:
    created = create(service, engine)
    other = create(service, engine, external_ref="T-2")
    link_chat(engine, created.id, "100")
    link_chat(engine, created.id, "200", language="en")
    link_chat(engine, other.id, "100")
    pending_reminder(engine, created.id, "100", "1d")
    pending_reminder(engine, created.id, "100", "1h", status="sent")
    pending_reminder(engine, other.id, "100", "1d")

    result = cancel(service, engine, external_ref="T-1")
    assert (result.id, result.notified) == (created.id, 2)
    by_kind = {(r["kind"], r["status"], r["chat_id"]) for r in reminders(engine, subject_id=created.id)}
    assert by_kind == {("appointment", "cancelled", "100"), ("appointment", "sent", "100"),
                       ("appointment_cancelled", "pending", "100"), ("appointment_cancelled", "pending", "200")}
    notices = reminders(engine, kind=NoticeKind.APPOINTMENT_CANCELLED.value)
    assert [(n["chat_id"], n["language"], n["dedupe_key"]) for n in notices] == [
        ("100", "de", f"appt-cancel:{created.id}:telegram:100"), ("200", "en", f"appt-cancel:{created.id}:telegram:200")]
    assert notices[0]["params"] == {"starts_at": "2026-10-23T09:30:00+02:00", "office": "buergerbuero", "subject": "Personalausweis beantragen"}
    assert as_utc(notices[0]["due_at"]) == NOW and as_utc(notices[0]["expires_at"]) == dt.datetime(2026, 10, 23, 7, 30, tzinfo=dt.UTC)
    assert [r["status"] for r in reminders(engine, subject_id=other.id)] == ["pending"]  # the other appointment is untouched

    again = cancel(service, engine, external_ref="T-1")
    assert (again.id, again.notified) == (created.id, 0)
    assert [n["status"] for n in reminders(engine, kind=NoticeKind.APPOINTMENT_CANCELLED.value)] == ["pending", "pending"]


def test_cancel_by_id_and_only_the_clients_own(service: Backoffice, engine: Engine) -> None:
    created = create(service, engine)
    with pytest.raises(NotFound):
        cancel(service, engine, client="ausweis", external_ref="T-1")
    with pytest.raises(NotFound):
        cancel(service, engine, external_ref="T-404")
    assert cancel(service, engine, appointment_id=created.id).id == created.id
    with engine.connect() as conn:
        assert conn.execute(select(AppointmentRow.status)).scalar_one() == "cancelled"


def test_cancelling_a_past_appointment_tells_nobody(service: Backoffice, engine: Engine, clock: Clock) -> None:
    created = create(service, engine)
    link_chat(engine, created.id, "100")
    clock.now = NOW + dt.timedelta(days=4)
    assert cancel(service, engine, external_ref="T-1").notified == 0
    assert reminders(engine) == []


def test_case_status_notifies_subscribers_and_schedules_the_followup(service: Backoffice, engine: Engine, clock: Clock) -> None:
    assert case_status(service, engine, "RP-1", "received", NOW - dt.timedelta(days=10)).notified == 0  # nobody follows it yet
    subscribe(engine, "s1", "RP-1", "!a:x")
    subscribe(engine, "s2", "RP-1", "!b:x", language="en")
    subscribe(engine, "s3", "RP-2", "!a:x")
    subscribe(engine, "s4", "RP-1", "!c:x", kind="waste")  # a district that happens to have the same id

    changed = dt.datetime(2026, 10, 20, 9, 15, tzinfo=BERLIN)
    result = case_status(service, engine, "RP-1", "ready_for_pickup", changed)
    assert (result.applied, result.notified) == (True, 2)
    statuses = reminders(engine, kind=NoticeKind.CASE_STATUS.value)
    assert [(r["subject_id"], r["language"], r["chat_id"]) for r in statuses] == [("s1", "de", "!a:x"), ("s2", "en", "!b:x")]
    assert statuses[0]["params"] == {"reference": "RP-1", "document": "reisepass", "status": "ready_for_pickup"}
    assert statuses[0]["dedupe_key"] == "case:s1:ready_for_pickup:2026-10-20T07:15:00+00:00"
    followups = reminders(engine, kind=NoticeKind.CASE_FOLLOWUP.value)
    assert [(r["subject_id"], r["status"], r["expires_at"]) for r in followups] == [("s1", "pending", None), ("s2", "pending", None)]
    assert result.followup_at == dt.datetime(2026, 10, 27, 10, 0, tzinfo=BERLIN)

    clock.now = NOW + dt.timedelta(days=2)
    collected = case_status(service, engine, "RP-1", "collected", clock.now)
    assert (collected.applied, collected.notified, collected.followup_at) == (True, 2, None)
    assert [r["status"] for r in reminders(engine, kind=NoticeKind.CASE_FOLLOWUP.value)] == ["cancelled", "cancelled"]
    with engine.connect() as conn:
        assert conn.execute(select(CaseRow.status)).scalar_one() == "collected"


def test_followup_keeps_ten_oclock_across_the_end_of_summer_time(service: Backoffice, engine: Engine, clock: Clock) -> None:
    subscribe(engine, "s1", "RP-1", "!a:x")
    changed = dt.datetime(2026, 10, 21, 16, 0, tzinfo=BERLIN)  # CEST (+02:00); summer time ends on Sunday, 25 October
    clock.now = changed + dt.timedelta(minutes=1)
    case_status(service, engine, "RP-1", "ready_for_pickup", changed)
    [followup] = reminders(engine, kind=NoticeKind.CASE_FOLLOWUP.value)
    due = as_utc(followup["due_at"])
    assert due == dt.datetime(2026, 10, 28, 9, 0, tzinfo=dt.UTC)  # 10:00 CET (+01:00), not 11:00
    assert due.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M %Z") == "2026-10-28 10:00 CET"


def test_followup_keeps_ten_oclock_across_the_start_of_summer_time(service: Backoffice) -> None:
    due = service.followup_due(dt.datetime(2026, 3, 25, 23, 30, tzinfo=dt.UTC))  # already 26 March in Berlin
    assert due == dt.datetime(2026, 4, 2, 8, 0, tzinfo=dt.UTC)  # 10:00 CEST


def test_a_repeated_or_late_report_changes_nothing(service: Backoffice, engine: Engine) -> None:
    subscribe(engine, "s1", "RP-1", "!a:x")
    changed = NOW - dt.timedelta(hours=1)
    case_status(service, engine, "RP-1", "ready_for_pickup", changed)
    before = reminders(engine)
    again = case_status(service, engine, "RP-1", "ready_for_pickup", changed)
    later_same = case_status(service, engine, "RP-1", "ready_for_pickup", NOW)
    late = case_status(service, engine, "RP-1", "in_progress", changed - dt.timedelta(days=1))
    assert [(r.applied, r.notified, r.status) for r in (again, later_same, late)] == [(False, 0, "ready_for_pickup")] * 3
    assert reminders(engine) == before
    assert [r["status"] for r in before if r["kind"] == "case_followup"] == ["pending"]


def test_a_case_belongs_to_the_client_that_reported_it(service: Backoffice, engine: Engine) -> None:
    case_status(service, engine, "RP-1", "received", NOW)
    with pytest.raises(Conflict):
        case_status(service, engine, "RP-1", "in_progress", NOW, client="termine")


def test_case_time_defaults_to_now_and_must_not_be_in_the_future(service: Backoffice, engine: Engine) -> None:
    assert case_status(service, engine, "RP-1", "received", None).changed_at == NOW
    with pytest.raises(InvalidField) as info:
        case_status(service, engine, "RP-2", "received", NOW + dt.timedelta(hours=1))
    assert info.value.field == "changed_at"
    with pytest.raises(InvalidField, match="two years ago"):
        case_status(service, engine, "RP-2", "received", dt.datetime(311, 11, 19, 3, 11, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("reference", "raw", "field"),
    [
        ("RP 1", {"document": "reisepass", "status": "received"}, "reference"),
        ("RP-1", {"status": "received"}, "document"),
        ("RP-1", {"document": "pass", "status": "received"}, "document"),
        ("RP-1", {"document": "reisepass", "status": "done"}, "status"),
        ("RP-1", {"document": "reisepass", "status": "received", "changed_at": "gestern"}, "changed_at"),
        ("RP-1", {"document": "reisepass", "status": "received", "note": "x"}, "note"),
    ],
)
def test_invalid_case_updates_name_the_field(reference: str, raw: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse_case_update(reference, raw)
    assert info.value.field == field


def test_tokens_expire_a_day_after_the_appointment(service: Backoffice, engine: Engine, clock: Clock) -> None:
    created = create(service, engine)
    signer = TokenSigner([bytes.fromhex(LINK_KEY)], now=clock)
    clock.now = dt.datetime(2026, 10, 24, 7, 29, tzinfo=dt.UTC)
    signer.verify(created.token)
    clock.now = dt.datetime(2026, 10, 24, 7, 30, tzinfo=dt.UTC)
    with pytest.raises(ExpiredToken):
        signer.verify(created.token)


def test_collected_cancels_the_followup_even_at_the_same_reported_time(service: Backoffice, engine: Engine) -> None:
    """Systems that report by day or minute send "ready" and "collected" with one timestamp."""
    subscribe(engine, "s1", "RP-1", "!a:x")
    day = NOW - dt.timedelta(hours=2)
    with engine.begin() as conn:
        service.post_case_status(conn, "ausweis", CaseUpdate(reference="RP-1", document="reisepass", status="ready_for_pickup", changed_at=day))
    with engine.begin() as conn:
        assert service.post_case_status(conn, "ausweis", CaseUpdate(reference="RP-1", document="reisepass", status="collected", changed_at=day)).applied
    assert [r["status"] for r in reminders(engine, kind=NoticeKind.CASE_FOLLOWUP.value)] == ["cancelled"]
