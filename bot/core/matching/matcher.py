"""The trained index: one weight column per entry, queried through its features.

Scoring multiplies the query's hundred-odd features with their rows of the feature × entry matrix
(weight_rows.py), so the cost follows the query's features, not the size of the knowledge base. The weights
start as the entries' TF-IDF centroids and are sharpened by an averaged, margin-based perceptron,
which separates close entries (anmelden/ummelden/abmelden) far better than centroids alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from bot.core.matching.features import Analyser, Vectoriser
from bot.core.matching.language import detect_language
from bot.core.matching.normalise import fold
from bot.core.matching.semantic import CrossLingualStage, SemanticStage, SentenceEncoder, centroids, combined, joint_features, score_scale
from bot.core.matching.weight_rows import WeightRows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    entry_id: str
    language: str
    text: str


@dataclass(frozen=True)
class Match:
    entry_id: str
    score: float  # 0..1; one threshold separates answers from out-of-scope


@dataclass(frozen=True)
class MatchResult:
    language: str
    matches: tuple[Match, ...]  # best first

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


@dataclass(frozen=True)
class TrainingParams:
    epochs: int = 10
    learning_rate: float = 0.3
    margin: float = 1.0
    batch_size: int = 1000
    seed: int = 0
    # Examples × entries one epoch may cost. A city's knowledge (thousands of examples, hundreds of
    # entries) trains fully in seconds; a synthetic 100k-phrasing base would take many minutes per
    # epoch, so there the epochs shrink (to none: centroids alone), keeping reloads quick.
    work_budget: float = 2e7
    # Step size for negative examples (questions that belong to no entry), per pass over them.
    negative_rate: float = 0.3
    # Pivoted length normalisation of queries (Singhal, Buckley & Mitra 1996): a query's norm
    # counts only this share of its own length, the rest is the typical example's. Fully
    # normalised (1.0), a citizen who describes the situation in three sentences scored far below
    # one who typed four words, though the right entry ranked first as often. 0.4 answered more of
    # those long questions and rejected more off-topic ones on the Musterstadt question sets;
    # a knowledge base whose questions are as short as its examples may be better off with 1.0.
    pivot_slope: float = 0.4
    # With a sentence encoder (semantic.py): its vector's weight among the word features, and
    # when a question is left to the word matcher alone: its top score (0..1) at least
    # ``semantic_sure`` and ahead of the runner-up by ``semantic_margin``, or below
    # ``semantic_floor``. Below the floor the words give no lead at all; there the encoder found
    # few right answers on the Musterstadt question sets and lifted off-topic questions over the
    # threshold more often. Chosen on CLINC150 val and the Musterstadt dev sets.
    semantic_vector_scale: float = 1.0
    semantic_sure: float = 0.6
    semantic_margin: float = 0.1
    semantic_floor: float = 0.25


# Training multiplies through a dense copy of the weight rows a batch uses that have weights for at
# least this share of the entries (see _product).
DENSE_PRODUCT_SHARE = 0.05


class Matcher:
    def __init__(
        self,
        vectoriser: Vectoriser,
        weights: WeightRows,
        entry_ids: Sequence[str],
        languages: Sequence[str],
        default_language: str,
        semantic: SemanticStage | None = None,
        params: TrainingParams | None = None,
        cross_lingual: CrossLingualStage | None = None,
    ) -> None:
        self._vectoriser = vectoriser
        self._semantic = semantic
        self._cross_lingual = cross_lingual
        self._params = params or TrainingParams()
        self._weights = weights
        self.entry_ids = tuple(entry_ids)
        self.languages = tuple(languages)
        self.default_language = default_language
        self._own_words: dict[str, frozenset[str]] = {}

    @classmethod
    def build(
        cls,
        examples: Sequence[Example],
        synonyms: Mapping[str, str] | None = None,
        params: TrainingParams | None = None,
        default_language: str = "de",
        negatives: Sequence[Example] = (),
        encoder: SentenceEncoder | None = None,
        cross_lingual: SentenceEncoder | None = None,
    ) -> Matcher:
        """``negatives`` are questions no entry should answer (their ``entry_id`` is ignored):
        training pushes every entry's score for them below zero, which teaches the threshold
        what out-of-scope looks like near the knowledge base's topics. ``encoder`` adds the
        semantic second opinion (semantic.py) for questions in its languages. ``cross_lingual``,
        a multilingual encoder, answers the questions the words cannot read (see ``_cross_lingual_scores``)."""
        if not examples:
            raise ValueError("a matcher needs at least one example")
        params = params or TrainingParams()
        folded = _folded(synonyms or {})
        plain = Analyser(folded)  # synonyms only: the known words that typo repair aims at
        known = {w for ex in examples for w in plain.words(ex.text)}
        analyser = Analyser(folded, known)
        vectoriser = Vectoriser(analyser, [(ex.text, ex.language) for ex in examples], params.pivot_slope)
        entry_ids = sorted({ex.entry_id for ex in examples})
        column = {e: i for i, e in enumerate(entry_ids)}
        x = vectoriser.documents
        y = np.array([column[ex.entry_id] for ex in examples])
        negative_rows = _query_matrix(vectoriser, negatives)
        weights = _train(x, y, len(entry_ids), params, negative_rows)
        semantic = None
        if encoder is not None:
            semantic = _train_semantic(encoder, examples, x, y, len(entry_ids), params, weights, negatives, negative_rows)
        languages = sorted({ex.language for ex in examples})
        words_by_language: dict[str, set[str]] = {}
        for ex in examples:
            words_by_language.setdefault(ex.language, set()).update(fold(ex.text).split())
        reader = None
        if cross_lingual is not None:
            covered = [i for i, ex in enumerate(examples) if ex.language in cross_lingual.languages]
            if covered:
                vectors = cross_lingual.encode([examples[i].text for i in covered])
                reader = CrossLingualStage(cross_lingual, centroids(vectors, y[covered], len(entry_ids)))
        matcher = cls(vectoriser, WeightRows(weights), entry_ids, languages, default_language, semantic, params, reader)
        matcher._own_words = {
            lang: frozenset(words - set().union(*(w for other, w in words_by_language.items() if other != lang)))
            for lang, words in words_by_language.items()
        }
        return matcher

    def export(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The trained matcher as arrays and JSON-ready values, for :meth:`restore` (a disk cache
        keeps them, so a restart with unchanged knowledge skips training)."""
        names, idf, pivots, slope = self._vectoriser.state()
        analyser = self._vectoriser.analyser
        arrays = {"idf": idf, **{f"weights.{k}": v for k, v in self._weights.arrays().items()}}
        semantic: dict[str, float] | None = None
        if self._semantic is not None:
            stage = self._semantic
            arrays |= {f"semantic.words.{k}": v for k, v in stage.word_weights.arrays().items()}
            arrays |= {"semantic.vector_weights": stage.vector_weights, "semantic.centroids": stage.centroids}
            semantic = {"vector_scale": stage.vector_scale, "score_scale": stage.score_scale}
        meta = {
            "entry_ids": list(self.entry_ids), "languages": list(self.languages), "default_language": self.default_language,
            "params": asdict(self._params), "own_words": {lang: sorted(words) for lang, words in self._own_words.items()},
            "synonyms": analyser.synonym_map, "known_words": sorted(analyser.known_words),
            "features": names, "pivots": pivots, "pivot_slope": slope, "semantic": semantic,
        }
        return arrays, meta

    @classmethod
    def restore(cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any], encoder: SentenceEncoder | None = None) -> Matcher:
        """The matcher :meth:`export` described. ``encoder`` must be the one it was trained with
        when it has a semantic stage. Raises ValueError (or KeyError, TypeError) for parts that do
        not fit together."""
        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        analyser = Analyser(dict(meta["synonyms"]), meta["known_words"])
        vectoriser = Vectoriser.restore(analyser, meta["features"], arrays["idf"], meta["pivots"], meta["pivot_slope"])
        weights = WeightRows.restore(part("weights."))
        entry_ids = [str(e) for e in meta["entry_ids"]]
        if weights.shape != (vectoriser.size, len(entry_ids)):
            raise ValueError("matcher: the stored weights do not fit the features and entries")
        semantic = None
        if meta["semantic"] is not None:
            if encoder is None:
                raise ValueError("matcher: trained with a sentence encoder, restored without one")
            vector_weights = np.asarray(arrays["semantic.vector_weights"], dtype=np.float32)
            middles = np.asarray(arrays["semantic.centroids"], dtype=np.float32)
            word_weights = WeightRows.restore(part("semantic.words."))
            if word_weights.shape != weights.shape or vector_weights.shape[1] != len(entry_ids) or middles.shape != vector_weights.shape[::-1]:
                raise ValueError("matcher: the stored semantic stage does not fit the entries")
            semantic = SemanticStage(encoder, word_weights, vector_weights, float(meta["semantic"]["vector_scale"]), middles,
                                     float(meta["semantic"]["score_scale"]))
        matcher = cls(vectoriser, weights, entry_ids, meta["languages"], str(meta["default_language"]), semantic,
                      TrainingParams(**meta["params"]))
        matcher._own_words = {str(lang): frozenset(words) for lang, words in meta["own_words"].items()}
        return matcher

    @property
    def feature_count(self) -> int:
        return self._vectoriser.size

    def detect(self, text: str, hint: str | None = None) -> str:
        """The text's language by :meth:`evidence`; without any, the hint or the default."""
        lang = self.evidence(text) or hint or self.default_language
        return lang if lang in self.languages else self.default_language

    def evidence(self, text: str) -> str | None:
        """Function words decide; without any, the words only one language's examples use
        ("passport" vs "Reisepass"); None when the text carries no language ("1", "ok", a name)."""
        lang = detect_language(text, default=None)
        if lang is None:
            words = fold(text).split()
            votes = {code: sum(w in own for w in words) for code, own in self._own_words.items()}
            best = max(votes, key=lambda code: votes[code], default=None)
            if best is not None and votes[best] > 0 and list(votes.values()).count(votes[best]) == 1:
                lang = best
        return lang if lang in self.languages else None

    def match(self, text: str, language: str | None = None, k: int = 5) -> MatchResult:
        lang = language or self.detect(text)
        idx, val = self._vectoriser.query(text, lang) if fold(text) else ([], [])
        words = self._weights.scores(idx, val) if idx else None
        if self._cross_lingual is not None and text.strip():
            cross = self._cross_lingual_scores(text, lang, words)
            if cross is not None:
                return self._result(lang, cross, k)
        if words is None:
            return MatchResult(lang, ())
        scores = words
        if self._semantic is not None and lang in self._semantic.encoder.languages and self._unsure(scores):
            try:
                scores = self._semantic.scores(self._semantic.word_weights.scores(idx, val), text)
            except Exception:  # the second opinion is optional: a failing model must not cost the answer
                log.exception("sentence encoder failed; answering by words alone")
        return self._result(lang, scores, k)

    def _result(self, lang: str, scores: np.ndarray, k: int) -> MatchResult:
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        matches = tuple(Match(self.entry_ids[i], _calibrated(float(scores[i]))) for i in top)
        return MatchResult(lang, matches)

    def _cross_lingual_scores(self, text: str, lang: str, word_scores: np.ndarray | None) -> np.ndarray | None:
        """The scores for a question the words cannot read: none of its words is known, it is in
        a language the knowledge lacks, or the words give no entry a lead and the text shows no
        sign of the knowledge's languages. Each entry's score is the better of the words' and the
        multilingual encoder's. None where the words decide.

        A German or English question whose words give no lead stays with the words: such
        questions are mostly off-topic, and the encoder answered more of the near misses (the
        same services in other cities) than it found right answers among them.
        """
        assert self._cross_lingual is not None
        if word_scores is not None and lang in self.languages and (
            _calibrated(float(word_scores.max())) >= self._params.semantic_floor or detect_language(text, default=None) in self.languages
        ):
            return None
        try:
            cross = self._cross_lingual.scores(text)
        except Exception:  # as in match: a failing model must not cost the answer
            log.exception("sentence encoder failed; answering by words alone")
            return None
        return cross if word_scores is None else np.maximum(word_scores, cross)

    def _unsure(self, scores: np.ndarray) -> bool:
        p = self._params
        if len(scores) < 2:
            return False
        second, first = (_calibrated(float(v)) for v in np.partition(scores, len(scores) - 2)[-2:])
        return first >= p.semantic_floor and (first < p.semantic_sure or first - second < p.semantic_margin)


