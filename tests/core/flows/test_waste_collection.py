"""Waste collection reminders for a district."""

from __future__ import annotations

import pytest

from bot.core.flows.waste_collection import match_districts
from bot.core.memory_book import MemoryReminderBook
from tests.core.flows.helpers import CHAT, DISTRICTS, MakeChat


@pytest.mark.parametrize("said", ["Müllabfuhr erinnern Südstadt", "Erinnere mich an die Müllabfuhr in der Suedstat", "erinnerung muell suedstadt"])
def test_waste_reminder_with_a_district(make: MakeChat, said: str) -> None:
    chat = make()
    [ok] = chat.say(said)
    assert ok.text == "Gut, ich erinnere Sie jeweils am Vorabend an die Müllabfuhr in Südstadt."
    assert chat.book is not None
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["suedstadt"]


def test_waste_reminder_offers_the_districts(make: MakeChat) -> None:
    chat = make()
    [offer] = chat.say("waste collection reminder")
    assert offer.text == "For which district shall I remind you of the waste collection?"
    assert [c.label for c in offer.choices] == ["Altstadt Ost", "Nordstadt", "Südstadt"]
    assert all(len(p.encode()) <= 64 for p in chat.payloads(offer))
    [ok] = chat.say("2")
    assert ok.text == "Good, I will remind you the evening before each waste collection in Nordstadt."


def test_waste_district_typed_after_the_offer(make: MakeChat) -> None:
    chat = make()
    chat.command("muell")
    [ok] = chat.say("Altstadt Ost")
    assert ok.text.endswith("in Altstadt Ost.")


def test_waste_without_calendars(make: MakeChat) -> None:
    [reply] = make(book=MemoryReminderBook()).command("muell", "Südstadt")
    assert "keine Abfuhrkalender" in reply.text


def test_match_districts() -> None:
    districts = {**DISTRICTS, "altstadt-west": "Altstadt West"}
    assert match_districts("Südstadt bitte", districts) == ["suedstadt"]
    assert match_districts("Nordstat", districts) == ["nordstadt"]
    assert match_districts("altstadt", districts) == []  # neither Altstadt is named
    assert match_districts("Wetter morgen", districts) == []
