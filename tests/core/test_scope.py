"""Questions that are not the city's business: other places, shops, football, weather, actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.knowledge import load_knowledge
from bot.core.scope import PLACE, OutOfScope, Scope, names_any, scope_text
from tests.conftest import MONDAY_10, CollectingChannel

SCOPE = Scope.of(
    own_places=["Musterstadt", "Mitte", "Nordstadt"],
    other_places=["Köln", "München", "Berlin", "Bayern"],
    after_preposition=["Essen"],
    topics={"weather": ["wetter", "wettervorhersage*"], "shops": ["ikea", "baumarkt"], "bowling": ["kegelbahn"]},
    city_matters=["eröffn*", "genehmigung"],
)


@pytest.mark.parametrize(("said", "place"), [
    ("Personalausweis beantragen in München", "München"),
    ("hundesteuer in koeln wie hoch", "Köln"),  # umlaut spelt out
    ("hundesteuer koln", "Köln"),  # umlaut dropped
    ("Strafzettel aus Köln bekommen, wie zahle ich", "Köln"),  # "aus" alone ties nothing to the city
    ("Wohnung in Berlin-Mitte anmelden", "Berlin"),  # Berlin's Mitte, not the city's own
    ("Standesamt in Essen Termine", "Essen"),
    ("Standesamt Essen Termine", "Essen"),  # an office right before the place
])
def test_another_place_is_named(said: str, place: str) -> None:
    assert SCOPE.place_named(said) == place


@pytest.mark.parametrize("said", [
    "Ich bin von Köln hergezogen, muss ich mein Auto ummelden?",  # a move here
    "We moved from Munich, where do I register?",
    "Ich komme aus Bayern und muss mich anmelden",  # where someone comes from, with a matter here
    "Kennzeichen aus Köln behalten?",
    "Ich bin in Berlin geboren, wo bekomme ich die Geburtsurkunde?",
    "Ich wohne in Musterstadt und arbeite in Köln, Anwohnerparkausweis?",  # names the city too
    "Sperrmüll in der Nordstadt",
    "Essen auf Rädern beantragen",  # a place name that is also a word, without a preposition
    "Was kostet ein Personalausweis?",
])
def test_no_other_place_or_one_tied_to_the_city(said: str) -> None:
    assert SCOPE.place_named(said) is None


def test_topics_and_what_makes_them_the_citys_business() -> None:
    assert SCOPE.topic("Wie wird das Wetter morgen?") == "weather"
    assert SCOPE.topic("wettervorhersagen fürs wochenende") == "weather"  # a stem with any ending
    assert SCOPE.topic("Wann hat IKEA offen?") == "shops"
    assert SCOPE.topic("Ich will einen Baumarkt eröffnen") is None  # opening one is a matter for the city
    assert SCOPE.topic("Personalausweis beantragen") is None
    assert SCOPE.judge("Kegelbahn in Musterstadt?") == OutOfScope("bowling")
    assert SCOPE.judge("Kita in München") == OutOfScope(PLACE, "München")


def test_scope_files_add_up_and_bad_ones_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("scope:\n  own_places: [Musterstadt]\n  other_places: [Köln]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "scope:\n  other_places: [Dortmund]\n  topics:\n    weather: [wetter]\n  city_matters: [genehmigung]\n", encoding="utf-8",
    )
    loaded = load_knowledge([tmp_path])
    assert loaded.ok, loaded.problems
    scope = loaded.knowledge.scope
    assert scope.place_named("Kita in Köln") == "Köln"
    assert scope.place_named("Kita in Dortmund") == "Dortmund"
    assert scope.topic("Wetter heute") == "weather"
    (tmp_path / "c.yaml").write_text("scope:\n  topics:\n    Bad Reason: [x]\n  places: [Bonn]\n", encoding="utf-8")
    problems = [p.message for p in load_knowledge([tmp_path]).problems]
    assert any("unknown field" in m for m in problems)
    assert any("no reason name" in m for m in problems)


def test_reply_texts_exist_in_both_languages() -> None:
    for judged in (OutOfScope(PLACE, "Köln"), OutOfScope("weather"), OutOfScope("shops"), OutOfScope("football"), OutOfScope("actions")):
        german, english = scope_text(judged, "de"), scope_text(judged, "en")
        assert german != english
        if judged.place:
            assert "Köln" in german and "Köln" in english
    # A reason staff added without a text of its own gets the general reply.
    assert scope_text(OutOfScope("bowling"), "de") == scope_text(OutOfScope("anything"), "de")


def test_names_any_reads_spellings() -> None:
    assert names_any("Sperrmüll Suedstadt", ["Südstadt"])
    assert not names_any("Sperrmüll Südstadtring", ["Südstadt"])


def test_the_dialogue_answers_out_of_scope_without_noting_it(make_chat: object, tiny_kb: Path) -> None:
    (tiny_kb / "scope.yaml").write_text(
        "scope:\n  own_places: [Musterstadt]\n  other_places: [München]\n  topics:\n    weather: [wetter, weather]\n", encoding="utf-8",
    )
    chat: CollectingChannel = make_chat(clock=MONDAY_10)  # type: ignore[operator]
    [reply] = chat.say("Personalausweis beantragen in München")
    assert reply.entry_id is None and reply.kind == "out_of_scope"
    assert "München" in reply.text and "Antwort zu personalausweis" not in reply.text
    [reply] = chat.say("What is the weather like tomorrow?")
    assert reply.kind == "out_of_scope" and reply.language == "en"
    assert chat.unanswered.records == []  # type: ignore[attr-defined]
    [reply] = chat.say("Personalausweis beantragen in Musterstadt")
    assert reply.entry_id == "personalausweis"


@pytest.mark.parametrize(("said", "back"), [
    ("und hier in Musterstadt?", True),
    ("ok and in Musterstadt?", True),
    ("Und bei uns in der Nordstadt?", True),  # a district of the city is the city too
    ("Hundesteuer in Musterstadt", False),  # names a topic of its own
    ("und hier?", False),  # names no own place
])
def test_a_message_turning_back_to_the_city(said: str, back: bool) -> None:
    assert SCOPE.back_here(said) is back


def test_and_here_answers_the_question_asked_about_another_place(make_chat: object, tiny_kb: Path) -> None:
    (tiny_kb / "scope.yaml").write_text("scope:\n  own_places: [Musterstadt]\n  other_places: [München]\n", encoding="utf-8")
    chat: CollectingChannel = make_chat(clock=MONDAY_10)  # type: ignore[operator]
    [elsewhere] = chat.say("Personalausweis beantragen in München")
    assert elsewhere.kind == "out_of_scope"
    # The other city's question is no topic for a follow-up: its costs are not the city's.
    [costs] = chat.say("Was kostet das?")
    assert costs.entry_id is None
    [here] = chat.say("und hier in Musterstadt?")
    assert here.entry_id == "personalausweis"


def test_and_here_without_a_question_elsewhere_is_an_ordinary_message(make_chat: object, tiny_kb: Path) -> None:
    (tiny_kb / "scope.yaml").write_text("scope:\n  own_places: [Musterstadt]\n  other_places: [München]\n", encoding="utf-8")
    chat: CollectingChannel = make_chat(clock=MONDAY_10)  # type: ignore[operator]
    [reply] = chat.say("und hier in Musterstadt?")
    assert reply.entry_id != "personalausweis"
