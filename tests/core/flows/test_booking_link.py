"""Linking a booking by the token of its confirmation link."""

from __future__ import annotations

import pytest

from bot.core.memory_book import MemoryReminderBook
from bot.core.models import LinkError
from tests.core.flows.helpers import LINKED, TOKEN, MakeChat, upcoming


def test_start_with_a_token_links_the_booking(make: MakeChat) -> None:
    chat = make()
    [linked] = chat.command("start", TOKEN)
    assert linked.text.startswith("Verbunden: Ich erinnere Sie an diesen Termin.\n\n**Donnerstag, 3. Dezember 2026, 10:30 Uhr**\nBürgerbüro, Marktplatz 1")
    assert "Anliegen: Reisepass" in linked.text and "einen Tag vorher und eine Stunde vorher" in linked.text
    assert upcoming(chat) == [LINKED]
    [used] = chat.command("link", TOKEN)
    assert "wurde schon verwendet" in used.text


def test_start_with_another_payload_greets(make: MakeChat) -> None:
    chat = make()
    [greeting] = chat.command("start", "campaign-flyer")
    assert greeting.entry_id is None and greeting.text.startswith("Antwort zu begruessung.")
    [plain] = chat.command("start")
    assert plain.text.startswith("Antwort zu begruessung.")


@pytest.mark.parametrize(("lang", "says"), [("de", "Dieser Link ist nicht (mehr) gültig"), ("en", "This link is not valid (any more)")])
def test_start_with_a_damaged_link_says_the_link_is_not_valid(make: MakeChat, lang: str, says: str) -> None:
    chat = make(book=MemoryReminderBook(tokens={TOKEN: LINKED}, token_errors={TOKEN[:20]: LinkError.DAMAGED}))
    chat.say("English please" if lang == "en" else "bitte auf Deutsch")
    [damaged] = chat.command("start", TOKEN[:20])
    assert damaged.text.startswith(says) and damaged.language == lang
    [plain] = chat.command("start")
    assert not plain.text.startswith(says)
    assert upcoming(chat) == []


def test_link_without_a_code_and_as_text(make: MakeChat) -> None:
    chat = make()
    [ask] = chat.command("link")
    assert "Terminbestätigung" in ask.text
    [bad] = chat.command("link", "nonsense")
    assert "Mit diesem Code kann ich nichts anfangen" in bad.text
    [linked] = chat.say(f"link {TOKEN}")  # typed, e.g. in the console or after "!bot"
    assert linked.text.startswith("Verbunden")
    [question] = chat.say("Link Sperrmüll")  # a question about a link, not a code
    assert question.entry_id == "sperrmuell"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_each_link_error_has_its_own_text(make: MakeChat, lang: str) -> None:
    errors = {f"tok-{e.value}-0123456789": e for e in LinkError if e is not LinkError.MALFORMED}
    chat = make(book=MemoryReminderBook(token_errors=errors))
    chat.say("English please" if lang == "en" else "bitte auf Deutsch")
    texts = [chat.command("link", token)[0] for token in [*errors, "x"]]
    assert all(t.language == lang for t in texts)
    assert len({t.text for t in texts}) == len(LinkError)
    assert upcoming(chat) == []