def _train_semantic(
    encoder: SentenceEncoder, examples: Sequence[Example], x: sp.csr_matrix, y: np.ndarray, classes: int,
    params: TrainingParams, word_weights: sp.csr_matrix, negatives: Sequence[Example], negative_rows: sp.csr_matrix | None,
) -> SemanticStage | None:
    """The joint model over word features and the encoder's vector, trained on the examples in
    the encoder's languages only (a German question never reaches an English encoder)."""
    rows = np.array([i for i, ex in enumerate(examples) if ex.language in encoder.languages], dtype=np.int64)
    if not len(rows):
        return None
    scale = params.semantic_vector_scale
    vectors = encoder.encode([examples[i].text for i in rows])
    joint = joint_features(x[rows], vectors, scale)
    joint_negatives = None
    if negative_rows is not None:
        keep = [i for i, ex in enumerate(negatives) if ex.language in encoder.languages]
        if keep:
            joint_negatives = joint_features(negative_rows[keep], encoder.encode([negatives[i].text for i in keep]), scale)
    weights = _train(joint, y[rows], classes, params, joint_negatives)
    words = x.shape[1]
    middles = centroids(vectors, y[rows], classes)
    trained = combined((joint @ weights).toarray(), vectors @ middles.T)
    return SemanticStage(
        encoder=encoder,
        word_weights=WeightRows(weights[:words]),
        vector_weights=weights[words:].toarray(),
        vector_scale=scale,
        centroids=middles,
        score_scale=score_scale((x[rows] @ word_weights).toarray(), trained),
    )


