from __future__ import annotations

import Stemmer

from bot.core.matching.features import Analyser
from bot.core.matching.german import clauses, participle_stem, rejoined_verbs

stem = Stemmer.Stemmer("german").stemWord
KNOWN = frozenset(stem(w) for w in ["anmelden", "anmeldung", "abholung", "abholen", "melden", "umzug"])


def test_a_particle_at_the_end_of_its_clause_rejoins_its_verb() -> None:
    assert rejoined_verbs(["wo", "melde", "ich", "mich", "an"], stem, KNOWN) == ["anmeld"]
    assert rejoined_verbs(["wann", "holt", "die", "muellabfuhr", "den", "muell", "ab"], stem, KNOWN) == ["abhol"]


def test_nothing_is_rejoined_without_a_final_particle_or_a_known_stem() -> None:
    assert rejoined_verbs(["ich", "melde", "an", "der", "schule"], stem, KNOWN) == []  # "an" is a preposition here
    assert rejoined_verbs(["ich", "rufe", "an"], stem, KNOWN) == []  # "anrufen" is not in this knowledge base
    assert rejoined_verbs(["an"], stem, KNOWN) == []


def test_past_participles_find_their_verb_stem() -> None:
    assert participle_stem("abgeholt", stem, KNOWN) == "abhol"
    assert participle_stem("angemeldet", stem, KNOWN) == "anmeld"
    assert participle_stem("gemeldet", stem, KNOWN) == "meld"
    assert participle_stem("gewerbe", stem, KNOWN) is None  # no participle ending
    assert participle_stem("gestohlen", stem, KNOWN) is None  # no known stem


def test_clauses_split_where_a_particle_can_end_one() -> None:
    assert clauses("Ich ziehe um, wo melde ich mich an?") == ["Ich ziehe um", " wo melde ich mich an", ""]


def test_the_analyser_adds_rejoined_stems_for_german_only() -> None:
    analyser = Analyser({}, ["anmelden", "anmeldung", "melde", "ich", "mich", "an", "wo"])
    assert "w|anmeld" in analyser.features("Wo melde ich mich an?", "de")
    assert "w|anmeld" not in analyser.features("Wo melde ich mich an?", "en")
    # a particle joins only words of its own clause
    assert analyser.features("Ich melde, wo ich an", "de")["w|anmeld"] == 0
