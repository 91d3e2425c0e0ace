"""A trained feature × entry weight matrix, laid out for scoring one question at a time.

A question has about a hundred features, and the common ones (stems like "beantrag", character
n-grams like "c|ung") carry weights for a large share of the entries after training: in the
Musterstadt knowledge 98 % of the weights a question reads sit in rows that are at least a
tenth full. Gathering those one by one from a sparse matrix cost more than the rest of the
matching together, so such rows are kept as a small dense block, read with one matrix product;
the long tail of rare features stays sparse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

# A row goes to the dense block when at least this share of the entries has a weight in it: the
# block then costs at most 1 / (2 · share) times the row's sparse storage (4 bytes a cell against
# 8 a stored weight), 5× at 0.1.
DENSE_SHARE = 0.1
# In a very large knowledge base, features shared by a large share of the entries (function words,
# common n-grams) cost most of a question's time and barely move the ranking: they are skipped.
SKIP_SHARE = 0.2
SKIP_MIN_ENTRIES = 1000


class WeightRows:
    def __init__(self, weights: sp.csr_matrix) -> None:
        """Lays out ``weights`` (features × entries) for scoring; :meth:`restore` takes a stored layout."""
        weights = weights.tocsr()
        self.shape: tuple[int, int] = weights.shape
        entries = self.shape[1]
        lengths = np.diff(weights.indptr)
        skipped = lengths > max(SKIP_MIN_ENTRIES, int(entries * SKIP_SHARE))
        dense = ~skipped & (lengths >= max(1, int(np.ceil(entries * DENSE_SHARE))))
        # Per feature: its row in the dense block, or -1 (sparse), or -2 (skipped).
        self._slot = np.full(self.shape[0], -1, dtype=np.int64)
        self._slot[skipped] = -2
        self._slot[dense] = np.arange(int(dense.sum()))
        self._dense = np.ascontiguousarray(weights[np.flatnonzero(dense)].toarray(), dtype=np.float32)
        sparse = weights.copy()
        sparse.data[np.repeat(dense | skipped, lengths)] = 0.0
        sparse.eliminate_zeros()
        self._sparse = sparse

    def arrays(self) -> dict[str, np.ndarray]:
        """The layout as plain arrays, for :meth:`restore` (a disk cache stores them)."""
        s = self._sparse
        return {"slot": self._slot, "dense": self._dense, "data": s.data, "indices": s.indices, "indptr": s.indptr,
                "shape": np.asarray(self.shape, dtype=np.int64)}

    @classmethod
    def restore(cls, arrays: Mapping[str, np.ndarray]) -> WeightRows:
        """The layout :meth:`arrays` gave; raises ValueError when the arrays do not fit together."""
        features, entries = (int(n) for n in arrays["shape"])
        slot, dense = np.asarray(arrays["slot"], dtype=np.int64), np.asarray(arrays["dense"], dtype=np.float32)
        sparse = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(features, entries))
        sparse.check_format(full_check=True)  # indices in range, indptr monotonic
        if slot.shape != (features,) or dense.ndim != 2 or dense.shape[1] != entries or int(slot.max(initial=-1)) >= dense.shape[0]:
            raise ValueError("weight rows: the stored arrays do not fit together")
        rows = cls.__new__(cls)
        rows.shape = (features, entries)
        rows._slot, rows._dense, rows._sparse = slot, np.ascontiguousarray(dense), sparse
        return rows

    def scores(self, idx: Sequence[int], val: Sequence[float]) -> np.ndarray:
        """Every entry's score for a question given as sparse (feature indices, values)."""
        rows = np.asarray(idx, dtype=np.int64)
        values = np.asarray(val, dtype=np.float32)
        slots = self._slot[rows]
        in_block = slots >= 0
        out: np.ndarray = values[in_block] @ self._dense[slots[in_block]] if in_block.any() else np.zeros(self.shape[1], dtype=np.float32)
        tail = slots == -1
        if tail.any():
            out = out + _gathered(self._sparse, rows[tail], values[tail], self.shape[1])
        return out


def _gathered(w: sp.csr_matrix, rows: np.ndarray, values: np.ndarray, entries: int) -> np.ndarray:
    """values · W[rows] by gathering only those rows' stored weights."""
    starts, ends = w.indptr[rows], w.indptr[rows + 1]
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(entries, dtype=np.float32)
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
    weights = w.data[offsets] * np.repeat(values, lengths)
    return np.bincount(w.indices[offsets], weights=weights, minlength=entries).astype(np.float32)