def _calibrated(raw: float) -> float:
    """Raw margins (about 1 for a confident training-like match) mapped onto 0..1 without
    saturating, so two strong candidates stay comparable for "Meinten Sie …?"."""
    return 1.0 - math.exp(-raw) if raw > 0 else 0.0


def _folded(synonyms: Mapping[str, str]) -> dict[str, str]:
    return {fold(k): fold(v) for k, v in synonyms.items() if fold(k) and fold(v)}


def _query_matrix(vectoriser: Vectoriser, examples: Sequence[Example]) -> sp.csr_matrix | None:
    """Examples weighed as questions are (typo repair, unknown words), one row each."""
    if not examples:
        return None
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, ex in enumerate(examples):
        idx, val = vectoriser.query(ex.text, ex.language)
        rows.extend([row] * len(idx))
        cols.extend(idx)
        vals.extend(val)
    shape = (len(examples), vectoriser.size)
    return sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=shape)


def _train(
    x: sp.csr_matrix, y: np.ndarray, classes: int, p: TrainingParams, negatives: sp.csr_matrix | None = None
) -> sp.csr_matrix:
    """Averaged multi-class perceptron with a margin, in mini-batches of sparse updates.

    Returns the feature × entry weight matrix. Averaging (weights minus step-weighted updates
    over the step count) is the standard trick that makes a perceptron as stable as an SVM here.
    """
    n = x.shape[0]
    onehot = sp.csr_matrix((np.ones(n, dtype=np.float32), (np.arange(n), y)), shape=(n, classes))
    counts = np.asarray(onehot.sum(axis=0)).ravel()
    w = (x.T @ onehot).tocsr().multiply(1.0 / np.maximum(counts, 1)).tocsr().astype(np.float32)
    if classes < 2 and negatives is None:
        return w
    updates = sp.csr_matrix(w.shape, dtype=np.float32)
    step = 1.0
    rng = np.random.default_rng(p.seed)
    epochs = p.epochs if n * classes <= p.work_budget else int(p.epochs * p.work_budget / (n * classes))
    batches = -(-n // p.batch_size)
    for _ in range(epochs):
        order = rng.permutation(n)
        for b in range(batches):
            rows = order[b * p.batch_size : (b + 1) * p.batch_size]
            change = _margin_update(x[rows], y[rows], w, p)
            if negatives is not None:
                # Negatives are spread over the epoch's batches, so each is seen once an epoch.
                chunk = negatives[b * negatives.shape[0] // batches : (b + 1) * negatives.shape[0] // batches]
                change = _sum(change, _negative_update(chunk, w, p.negative_rate))
            if change is not None:
                w = w + change
                updates = updates + change * step
            step += 1.0
    return (w - updates * (1.0 / step)).tocsr().astype(np.float32)


def _margin_update(xb: sp.csr_matrix, yb: np.ndarray, w: sp.csr_matrix, p: TrainingParams) -> sp.csr_matrix | None:
    """Towards the true entry and away from the best rival, for examples won by less than the margin."""
    if w.shape[1] < 2:
        return None
    scores = _product(xb, w)
    r = np.arange(len(yb))
    truth = scores[r, yb]
    scores[r, yb] = -np.inf
    rival = scores.argmax(axis=1)
    bad = np.nonzero(truth - scores[r, rival] < p.margin)[0]
    if not len(bad):
        return None
    delta = sp.csr_matrix(
        (
            np.concatenate([np.full(len(bad), p.learning_rate), np.full(len(bad), -p.learning_rate)]).astype(np.float32),
            (np.concatenate([bad, bad]), np.concatenate([yb[bad], rival[bad]])),
        ),
        shape=(len(yb), w.shape[1]),
    )
    return (xb.T @ delta).tocsr()


def _negative_update(xn: sp.csr_matrix, w: sp.csr_matrix, rate: float) -> sp.csr_matrix | None:
    """Away from every entry that scores a negative example above zero."""
    if xn.shape[0] == 0:
        return None
    rows, cols = np.nonzero(_product(xn, w) > 0.0)
    if not len(rows):
        return None
    delta = sp.csr_matrix((np.full(len(rows), -rate, dtype=np.float32), (rows, cols)), shape=(xn.shape[0], w.shape[1]))
    return (xn.T @ delta).tocsr()


def _product(x: sp.csr_matrix, w: sp.csr_matrix) -> np.ndarray:
    """x · w as a dense array. Trained weights fill most of a common feature's row, and the
    encoder's vector fills every one of its rows; sparse × sparse products over such rows spent
    most of the training time, so the well-filled rows x uses are multiplied as a dense copy and
    only the rest sparsely (a dense copy of every row x uses cost 40 MB more at start-up)."""
    cols = np.unique(x.indices)
    filled = cols[np.diff(w.indptr)[cols] >= DENSE_PRODUCT_SHARE * w.shape[1]]
    if not len(filled):
        product: np.ndarray = (x @ w).toarray()
        return product
    in_filled = np.zeros(w.shape[0], dtype=bool)
    in_filled[filled] = True
    rest = x.copy()
    rest.data[in_filled[rest.indices]] = 0.0
    rest.eliminate_zeros()
    dense: np.ndarray = x[:, filled] @ w[filled].toarray() + (rest @ w).toarray()
    return dense


def _sum(a: sp.csr_matrix | None, b: sp.csr_matrix | None) -> sp.csr_matrix | None:
    if a is None or b is None:
        return a if b is None else b
    return (a + b).tocsr()
