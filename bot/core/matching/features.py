"""Turning a text into weighted sparse features: stems, stem bigrams and character n-grams.

Stems make "beantragen"/"beantragt" and "parking"/"parked" equal; bigrams keep "anmelden Gewerbe"
apart from "abmelden Gewerbe"; character n-grams inside words carry typos and German compounds
("Anwohnerparkausweis" shares most of its n-grams with "Parkausweis für Anwohner"). German
verbs split by the sentence ("melde … an", "abgeholt") are added back whole (see german.py).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
import Stemmer
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Indel

from bot.core.matching import german
from bot.core.matching.normalise import MAX_MATCH_CHARS, tokens

_STEMMER_NAMES = {
    "de": "german", "en": "english", "fr": "french", "es": "spanish", "it": "italian",
    "nl": "dutch", "pt": "portuguese", "tr": "turkish", "ru": "russian", "pl": "polish",
}
_MAX_SYNONYM_WORDS = 4
_MIN_COMPOUND_PART = 3
_CHAR_NGRAMS = (3, 4, 5)
_SQRT2 = math.sqrt(2.0)


def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    name = _STEMMER_NAMES.get(lang)
    if name is None or name not in Stemmer.algorithms():
        return None
    return Stemmer.Stemmer(name)


@lru_cache(maxsize=100_000)
def _char_ngrams(word: str) -> tuple[str, ...]:
    """A word's character n-grams with boundary marks; cached, as the same words recur."""
    padded = f"<{word}>"
    return tuple("c|" + padded[i : i + n] for n in _CHAR_NGRAMS for i in range(len(padded) - n + 1))


