"""The SQL ReminderBook on SQLite and PostgreSQL: appointments, links, subscriptions, export and forget."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, text

from bot.core.models import ChatRef, LinkError, SubscriptionKind, UserState
from bot.reminders.book import SqlReminderBook
from bot.reminders.tokens import TokenSigner
from bot.reminders.waste_calendar import load_calendars
from bot.storage.chat_states import SqlUserStates
from bot.storage.tables import AppointmentRow, CaseRow, ReminderRow
from tests.reminders.helpers import POLICY, Clock, at

REPO = Path(__file__).resolve().parents[2]
CHAT = ChatRef("telegram", "4711", "default")
OTHER = ChatRef("telegram", "815", "default")
KEY = b"k" * 32


def book(engine: Engine, clock: Clock, signer: TokenSigner | None = None) -> SqlReminderBook:
    calendar = load_calendars(REPO / "faq" / "waste")
    return SqlReminderBook(engine, POLICY, clock, signer=signer, calendar=lambda: calendar)


def queued(engine: Engine, chat: ChatRef = CHAT) -> list[tuple[str, dt.datetime, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ReminderRow.kind, ReminderRow.due_at, ReminderRow.status)
                            .where(ReminderRow.chat_id == chat.chat_id).order_by(ReminderRow.due_at)).all()
    return [(r.kind, r.due_at, r.status) for r in rows]


def test_an_appointment_added_in_the_chat_queues_its_reminders_and_cancelling_removes_them(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    b = book(engine, clock)
    appt = b.add_appointment(CHAT, "de", at("2026-12-03", "10:30"), "buergerbuero", "Personalausweis")
    assert [q[1] for q in queued(engine)] == [at("2026-12-02", "10:30"), at("2026-12-03", "09:30")]
    assert b.upcoming(CHAT, clock.now) == [appt]
    assert b.upcoming(OTHER, clock.now) == []
    assert not b.cancel(OTHER, appt.id)
    assert b.cancel(CHAT, appt.id)
    assert queued(engine) == [] and b.upcoming(CHAT, clock.now) == []


def _booked(engine: Engine, signer: TokenSigner, starts: dt.datetime, status: str = "active") -> str:
    issued = signer.issue()
    with engine.begin() as conn:
        conn.execute(insert(AppointmentRow).values(
            id="a" * 32, source="termine", external_ref="T-1", starts_at=starts, office="buergerbuero", subject="Reisepass",
            language="de", status=status, token_id=issued.token_id, redeemed_at=None, created_at=starts - dt.timedelta(days=20),
        ))
    return issued.token


def test_a_booking_link_works_once_and_forgeries_are_named(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    signer = TokenSigner([KEY], now=clock)
    b = book(engine, clock, signer)
    token = _booked(engine, signer, at("2026-12-03", "10:30"))
    result = b.redeem(CHAT, "en", token)
    assert result.error is None and result.appointment is not None and result.appointment.source == "termine"
    assert len(queued(engine)) == 2
    assert b.redeem(OTHER, "de", token).error is LinkError.USED
    assert b.redeem(CHAT, "de", token[:-1] + ("A" if token[-1] != "A" else "B")).error in (LinkError.FORGED, LinkError.MALFORMED)
    assert b.redeem(CHAT, "de", "hello").error is LinkError.MALFORMED
    other_signer = TokenSigner([b"x" * 32], now=clock)
    assert b.redeem(CHAT, "de", other_signer.issue().token).error is LinkError.FORGED
    assert b.redeem(CHAT, "de", signer.issue().token).error is LinkError.UNKNOWN
    later = Clock(at("2027-06-01", "12:00"))
    assert SqlReminderBook(engine, POLICY, later, signer=TokenSigner([KEY], now=later)).redeem(CHAT, "de", signer.issue().token).error is LinkError.EXPIRED


def test_a_booking_link_cut_short_or_garbled_is_damaged_not_a_campaign_payload(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    signer = TokenSigner([KEY], now=clock)
    token = _booked(engine, signer, at("2026-12-03", "10:30"))
    for b in (book(engine, clock, signer), book(engine, clock)):  # with link keys and without
        for damaged in (token[:25], token[:-3], token[:10] + "%" + token[10:], token + "="):
            assert b.redeem(CHAT, "de", damaged).error is LinkError.DAMAGED, damaged
        assert b.redeem(CHAT, "de", "flyer2026").error is LinkError.MALFORMED
    assert book(engine, clock, signer).redeem(CHAT, "de", token).appointment is not None  # none of that used it up


def test_a_cancelled_booking_cannot_be_linked(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    signer = TokenSigner([KEY], now=clock)
    token = _booked(engine, signer, at("2026-12-03", "10:30"), status="cancelled")
    assert book(engine, clock, signer).redeem(CHAT, "de", token).error is LinkError.UNKNOWN


def test_case_subscription_needs_a_known_reference_and_tells_the_current_status(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    b = book(engine, clock)
    assert b.subscribe_case(CHAT, "de", "RP-2026-000001") is None
    with engine.begin() as conn:
        conn.execute(insert(CaseRow).values(reference="RP-2026-004711", source="pass", document="reisepass", status="in_progress", changed_at=clock.now))
    sub = b.subscribe_case(CHAT, "de", " rp-2026-004711 ")
    assert sub is not None and sub.kind is SubscriptionKind.CASE and sub.ref == "RP-2026-004711"
    assert b.subscribe_case(CHAT, "de", "RP-2026-004711") == sub  # twice is once
    assert [q[0] for q in queued(engine)] == ["case_status"]
    assert b.subscriptions(CHAT) == [sub]
    assert b.unsubscribe(CHAT, sub.id) and b.subscriptions(CHAT) == []


def test_waste_subscription_queues_the_evening_before(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    b = book(engine, clock)
    assert b.districts()["suedstadt"] == "Südstadt"
    with pytest.raises(KeyError):
        b.subscribe_waste(CHAT, "de", "atlantis")
    sub = b.subscribe_waste(CHAT, "de", "suedstadt")
    assert sub.label == "Südstadt"
    # Südstadt: Restmüll on Wednesday 25 Nov 2026 -> reminder Tuesday 18:00.
    assert queued(engine)[0][:2] == ("waste", at("2026-11-24", "18:00"))


def test_export_shows_everything_and_forget_leaves_no_row_about_the_chat(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    signer = TokenSigner([KEY], now=clock)
    b = book(engine, clock, signer)
    b.add_appointment(CHAT, "de", at("2026-12-03", "10:30"), "buergerbuero", "Personalausweis")
    b.redeem(CHAT, "de", _booked(engine, signer, at("2026-12-04", "09:00")))
    b.subscribe_waste(CHAT, "de", "mitte")
    b.add_appointment(OTHER, "de", at("2026-12-05", "10:30"), None, "")
    states = SqlUserStates(engine)
    states.save(CHAT, UserState(language="en"))
    states.save(ChatRef(CHAT.channel, CHAT.chat_id, "welcome"), UserState(language="de"))  # the same user with another bot
    exported = b.export(CHAT)
    json.dumps(exported)
    assert len(exported["appointments"]) == 2 and len(exported["subscriptions"]) == 1 and len(exported["reminders"]) >= 4
    b.forget(CHAT)
    assert b.export(CHAT) == {"appointments": [], "subscriptions": [], "reminders": []}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert CHAT.chat_id not in [str(v) for v in row], f"{table} still holds the chat"
        # The office's own booking stays (it is the city's record, not the chat's); the other chat is untouched.
        assert conn.execute(select(AppointmentRow.id).where(AppointmentRow.source == "termine")).first() is not None
    assert len(b.export(OTHER)["appointments"]) == 1


def test_the_hourly_top_up_queues_new_collections_once(engine: Engine) -> None:
    clock = Clock(at("2026-11-21", "12:00"))
    b = book(engine, clock)
    b.subscribe_waste(CHAT, "de", "suedstadt")
    before = len(queued(engine))
    assert b.top_up_waste() == 0
    clock.now = at("2026-12-05", "12:00")
    assert b.top_up_waste() > 0
    again = len(queued(engine))
    assert again > before and b.top_up_waste() == 0


def test_deleting_my_data_while_the_hourly_top_up_runs_leaves_nothing_behind(postgres: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The top-up reads the subscriptions, the citizen's /delete arrives, then the top-up queues rows."""
    import bot.reminders.book as module

    engine = postgres

    clock = Clock(at("2026-11-23", "10:00"))
    b = book(engine, clock)
    b.subscribe_waste(CHAT, "de", "suedstadt")
    clock.now = at("2026-11-27", "10:00")  # days later: new collections come into the window
    read, forgotten = threading.Event(), threading.Event()
    real = module.waste_dues

    def paused(*args: object, **kwargs: object) -> list[object]:
        read.set()  # the subscriptions are read; let /delete try now
        forgotten.wait(2)  # it must wait for us (it cannot finish while we hold the rows)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "waste_dues", paused)
    top_up = threading.Thread(target=b.top_up_waste)
    top_up.start()
    assert read.wait(10)
    deleting = threading.Thread(target=lambda: (b.forget(CHAT), forgotten.set()))
    deleting.start()
    top_up.join(15)
    deleting.join(15)
    assert not top_up.is_alive() and not deleting.is_alive()
    assert queued(engine) == [] and b.subscriptions(CHAT) == []


