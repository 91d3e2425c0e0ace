"""A second opinion from a sentence encoder, for the questions the word matcher is unsure about.

Words alone cannot tell that "what furry companions do you keep" asks about pets: no word is
shared. A sentence encoder (a small pretrained transformer, see ``bot.semantic``) places such
questions near their topic. Its vector joins the word features as 384 more features of the same
margin-trained linear model, so one training and one threshold serve both. That model's score is
weighted by the cosine between the question and the entry's examples on average (their
centroid): the weights learn from few off-topic examples, the cosine needs none, and on
CLINC150 val it rejected more off-topic questions at the same in-scope accuracy.

The encoder costs milliseconds where the word matcher costs a fraction of one, so it only reads
the questions the word matcher is unsure about (top score below ``semantic_sure`` or within
``semantic_margin`` of the runner-up, but not below ``semantic_floor``; see ``TrainingParams``):
a clear "Personalausweis beantragen" never waits for it.
Core knows the encoder only through :class:`SentenceEncoder`; the model and its runtime live
outside core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from bot.core.matching.weight_rows import WeightRows


class SentenceEncoder(Protocol):
    """Texts to L2-normalised vectors (one row each); only for the languages it names."""

    @property
    def languages(self) -> frozenset[str]: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SemanticStage:
    encoder: SentenceEncoder
    word_weights: WeightRows  # features × entries, the word part of the joint model
    vector_weights: np.ndarray  # encoder dimensions × entries
    vector_scale: float  # the encoder vector's weight among the word features
    centroids: np.ndarray  # entries × encoder dimensions, unit rows (zero: no example to encode)
    # The joint model fits its training data more tightly, so its raw scores run higher than the
    # word matcher's; multiplied by this they are on the word matcher's scale, and the one
    # configured threshold means the same for both (measured on CLINC150 val: without it the
    # joint scores needed a threshold of their own).
    score_scale: float

    def scores(self, word_scores: np.ndarray, text: str) -> np.ndarray:
        """Every entry's score for ``text``, given its word part (query · ``word_weights``)."""
        vector = self.encoder.encode([text])[0].astype(np.float32)
        return combined(word_scores + (vector * self.vector_scale) @ self.vector_weights, vector @ self.centroids.T) * self.score_scale


# A question the word matcher cannot read (another language, another script) is matched by the
# cosine to each entry's centroid alone. That cosine becomes a raw score whose calibrated value
# (1 - exp(-raw), the matcher's 0..1 scale) is 0.30, the default answer threshold, at a cosine of
# CROSS_LINGUAL_ANSWER, and 0.80 at CROSS_LINGUAL_SURE (a close paraphrase). With the
# multilingual encoder (bot.semantic.muse), a cosine of 0.50 rejected 87 % of the off-topic
# questions of the newcomers' development sets (benchmarks/multilingual.py).
CROSS_LINGUAL_ANSWER = 0.50
CROSS_LINGUAL_SURE = 0.80
_RAW_AT_ANSWER, _RAW_AT_SURE = -np.log(1 - 0.30), -np.log(1 - 0.80)
_RAW_PER_COSINE = (_RAW_AT_SURE - _RAW_AT_ANSWER) / (CROSS_LINGUAL_SURE - CROSS_LINGUAL_ANSWER)


def cosine_to_raw(cosines: np.ndarray) -> np.ndarray:
    result: np.ndarray = _RAW_AT_ANSWER + (cosines - CROSS_LINGUAL_ANSWER) * _RAW_PER_COSINE
    return result


@dataclass(frozen=True)
class CrossLingualStage:
    """A multilingual encoder's view of the entries, for questions the words cannot read."""

    encoder: SentenceEncoder
    centroids: np.ndarray  # entries × encoder dimensions, unit rows (zero: no example to encode)

    def scores(self, text: str) -> np.ndarray:
        """Every entry's raw score for ``text``: the cosine to its examples' centroid (see :func:`cosine_to_raw`)."""
        vector = self.encoder.encode([text])[0].astype(np.float32)
        return cosine_to_raw(vector @ self.centroids.T)


def combined(joint: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    result: np.ndarray = joint * np.clip(cosines, 0.0, None)
    return result


def centroids(vectors: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    sums = np.zeros((classes, vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, labels, vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def joint_features(words: sp.csr_matrix, vectors: np.ndarray, scale: float) -> sp.csr_matrix:
    """Word features with the encoder's vector appended as dense columns."""
    return sp.hstack([words, sp.csr_matrix(vectors.astype(np.float32) * scale)], format="csr", dtype=np.float32)


def score_scale(word_only: np.ndarray, joint: np.ndarray) -> float:
    """The ratio of the two models' typical top scores on their training examples."""
    top_word, top_joint = float(np.median(word_only.max(axis=1))), float(np.median(joint.max(axis=1)))
    return top_word / top_joint if top_joint > 0 and top_word > 0 else 1.0