class Analyser:
    """Folds, applies synonyms, repairs typos, splits compounds and stems one text.

    ``known_words`` (the folded words of the knowledge base) switch on typo repair and compound
    splitting; without them the analyser only folds, maps synonyms and stems.
    """

    def __init__(self, synonyms: Mapping[str, str], known_words: Iterable[str] = ()) -> None:
        self.synonym_map = dict(synonyms)  # as given, for a stored copy of the analyser
        self._synonyms = {tuple(k.split()): tuple(v.split()) for k, v in synonyms.items() if k}
        self._known = frozenset(known_words)
        # Known words by length: a typo changes the length by at most two, so repair compares
        # against a few hundred words instead of all of them.
        self._by_length: dict[int, list[str]] = {}
        for w in sorted(self._known):
            self._by_length.setdefault(len(w), []).append(w)
        self._stemmers: dict[str, Stemmer.Stemmer | None] = {}
        self._known_german_stems: frozenset[str] | None = None
        self._repair = lru_cache(maxsize=50_000)(self._repair_uncached)
        self._split = lru_cache(maxsize=50_000)(self._split_uncached)
        self._participle = lru_cache(maxsize=50_000)(self._participle_uncached)

    @property
    def known_words(self) -> frozenset[str]:
        return self._known

    def words(self, text: str) -> list[str]:
        """Folded words with synonyms replaced by the word the knowledge base uses."""
        toks = tokens(text)
        if not self._synonyms:
            return toks
        out: list[str] = []
        i = 0
        while i < len(toks):
            for n in range(min(_MAX_SYNONYM_WORDS, len(toks) - i), 0, -1):
                canonical = self._synonyms.get(tuple(toks[i : i + n]))
                if canonical is not None:
                    out.extend(canonical)
                    i += n
                    break
            else:
                out.append(toks[i])
                i += 1
        return out

    def features(self, text: str, lang: str, repair: bool = False) -> Counter[str]:
        german_verbs = lang == "de" and bool(self._known)
        # German questions are read clause by clause: a separable verb's particle ends its clause.
        clauses = [self.words(c) for c in german.clauses(text[:MAX_MATCH_CHARS])] if german_verbs else [self.words(text)]
        if repair and self._known:
            clauses = [[self._repair(w) for w in c] for c in clauses]
        words = [w for c in clauses for w in c]
        parts = [p for w in words for p in self._split(w)] if self._known else []
        stem = self._stem_fn(lang)
        stems = [stem(w) for w in words]
        feats: Counter[str] = Counter("w|" + s for s in stems)
        feats.update("w|" + stem(p) for p in parts)
        feats.update(f"b|{a} {b}" for a, b in pairwise(stems))
        # Word pairs one apart survive the small word between them that breaks a plain bigram
        # ("Ausweis ist verloren", "Ausweis wurde verloren").
        feats.update(f"s|{a} {b}" for a, b in zip(stems, stems[2:], strict=False))
        if stems:
            # The opening word tells the kind of question (wann/wo/wie, when/where/how).
            feats["e|" + stems[0]] += 1
        for w in words:
            feats.update(_char_ngrams(w))
        if german_verbs:
            known_stems = self._german_stems()
            feats.update("w|" + s for c in clauses for s in german.rejoined_verbs(c, stem, known_stems))
            feats.update("w|" + s for w in words if (s := self._participle(w)) is not None)
        return feats

    def _german_stems(self) -> frozenset[str]:
        if self._known_german_stems is None:
            stem = self._stem_fn("de")
            self._known_german_stems = frozenset(stem(w) for w in self._known)
        return self._known_german_stems

    def _participle_uncached(self, word: str) -> str | None:
        return german.participle_stem(word, self._stem_fn("de"), self._german_stems())

    def _stem_fn(self, lang: str):  # type: ignore[no-untyped-def]
        if lang not in self._stemmers:
            self._stemmers[lang] = _stemmer(lang)
        stemmer = self._stemmers[lang]
        return stemmer.stemWord if stemmer is not None else (lambda w: w)

    def _repair_uncached(self, word: str) -> str:
        """The closest known word for an unknown one that looks like a typo of it.

        A typo is one slip (two in long words): a letter wrong, missing, extra or swapped with
        its neighbour. A looser similarity turned real words into others ("dentist" into
        "identity", and so into the ID card entry).
        """
        if word in self._known or len(word) < 5 or word.isdigit():
            return word
        slips = 2 if len(word) >= 8 else 1
        candidates = [w for n in range(len(word) - slips, len(word) + slips + 1) for w in self._by_length.get(n, ())]
        # Each slip costs at most two insertions or deletions: the fast Indel distance narrows the
        # field before the slower Damerau-Levenshtein distance decides.
        near = [w for w, _, _ in process.extract(word, candidates, scorer=Indel.distance, score_cutoff=2 * slips, limit=None)]
        best = process.extractOne(word, near, scorer=DamerauLevenshtein.distance, score_cutoff=slips)
        return best[0] if best else word

    def _split_uncached(self, word: str) -> tuple[str, ...]:
        """Known words a German compound is made of ("anwohnerparkausweis" → anwohner, park, ausweis)."""
        if len(word) < 2 * _MIN_COMPOUND_PART + 1:
            return ()
        for i in range(len(word) - _MIN_COMPOUND_PART, _MIN_COMPOUND_PART - 1, -1):
            left, right = word[:i], word[i:]
            head = self._known_head(left)
            if head is None:
                continue
            if right in self._known:
                return (head, right)
            rest = self._split(right)
            if rest:
                return (head, *rest)
        return ()

    def _known_head(self, left: str) -> str | None:
        if left in self._known:
            return left
        for linker in ("s", "es", "n", "en"):  # Fugenelemente: Wohnungs-suche, Kinder-garten
            if left.endswith(linker) and left[: -len(linker)] in self._known:
                return left[: -len(linker)]
        return None


