"""The MiniLM sentence encoder: agreement with a NumPy forward pass, meaning, hostile input, pinned files, cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("onnxruntime", reason="the extra 'semantic' is not installed")

from safetensors.numpy import load_file, save_file
from scipy.special import erf
from tokenizers import Tokenizer

from bot.semantic import minilm
from bot.semantic.minilm import MiniLM, ModelError, find_model_dir

MODEL_DIR = find_model_dir()
if MODEL_DIR is None:
    pytest.skip(f"the sentence model package {minilm.MODEL_PACKAGE!r} is not installed", allow_module_level=True)
assert MODEL_DIR is not None

SENTENCES = [
    "where can I renew my passport",
    "How do I register a car?!",
    "Können Sie mir bitte sagen, wann das Bürgerbüro geöffnet hat?",
    "the bulky waste collection needs to be booked two weeks in advance, otherwise the truck will not stop at your house "
    "and you have to bring old furniture, mattresses and carpets to the recycling centre yourself",
    "ok",
    "What's the weather like in 日本 today 🌧️",
]


class Reference:
    """all-MiniLM-L6-v2 in plain NumPy and float64, one text at a time: independent of the graph builder.

    The same computation as a NumPy forward pass that matched sentence-transformers to cosine
    0.9999999 (post-norm layers, exact GELU, mean pooling), in float64 and without padding.
    """

    def __init__(self, model_dir: Path) -> None:
        self.w = {name.removeprefix("bert."): t.astype(np.float64) for name, t in load_file(model_dir / "model.safetensors").items()}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(128)

    def linear(self, x: npt.NDArray[np.float64], name: str) -> npt.NDArray[np.float64]:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def layer_norm(self, x: npt.NDArray[np.float64], name: str) -> npt.NDArray[np.float64]:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        normed: npt.NDArray[np.float64] = (x - mean) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]
        return normed

    def __call__(self, text: str) -> npt.NDArray[np.float64]:
        w, ids = self.w, self.tokenizer.encode(text).ids
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
        x = self.layer_norm(x, "embeddings.LayerNorm")
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            q, k, v = (self.linear(x, f"{p}attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(32)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, 384)
            x = self.layer_norm(self.linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = self.linear(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
            x = self.layer_norm(self.linear(h, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = x.mean(0)
        normalised: npt.NDArray[np.float64] = pooled / np.linalg.norm(pooled)
        return normalised


@pytest.fixture(scope="module")
def model() -> MiniLM:
    """As the bot loads it: int8 matrix products."""
    assert MODEL_DIR is not None
    return MiniLM.load(MODEL_DIR)


@pytest.fixture(scope="module")
def exact() -> MiniLM:
    """float32 throughout: must compute what the reference computes."""
    assert MODEL_DIR is not None
    return MiniLM.load(MODEL_DIR, quantised=False)


@pytest.fixture(scope="module")
def reference() -> Reference:
    assert MODEL_DIR is not None
    return Reference(MODEL_DIR)


def cosines(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    return np.asarray((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)), dtype=np.float64)


def test_single_texts_agree_with_the_numpy_reference(exact: MiniLM, reference: Reference) -> None:
    alone = np.vstack([exact.encode([text]) for text in SENTENCES])
    expected = np.vstack([reference(text) for text in SENTENCES])
    assert alone.dtype == np.float32 and alone.shape == (len(SENTENCES), 384)
    assert cosines(alone, expected).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(alone, axis=1), 1.0, atol=1e-5)


def test_a_padded_batch_agrees_with_the_reference_and_with_texts_alone(exact: MiniLM, reference: Reference) -> None:
    lengths = [len(reference.tokenizer.encode(text).ids) for text in SENTENCES]
    assert min(lengths) < 5 and max(lengths) > 40  # short texts really are padded in the batch
    exact.clear_cache()
    batch = exact.encode(SENTENCES)
    exact.clear_cache()
    alone = np.vstack([exact.encode([text]) for text in SENTENCES])
    expected = np.vstack([reference(text) for text in SENTENCES])
    assert cosines(batch, expected).min() > 0.9999
    assert cosines(batch, alone).min() > 0.9999


def test_the_int8_model_stays_close_to_the_reference(model: MiniLM, reference: Reference) -> None:
    """Rounding weights and activations to int8 moves the vectors a little, short texts most
    ("ok": about 0.97); the activations' scale is set per call, so a text inside a batch of
    others lands slightly elsewhere than alone (measured down to 0.94 for "ok")."""
    model.clear_cache()
    alone = np.vstack([model.encode([text]) for text in SENTENCES])
    model.clear_cache()
    batch = model.encode(SENTENCES)
    expected = np.vstack([reference(text) for text in SENTENCES])
    for vectors in (alone, batch):
        agreement = cosines(vectors, expected)
        assert agreement.min() > 0.95 and agreement.mean() > 0.98
    assert cosines(batch, alone).min() > 0.92


def test_meaning(model: MiniLM) -> None:
    passport, expired, rubbish = model.encode(["where can I renew my passport", "my passport expired, what do I do now", "when is the rubbish bin collected"])
    assert passport @ expired > passport @ rubbish
    pets, furry, credit = model.encode(["what pets do you have", "what furry companions do you keep", "what is my credit card limit"])
    assert pets @ furry > pets @ credit


@pytest.mark.parametrize(
    "text",
    [
        "word " * 20_000,  # 100 kB
        "中" * 100_000,  # one token a character
        "",
        "   \n\t ",
        "😀🎉👍" * 50,
        "\x00\xff\x01\x7f\x1b[31m" * 1000,
        bytes(range(256)).decode("latin-1") * 100,
        b"\xff\xfe broken \x80".decode("utf-8", errors="surrogateescape"),  # lone surrogates
        "<html><body><script>alert('x')</script><p>Opening <b>hours</b>?</p></body></html>",
    ],
    ids=["100kB", "cjk", "empty", "whitespace", "emoji", "control", "binary", "surrogates", "html"],
)
def test_hostile_input_gives_a_finite_row(model: MiniLM, text: str) -> None:
    rows = model.encode([text, "opening hours"])
    assert rows.shape == (2, 384) and rows.dtype == np.float32
    assert np.isfinite(rows).all()
    norm = float(np.linalg.norm(rows[0]))
    assert norm == 0.0 or abs(norm - 1.0) < 1e-5


def test_a_text_without_tokens_gives_a_zero_row(model: MiniLM) -> None:
    rows = model.encode(["", " \t\n", "\x00\x01", "ok"])
    assert not rows[:3].any()
    assert abs(float(np.linalg.norm(rows[3])) - 1.0) < 1e-5


def test_only_the_first_128_tokens_count(model: MiniLM) -> None:
    long_a, long_b, prefix = model.encode(["word " * 5000 + "apple", "word " * 5000 + "zebra", "word " * 126])
    np.testing.assert_array_equal(long_a, long_b)
    np.testing.assert_array_equal(long_a, prefix)


def test_no_texts_and_a_bare_string(model: MiniLM) -> None:
    assert model.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        model.encode("where can I renew my passport")


def spy_on_session(model: MiniLM, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows passed to the onnxruntime session per run."""
    batches: list[int] = []
    run: Callable[..., Any] = model._session.run

    def counting_run(output_names: Any, feeds: dict[str, npt.NDArray[np.int64]], *args: Any) -> Any:
        batches.append(len(feeds["input_ids"]))
        return run(output_names, feeds, *args)

    monkeypatch.setattr(model._session, "run", counting_run)
    return batches


