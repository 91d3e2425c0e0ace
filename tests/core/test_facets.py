"""Which follow-ups name only a facet of the last topic, and which name a topic of their own."""

from __future__ import annotations

import pytest

from bot.core.facets import COST, DOCUMENTS, asked_facet, names_no_topic


@pytest.mark.parametrize("said", ["which documents do we need", "welche Unterlagen brauche ich?", "und welche Unterlagen?"])
def test_a_question_word_names_no_topic(said: str) -> None:
    assert asked_facet(said) == DOCUMENTS
    assert names_no_topic(said)


@pytest.mark.parametrize("said", ["which documents do I need for the passport", "welche Unterlagen brauche ich für die Hundesteuer"])
def test_a_named_topic_is_a_question_of_its_own(said: str) -> None:
    assert asked_facet(said) == DOCUMENTS
    assert not names_no_topic(said)


def test_which_fee_asks_the_cost() -> None:
    assert asked_facet("welche Gebühr fällt an") == COST