class Vectoriser:
    """TF-IDF over the analyser's features, word and character groups weighted equally."""

    def __init__(self, analyser: Analyser, documents: Sequence[tuple[str, str]], pivot_slope: float = 1.0) -> None:
        self.analyser = analyser
        self._slope = pivot_slope
        # Documents become integer ids and counts at once: holding every document's Counter of
        # feature strings cost most of a large build's memory.
        provisional: dict[str, int] = {}
        rows, cols, counts = array("q"), array("q"), array("d")  # 8 bytes an item, not a Python int
        for row, (text, lang) in enumerate(documents):
            for feat, count in analyser.features(text, lang).items():
                rows.append(row)
                cols.append(provisional.setdefault(feat, len(provisional)))
                counts.append(count)
        names = sorted(provisional)
        self.index = {f: i for i, f in enumerate(names)}
        final = np.empty(len(provisional), dtype=np.int64)
        for feat, temp in provisional.items():
            final[temp] = self.index[feat]
        n = len(documents)
        col = final[np.frombuffer(cols, dtype=np.int64)] if cols else np.zeros(0, dtype=np.int64)
        df = np.bincount(col, minlength=len(names))
        idf = np.log((1 + n) / (1 + df)) + 1.0
        # Plain lists for queries: per-feature lookups from Python are several times faster.
        self.idf = idf.tolist()
        self._is_char = [f.startswith("c|") for f in names]
        self.documents = self._weigh_all(np.frombuffer(rows, dtype=np.int64), col, np.frombuffer(counts, dtype=np.float64), idf, n)

    def _weigh_all(self, rows: np.ndarray, cols: np.ndarray, counts: np.ndarray, idf: np.ndarray, n: int) -> sp.csr_matrix:
        """The weighting of :meth:`weigh` for all documents at once, each fully L2-normalised."""
        values = idf[cols] * np.where(counts > 1, 1.0 + np.log(np.maximum(counts, 1.0)), 1.0)
        group = np.asarray(self._is_char, dtype=np.int64)[cols] if len(cols) else cols
        sums = np.zeros((n, 2))
        np.add.at(sums, (rows, group), values * values)
        # The typical example's norm per group: the pivot a query's length is measured against.
        self._pivots = [float(np.median(np.sqrt(sums[:, g]))) if n else 1.0 for g in (0, 1)]
        norms = np.sqrt(sums[rows, group]) * _SQRT2
        matrix = sp.csr_matrix(((values / norms).astype(np.float32), (rows, cols)), shape=(n, len(self.index)))
        matrix.sort_indices()
        return matrix

    @property
    def size(self) -> int:
        return len(self.index)

    def state(self) -> tuple[list[str], np.ndarray, list[float], float]:
        """What :meth:`restore` needs besides the analyser: feature names (by index), idf, pivots, slope."""
        names = sorted(self.index, key=self.index.__getitem__)
        return names, np.asarray(self.idf, dtype=np.float64), list(self._pivots), self._slope

    @classmethod
    def restore(cls, analyser: Analyser, names: Sequence[str], idf: np.ndarray, pivots: Sequence[float], pivot_slope: float) -> Vectoriser:
        """A vectoriser for queries as :meth:`state` described it; its ``documents`` are left empty
        (only training reads them). Raises ValueError when the parts do not fit together."""
        if len(names) != len(idf) or len(pivots) != 2 or len(set(names)) != len(names):
            raise ValueError("vectoriser: the stored features, idf and pivots do not fit together")
        vectoriser = cls.__new__(cls)
        vectoriser.analyser = analyser
        vectoriser._slope = float(pivot_slope)
        vectoriser.index = {f: i for i, f in enumerate(names)}
        vectoriser.idf = np.asarray(idf, dtype=np.float64).tolist()
        vectoriser._is_char = [f.startswith("c|") for f in names]
        vectoriser._pivots = [float(p) for p in pivots]
        vectoriser.documents = sp.csr_matrix((0, len(names)), dtype=np.float32)
        return vectoriser

    def weigh(self, bag: Counter[str]) -> tuple[list[int], list[float]]:
        """Sparse (indices, values): sublinear tf × idf, word and character groups each normalised
        by a length between their own L2 norm and the typical example's (``pivot_slope``)."""
        index, idf, is_char = self.index, self.idf, self._is_char
        groups: tuple[tuple[list[int], list[float]], tuple[list[int], list[float]]] = (([], []), ([], []))
        for feat, count in bag.items():
            i = index.get(feat)
            if i is None:
                continue
            group = groups[is_char[i]]
            group[0].append(i)
            group[1].append(idf[i] * (1.0 + math.log(count)) if count > 1 else idf[i])
        idx: list[int] = []
        val: list[float] = []
        for (g_idx, g_val), pivot in zip(groups, self._pivots, strict=True):
            norm = math.sqrt(sum(v * v for v in g_val))
            if norm:
                norm = (self._slope * norm + (1.0 - self._slope) * pivot) * _SQRT2
                idx.extend(g_idx)
                val.extend(v / norm for v in g_val)
        return idx, val

    def query(self, text: str, lang: str) -> tuple[list[int], list[float]]:
        return self.weigh(self.analyser.features(text, lang, repair=True))
