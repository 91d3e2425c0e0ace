import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.matching import weight_rows
from bot.core.matching.weight_rows import WeightRows


def random_weights(features: int, entries: int, density: float, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    # Rows of very different fullness: a few common features, many rare ones.
    fullness = np.clip(rng.pareto(1.0, features) * density, 0.0, 1.0)
    mask = rng.random((features, entries)) < fullness[:, None]
    return sp.csr_matrix(np.where(mask, rng.normal(size=(features, entries)), 0.0).astype(np.float32))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    entries=st.integers(1, 60),
    picks=st.lists(st.integers(0, 199), min_size=1, max_size=40),
)
def test_scores_equal_the_full_product(seed: int, entries: int, picks: list[int]) -> None:
    w = random_weights(200, entries, 0.05, seed)
    values = np.random.default_rng(seed + 1).random(len(picks)).astype(np.float32)
    query = sp.csr_matrix((values, (np.zeros(len(picks), dtype=np.int64), picks)), shape=(1, 200))
    expected = (query @ w).toarray()[0]
    assert np.allclose(WeightRows(w).scores(picks, values.tolist()), expected, atol=1e-5)


def test_both_storages_are_used_for_a_mixed_matrix() -> None:
    w = random_weights(500, 100, 0.05, seed=3)
    rows = WeightRows(w)
    lengths = np.diff(w.indptr)
    full, rare = int(np.argmax(lengths)), int(np.flatnonzero((lengths > 0) & (lengths < 10))[0])
    assert lengths[full] >= 10 and rows._slot[full] >= 0
    assert rows._slot[rare] == -1
    expected = (w[full].toarray()[0] * 0.5) + (w[rare].toarray()[0] * 2.0)
    assert np.allclose(rows.scores([full, rare], [0.5, 2.0]), expected, atol=1e-6)


def test_a_question_without_features_scores_zero_everywhere() -> None:
    rows = WeightRows(random_weights(50, 7, 0.1, seed=1))
    assert rows.scores([], []).tolist() == [0.0] * 7


def test_features_most_entries_share_are_skipped_in_very_large_knowledge_bases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weight_rows, "SKIP_MIN_ENTRIES", 2)
    w = sp.csr_matrix(np.array([[1.0] * 10, [0.0] * 9 + [3.0]], dtype=np.float32))
    rows = WeightRows(w)
    # Row 0 has weights for all 10 entries (over the 20 % share): it no longer moves any score.
    assert rows.scores([0, 1], [1.0, 1.0]).tolist() == [0.0] * 9 + [3.0]
