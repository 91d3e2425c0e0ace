"""The semantic second opinion, with a test double for the sentence encoder.

The double maps words to a handful of concepts, so "puppy" and "dog" share a vector though no
word of theirs is shared: what a real encoder does for paraphrases, without loading a model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from bot.core.matching.matcher import Example, Matcher, TrainingParams

CONCEPTS = {
    "pet": {"dog", "dogs", "puppy", "pup", "furry", "pooch", "hound", "pet", "pets"},
    "bin": {"bin", "bins", "rubbish", "garbage", "trash", "waste", "collected", "collection"},
    "passport": {"passport", "travel", "abroad", "document"},
    "money": {"tax", "pay", "owe", "fee", "fees", "cost"},
}


class ConceptEncoder:
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        rows = np.zeros((len(texts), len(CONCEPTS) + 1), dtype=np.float32)
        for r, text in enumerate(texts):
            words = text.lower().replace("?", " ").replace(",", " ").split()
            for c, members in enumerate(CONCEPTS.values()):
                rows[r, c] = sum(w in members for w in words)
            rows[r, -1] = 0.3  # what every sentence shares
            rows[r] /= np.linalg.norm(rows[r])
        return rows


EXAMPLES = [
    Example("hundesteuer", "en", "do I have to pay tax for my dog"),
    Example("hundesteuer", "en", "register my dog for the dog tax"),
    Example("hundesteuer", "en", "how much is the dog tax"),
    Example("hundesteuer", "de", "Hundesteuer anmelden"),
    Example("hundesteuer", "de", "Muss ich für meinen Hund Steuern zahlen"),
    Example("muellabfuhr", "en", "when is the bin collected"),
    Example("muellabfuhr", "en", "waste collection dates for my street"),
    Example("muellabfuhr", "en", "which day do they empty the rubbish bins"),
    Example("muellabfuhr", "de", "Wann wird der Müll abgeholt"),
    Example("reisepass", "en", "apply for a passport"),
    Example("reisepass", "en", "my passport expired"),
    Example("reisepass", "en", "how long does a new passport take"),
    Example("reisepass", "de", "Reisepass beantragen"),
]
NEGATIVES = [Example("", "en", "what is the weather tomorrow"), Example("", "en", "tell me a joke")]


def build(encoder: ConceptEncoder | None, floor: float = 0.0, sure: float = 0.6) -> Matcher:
    params = TrainingParams(semantic_floor=floor, semantic_sure=sure)
    return Matcher.build(EXAMPLES, default_language="de", negatives=NEGATIVES, encoder=encoder, params=params)


def best(matcher: Matcher, text: str, lang: str) -> tuple[str | None, float]:
    top = matcher.match(text, lang).best
    return (top.entry_id, top.score) if top else (None, 0.0)


def test_a_paraphrase_without_shared_words_reaches_its_entry() -> None:
    question = "got a new puppy, any fees"
    words_only, _ = best(build(None), question, "en")
    with_encoder, score = best(build(ConceptEncoder()), question, "en")
    assert words_only != "hundesteuer"
    assert with_encoder == "hundesteuer"
    assert score > 0.35


def test_below_the_floor_the_words_alone_decide() -> None:
    encoder = ConceptEncoder()
    matcher = build(encoder, floor=0.25)
    encoder.texts.clear()
    words_only = build(None).match("got a new puppy, any fees", "en")
    assert matcher.match("got a new puppy, any fees", "en") == words_only
    assert encoder.texts == []


def test_a_clear_question_does_not_wait_for_the_encoder() -> None:
    encoder = ConceptEncoder()
    matcher = build(encoder, sure=0.45)  # a knowledge base this small scores its own examples about 0.5
    encoder.texts.clear()
    assert best(matcher, "when is the bin collected", "en")[0] == "muellabfuhr"
    assert encoder.texts == []


def test_questions_outside_the_encoders_languages_never_reach_it() -> None:
    encoder = ConceptEncoder()
    matcher = build(encoder)
    trained_on = list(encoder.texts)
    encoder.texts.clear()
    assert best(matcher, "Mein Welpe ist neu, was muss ich tun", "de") == best(build(None), "Mein Welpe ist neu, was muss ich tun", "de")
    assert encoder.texts == []
    # Only the English examples and negatives were encoded for training.
    assert sorted(trained_on) == sorted(ex.text for ex in EXAMPLES + NEGATIVES if ex.language == "en")


def test_joint_scores_are_on_the_word_matchers_scale() -> None:
    """An example asked as it is written scores about as high with the encoder as without."""
    words_only, with_encoder = build(None), build(ConceptEncoder())
    for ex in EXAMPLES:
        if ex.language != "en":
            continue
        plain = words_only.match(ex.text, "en").best
        joint = with_encoder.match(ex.text, "en").best
        assert plain is not None and joint is not None
        assert joint.entry_id == ex.entry_id
        assert abs(joint.score - plain.score) < 0.25, ex.text


def test_a_knowledge_base_without_the_encoders_language_builds_without_it() -> None:
    encoder = ConceptEncoder()
    german = [ex for ex in EXAMPLES if ex.language == "de"]
    matcher = Matcher.build(german, default_language="de", encoder=encoder)
    assert encoder.texts == []
    assert best(matcher, "Reisepass beantragen", "de")[0] == "reisepass"


class BrokenEncoder(ConceptEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.broken = False

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self.broken:
            raise RuntimeError("model failed")
        return super().encode(texts)


def test_a_failing_encoder_costs_the_second_opinion_not_the_answer() -> None:
    encoder = BrokenEncoder()
    matcher = build(encoder)
    encoder.broken = True
    question = "got a new puppy, any fees"
    assert matcher.match(question, "en") == build(None).match(question, "en")


def test_a_restored_matcher_scores_as_the_trained_one() -> None:
    encoder = ConceptEncoder()
    trained = build(encoder)
    arrays, meta = trained.export()
    restored = Matcher.restore(arrays, json.loads(json.dumps(meta)), encoder)  # the JSON part goes through a file as text
    for text, lang in [("furry pooch fees", "en"), ("Hundesteuer anmelden", "de"), ("my passport expired", "en"), ("tell me a joke", "en")]:
        assert restored.match(text, lang) == trained.match(text, lang)
    assert restored.detect("passport") == trained.detect("passport")


def test_a_restore_refuses_parts_that_do_not_fit() -> None:
    encoder = ConceptEncoder()
    arrays, meta = build(encoder).export()
    with pytest.raises(ValueError, match="without one"):
        Matcher.restore(arrays, meta, None)
    with pytest.raises(ValueError):
        Matcher.restore(arrays, {**meta, "entry_ids": meta["entry_ids"][:-1]}, encoder)
    with pytest.raises(ValueError):
        Matcher.restore({**arrays, "weights.dense": arrays["weights.dense"][:, :-1]}, meta, encoder)
