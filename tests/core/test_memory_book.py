"""The in-memory reminder book behaves like the port promises (tests and the console rely on it)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.core.memory_book import MemoryReminderBook
from bot.core.models import Appointment, ChatRef, LinkError, SubscriptionKind
from bot.core.ports import ReminderBook

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
ME = ChatRef("telegram", "42")
OTHER = ChatRef("matrix", "!room:example")
BOOKED = Appointment("ext-1", dt.datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN), "buergerbuero", "Reisepass", "terminvergabe")


def test_it_is_a_reminder_book() -> None:
    book: ReminderBook = MemoryReminderBook()
    assert book.districts() == {}


def test_appointments_per_chat_upcoming_only_and_sorted() -> None:
    book = MemoryReminderBook()
    late = book.add_appointment(ME, "de", NOW + dt.timedelta(days=9), None, "")
    early = book.add_appointment(ME, "de", NOW + dt.timedelta(days=2), "buergerbuero", "Ausweis")
    book.add_appointment(ME, "de", NOW - dt.timedelta(days=1), None, "")
    assert book.upcoming(ME, NOW) == [early, late]
    assert book.upcoming(OTHER, NOW) == []
    assert book.cancel(OTHER, early.id) is False
    assert book.cancel(ME, early.id) is True and book.cancel(ME, early.id) is False
    with pytest.raises(ValueError):
        book.add_appointment(ME, "de", dt.datetime(2026, 12, 1, 9, 0), None, "")


def test_tokens_are_used_once_and_errors_are_as_given() -> None:
    book = MemoryReminderBook(tokens={"good": BOOKED}, token_errors={"old": LinkError.EXPIRED})
    assert book.redeem(ME, "de", "good").appointment == BOOKED
    assert book.upcoming(ME, NOW) == [BOOKED]
    assert book.redeem(OTHER, "en", "good").error is LinkError.USED
    assert book.redeem(ME, "de", "old").error is LinkError.EXPIRED
    assert book.redeem(ME, "de", "whatever").error is LinkError.MALFORMED


def test_subscriptions_are_idempotent_and_cases_must_exist() -> None:
    book = MemoryReminderBook(cases={"RP-2026-004711"}, districts={"suedstadt": "Südstadt"})
    assert book.subscribe_case(ME, "de", "XY-1") is None
    case = book.subscribe_case(ME, "de", "rp-2026-004711")
    assert case is not None and (case.kind, case.ref, case.label) == (SubscriptionKind.CASE, "RP-2026-004711", "RP-2026-004711")
    assert book.subscribe_case(ME, "de", "RP-2026-004711") == case
    waste = book.subscribe_waste(ME, "de", "suedstadt")
    assert waste.label == "Südstadt"
    with pytest.raises(ValueError):
        book.subscribe_waste(ME, "de", "atlantis")
    assert book.subscriptions(ME) == [case, waste]
    assert book.unsubscribe(ME, case.id) is True and book.subscriptions(ME) == [waste]


def test_export_and_forget() -> None:
    book = MemoryReminderBook(tokens={"good": BOOKED}, districts={"suedstadt": "Südstadt"})
    book.redeem(ME, "en", "good")
    book.subscribe_waste(ME, "en", "suedstadt")
    book.subscribe_waste(OTHER, "de", "suedstadt")
    exported = book.export(ME)
    assert exported["appointments"] == [{"id": "ext-1", "starts_at": "2026-12-03T10:30:00+01:00", "office": "buergerbuero",
                                         "subject": "Reisepass", "source": "terminvergabe", "language": "en"}]
    assert [s["ref"] for s in exported["subscriptions"]] == ["suedstadt"]
    book.forget(ME)
    assert book.export(ME) == {"appointments": [], "subscriptions": [], "reminders": []}
    assert book.subscriptions(OTHER)  # other chats keep theirs
