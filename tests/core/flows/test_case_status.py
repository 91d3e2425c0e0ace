"""Following a case by its reference."""

from __future__ import annotations

import pytest

from bot.core.flows.case_status import find_reference
from tests.core.flows.helpers import CHAT, MakeChat


@pytest.mark.parametrize("said", ["Status RP-2026-004711", "Wo ist mein Reisepass? Vorgangsnummer RP-2026-004711", "Ist mein Ausweis fertig? rp-2026-004711"])
def test_follow_a_case_from_a_message(make: MakeChat, said: str) -> None:
    chat = make()
    [ok] = chat.say(said)
    assert ok.text.startswith("Gut, ich melde mich hier, sobald sich bei Vorgang RP-2026-004711 etwas ändert")
    assert chat.book is not None
    assert [s.ref for s in chat.book.subscriptions(CHAT)] == ["RP-2026-004711"]


@pytest.mark.parametrize("said", ["Wo ist das Bürgerbüro? Ich wohne in 12345", "Is my bulky waste collected in 12345 Musterstadt ready?"])
def test_a_postcode_is_no_case_number(make: MakeChat, said: str) -> None:
    chat = make()
    replies = chat.say(said)
    assert not any("Vorgang" in r.text or "case number" in r.text for r in replies)
    assert chat.book is not None and chat.book.subscriptions(CHAT) == []


def test_unknown_case_says_where_the_number_is_and_takes_a_correction(make: MakeChat) -> None:
    chat = make()
    [unknown] = chat.command("status", "RP-2026-004712")
    assert "„RP-2026-004712“ finde ich nicht" in unknown.text and "Quittung" in unknown.text
    [ok] = chat.say("RP-2026-004711")
    assert ok.text.startswith("Gut, ich melde mich")


def test_status_without_number_asks_for_it(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.command("status")
    assert ask.text.startswith("Wie lautet Ihre Vorgangsnummer?")
    [ok] = chat.say("Die Nummer ist RP-2026-004711.")
    assert ok.text.startswith("Gut, ich melde mich")


@pytest.mark.parametrize(
    ("said", "lenient", "expected"),
    [
        ("Status RP-2026-004711.", False, "RP-2026-004711"),
        ("Aktenzeichen: 2026/12345", False, "2026/12345"),
        ("am 03.12.2026 um 10:30", False, None),
        ("Telefon +49 1234", False, None),
        ("AB-12", False, None),
        ("AB-12", True, "AB-12"),
    ],
)
def test_find_reference(said: str, lenient: bool, expected: str | None) -> None:
    assert find_reference(said, lenient) == expected
