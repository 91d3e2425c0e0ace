"""Cross-lingual matching: a multilingual encoder answers the questions the words cannot read.

The test double maps words of several languages and scripts to a handful of concepts, as a
multilingual encoder places translations near each other, without loading a model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from bot.core.matching.matcher import Example, Matcher
from bot.core.matching.semantic import CROSS_LINGUAL_ANSWER, CROSS_LINGUAL_SURE, cosine_to_raw

CONCEPTS = {
    "passport": {"reisepass", "pass", "passport", "паспорт", "паспорта", "pasaport", "pasaportumu", "جواز"},
    "waste": {"müll", "muell", "abfall", "bin", "rubbish", "мусор", "çöp", "النفايات"},
    "football": {"fußball", "football", "футбол", "futbol"},
}


class MultilingualConcepts:
    languages = frozenset({"de", "en", "ru", "tr", "ar"})

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.fail = False

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail:
            raise RuntimeError("model crashed")
        self.texts.extend(texts)
        rows = np.zeros((len(texts), len(CONCEPTS) + 1), dtype=np.float32)
        for r, text in enumerate(texts):
            words = text.lower().replace("?", " ").replace("؟", " ").split()
            for c, members in enumerate(CONCEPTS.values()):
                rows[r, c] = sum(w in members for w in words)
            rows[r, -1] = 0.3  # what every sentence shares
            rows[r] /= np.linalg.norm(rows[r])
        return rows


EXAMPLES = [
    Example("reisepass", "de", "Reisepass beantragen"),
    Example("reisepass", "de", "Wo bekomme ich einen neuen Reisepass?"),
    Example("reisepass", "en", "How do I apply for a passport?"),
    Example("muell", "de", "Wann wird der Müll abgeholt?"),
    Example("muell", "de", "Abfuhrtermine für Abfall"),
    Example("muell", "en", "When is my rubbish bin collected?"),
]


def build(encoder: MultilingualConcepts | None) -> Matcher:
    return Matcher.build(EXAMPLES, cross_lingual=encoder)


def test_a_question_in_another_script_reaches_its_entry() -> None:
    question = "Где получить паспорт?"
    assert Matcher.build(EXAMPLES).match(question).best is None  # the words read nothing of it
    best = build(MultilingualConcepts()).match(question).best
    assert best is not None
    assert best.entry_id == "reisepass"
    assert best.score >= 0.30


def test_a_question_in_a_language_the_knowledge_lacks_goes_to_the_encoder() -> None:
    encoder = MultilingualConcepts()
    best = build(encoder).match("Pasaportumu nerede yenileyebilirim?", "tr").best
    assert best is not None
    assert best.entry_id == "reisepass"
    assert "Pasaportumu nerede yenileyebilirim?" in encoder.texts


def test_an_off_topic_question_in_another_language_stays_below_the_threshold() -> None:
    best = build(MultilingualConcepts()).match("Когда играет футбол?").best
    assert best is None or best.score < 0.30


def test_a_question_the_words_read_does_not_wait_for_the_encoder() -> None:
    encoder = MultilingualConcepts()
    matcher = build(encoder)
    encoder.texts.clear()
    best = matcher.match("Reisepass beantragen", "de").best
    assert best is not None and best.entry_id == "reisepass"
    assert encoder.texts == []


def test_a_german_question_without_a_lead_stays_with_the_words() -> None:
    encoder = MultilingualConcepts()
    matcher = build(encoder)
    encoder.texts.clear()
    matcher.match("Ich suche einen Fußball Verein in der Nähe", "de")
    assert encoder.texts == []


def test_a_failing_encoder_costs_the_cross_lingual_answer_not_the_words() -> None:
    encoder = MultilingualConcepts()
    matcher = build(encoder)
    encoder.fail = True
    assert matcher.match("Где получить паспорт?").best is None
    best = matcher.match("Pass verlängern Reisepass", "tr").best
    assert best is not None and best.entry_id == "reisepass"


def test_only_examples_in_the_encoders_languages_are_encoded() -> None:
    encoder = MultilingualConcepts()
    Matcher.build([*EXAMPLES, Example("muell", "fr", "Quand passe la poubelle ?")], cross_lingual=encoder)
    assert "Quand passe la poubelle ?" not in encoder.texts
    assert "Reisepass beantragen" in encoder.texts


@pytest.mark.parametrize(("cosine", "score"), [(CROSS_LINGUAL_ANSWER, 0.30), (CROSS_LINGUAL_SURE, 0.80)])
def test_the_cosine_lands_on_the_word_matchers_scale(cosine: float, score: float) -> None:
    raw = float(cosine_to_raw(np.array([cosine]))[0])
    assert 1 - math.exp(-raw) == pytest.approx(score)