def test_a_replaced_calendar_cancels_the_days_it_no_longer_has(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "waste"
    folder.mkdir()
    ics = (REPO / "faq" / "waste" / "suedstadt.ics").read_text(encoding="utf-8")
    (folder / "suedstadt.ics").write_text(ics, encoding="utf-8")
    clock = Clock(at("2026-11-21", "12:00"))
    b = SqlReminderBook(engine, POLICY, clock, calendar=lambda: load_calendars(folder))
    b.subscribe_waste(CHAT, "de", "suedstadt")
    assert ("waste", at("2026-11-24", "18:00"), "pending") in queued(engine)
    # The waste company moves the Wednesday collection of 25 Nov to Thursday 26 Nov.
    moved = ics.replace("END:VCALENDAR", "BEGIN:VEVENT\r\nUID:rest-suedstadt@musterstadt.example\r\nRECURRENCE-ID;VALUE=DATE:20261125\r\n"
                        "DTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261126\r\nSUMMARY:Restmüll\r\nEND:VEVENT\r\nEND:VCALENDAR")
    (folder / "suedstadt.ics").write_text(moved, encoding="utf-8")
    b.top_up_waste()
    rows = queued(engine)
    assert ("waste", at("2026-11-24", "18:00"), "cancelled") in rows
    assert ("waste", at("2026-11-25", "18:00"), "pending") in rows


def test_without_link_keys_a_start_payload_is_not_taken_for_a_booking(engine: Engine) -> None:
    # A campaign link (/start flyer2026) on a bot without keys must greet, not say "booking unknown".
    assert book(engine, Clock(at("2026-11-21", "12:00"))).redeem(CHAT, "de", "flyer2026").error is LinkError.MALFORMED


def test_each_bot_of_the_city_keeps_its_own_reminders_for_the_same_telegram_user(engine: Engine) -> None:
    """A Telegram user has one chat id with every bot: the citizens' bot and the Welcome Center
    list and end only their own; asking either for "my data" shows and deletes everything."""
    clock = Clock(at("2026-11-21", "12:00"))
    b = book(engine, clock)
    citizens, welcome = ChatRef("telegram", "4711", "buerger"), ChatRef("telegram", "4711", "welcome")
    mine = b.subscribe_waste(citizens, "de", "mitte")
    theirs = b.subscribe_waste(welcome, "en", "mitte")
    assert mine.id != theirs.id
    appointment = b.add_appointment(welcome, "en", at("2026-12-03", "10:30"), None, "")
    assert b.subscriptions(citizens) == [mine] and b.subscriptions(welcome) == [theirs]
    assert b.upcoming(citizens, clock.now) == [] and b.upcoming(welcome, clock.now) == [appointment]
    assert not b.cancel(citizens, appointment.id)
    assert len(b.export(citizens)["subscriptions"]) == 2
    b.forget(citizens)
    assert b.subscriptions(welcome) == [] and b.upcoming(welcome, clock.now) == []
