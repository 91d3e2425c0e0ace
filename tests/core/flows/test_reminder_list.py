"""Listing a chat's reminders and ending them by number or button."""

from __future__ import annotations

import datetime as dt

from tests.core.flows.helpers import BERLIN, CHAT, MakeChat, upcoming


def test_list_and_cancel_by_number_and_button(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    late = chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "")
    early = chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 1, 14, 0, tzinfo=BERLIN), "buergerbuero", "")
    chat.book.subscribe_case(CHAT, "de", "RP-2026-004711")
    chat.book.subscribe_waste(CHAT, "de", "suedstadt")
    [listing] = chat.say("meine Erinnerungen")
    assert listing.text.startswith("Ihre Erinnerungen.")
    assert [c.label for c in listing.choices] == [
        "Termin Di 1.12., 14:00 Uhr – Bürgerbüro", "Termin Do 10.12., 09:00 Uhr", "Vorgang RP-2026-004711", "Müllabfuhr Südstadt"]
    payloads = chat.payloads(listing)
    assert all(len(p.encode()) <= 64 for p in payloads)
    [ended] = chat.say("1")
    assert ended.text == "Beendet: Termin Di 1.12., 14:00 Uhr – Bürgerbüro. Dazu bekommen Sie keine Erinnerungen mehr."
    assert [a.id for a in upcoming(chat)] == [late.id] and early.id != late.id
    [ended_sub] = chat.say(choice=payloads[3])
    assert ended_sub.text.startswith("Beendet: Müllabfuhr Südstadt.")
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]
    # A number typed now answers nothing: the last reply offered no choices (numbers pick only from
    # the reply just before them), so nothing else is ended.
    chat.say("1")
    assert [a.id for a in upcoming(chat)] == [late.id]
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]


def test_a_button_from_an_old_list_shows_the_current_one(make: MakeChat) -> None:
    chat = make()
    assert chat.book is not None
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 10, 9, 0, tzinfo=BERLIN), None, "")
    [listing] = chat.command("erinnerungen")
    old = chat.payloads(listing)[0]
    chat.book.add_appointment(CHAT, "de", dt.datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN), None, "")
    chat.command("erinnerungen")  # a new list: the old button's list is gone
    [outdated] = chat.say(choice=old)
    assert outdated.text.startswith("Diese Liste ist nicht mehr aktuell.")
    assert len(outdated.choices) == 2
    assert len(upcoming(chat)) == 2
    [forged] = chat.say(choice="rem:x:zzzzzz:1")
    assert forged.text.startswith("Diese Liste ist nicht mehr aktuell.")


def test_empty_list_explains_what_is_possible(make: MakeChat) -> None:
    [reply] = make().command("reminders", language_hint="en")
    assert reply.text.startswith("You have no reminders at the moment.")
    assert not reply.choices