def test_the_cache_spares_the_model(model: MiniLM, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = spy_on_session(model, monkeypatch)
    model.clear_cache()
    text = "which documents do I need for a resident parking permit"
    first = model.encode([text])
    second = model.encode([text, "WHICH documents do I need for a  resident parking permit", text])
    assert batches == [1]  # case and spacing vanish in the tokenizer, so all four are one entry
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(second[0], second[1])
    assert model.cache_info() == minilm.CacheInfo(hits=3, misses=1, size=1, maxsize=minilm.CACHE_SIZE)
    first[0, :] = 0  # what callers do with their rows does not reach the cache
    np.testing.assert_array_equal(model.encode([text])[0], second[0])


def test_repeats_within_a_call_run_once_and_the_cache_is_bounded(model: MiniLM, monkeypatch: pytest.MonkeyPatch) -> None:
    small = MiniLM(model._tokenizer, model._session, cache_size=3)
    batches = spy_on_session(model, monkeypatch)
    texts = [f"question number {n}" for n in range(5)]
    small.encode(texts + texts)
    assert batches == [5]
    assert small.cache_info().size == 3
    small.encode(texts[-3:])  # the newest three stayed
    small.encode(texts[:1])  # the oldest went
    assert batches == [5, 1]


def test_weights_other_than_the_pinned_ones_are_refused(tmp_path: Path) -> None:
    assert MODEL_DIR is not None
    for name in ("tokenizer.json", "config.json"):
        (tmp_path / name).symlink_to(MODEL_DIR / name)
    save_file({"embeddings.word_embeddings.weight": np.zeros((4, 384), dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ModelError, match=minilm.MODEL_SHA256):
        MiniLM.load(tmp_path)


def test_a_changed_tokenizer_is_refused(tmp_path: Path) -> None:
    assert MODEL_DIR is not None
    (tmp_path / "model.safetensors").symlink_to(MODEL_DIR / "model.safetensors")
    original = (MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8")
    changed = original.replace('"lowercase":true', '"lowercase":false')
    assert changed != original
    (tmp_path / "tokenizer.json").write_text(changed, encoding="utf-8")
    with pytest.raises(ModelError, match="refusing"):
        MiniLM.load(tmp_path)


def test_missing_files_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MODEL_DIR is not None
    with pytest.raises(ModelError, match="missing"):
        MiniLM.load(tmp_path / "absent")
    (tmp_path / "tokenizer.json").symlink_to(MODEL_DIR / "tokenizer.json")
    with pytest.raises(ModelError, match=r"missing: .*model\.safetensors"):
        MiniLM.load(tmp_path)
    monkeypatch.setattr(minilm, "MODEL_PACKAGE", "no_such_model_package")
    assert find_model_dir() is None
    with pytest.raises(ModelError, match="not installed"):
        MiniLM.load()


def test_remembered_vectors_move_to_another_instance(model: MiniLM) -> None:
    texts = ["where do I renew my passport", "when is the bin collected", "dog tax"]
    vectors = model.encode(texts)
    fresh = MiniLM(model._tokenizer, model._session, fingerprint=model.fingerprint)
    assert fresh.remember_all(*model.remembered()) >= len(texts)
    before = fresh.cache_info().misses
    np.testing.assert_array_equal(fresh.encode(texts), vectors)
    assert fresh.cache_info().misses == before  # every text came from the remembered vectors
    assert model.fingerprint and model.fingerprint != MiniLM.load(MODEL_DIR, quantised=False).fingerprint
    ids, ends, rows = model.remembered()
    with pytest.raises(ValueError, match="do not fit"):
        fresh.remember_all(ids, ends[:-1], rows)
