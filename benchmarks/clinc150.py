"""CLINC150 (full split): the project matcher against two baselines, in one run.

What is measured: intent accuracy with out-of-scope rejection on the public CLINC150 benchmark
(150 intents, "oos" as out of scope), following its protocol. The matcher is built from ``train``
(each intent one entry, its utterances the examples, language "en") with ``oos_train`` as its
negative examples (``Matcher.build(negatives=...)``; ``--no-negatives`` leaves them out), the
answer threshold is chosen on ``val`` + ``oos_val`` by the threshold rule below and, with it,
the query length normalisation (``TrainingParams.pivot_slope``, one of ``PIVOT_SLOPES``, unless
``--param pivot_slope=`` fixes it; reported as ``pivot_slope``), and the figures are reported on
``test`` + ``oos_test``: in-scope accuracy, OOS recall, false-rejection rate, milliseconds per single
(unbatched) query, build seconds and the threshold.

The threshold rule (``THRESHOLD_RULE``): the highest threshold that answers 95 % of val's in-scope
questions (``evaluation.threshold_at_false_rejection``), the usual operating point of
out-of-distribution detection. Every method gets the same rule, and each result also carries
``at_balanced_threshold``: the figures at the threshold that maximises ``evaluation.balanced`` on
val, a second operating point for comparison. That rule weighs val's 100 off-topic questions as much as its 3,000
in-scope ones, and their share rejected stood still over a wide range of thresholds.

With the sentence encoder installed (the ``semantic`` extra and the model package, see the
README), the matcher gets its semantic second opinion (``bot.core.matching.semantic``) as the
bot does; ``--encoder off`` measures the words alone. ``encoded_share`` is the share of test
questions the encoder read; ``ms_per_query`` includes its time.

``--tune`` is for choosing the matcher's parameters without looking at test: it reports on
``val`` + ``oos_val`` only, once at the threshold chosen on all of it (optimistic) and once
cross-fitted (threshold chosen on one random half, scored on the other, both ways, averaged).
``--param name=value`` overrides a ``TrainingParams`` field for such runs.

Baselines, each with its threshold chosen on val the same way and scored by the same
``evaluation.score``:

* ``rapidfuzz_wratio_nearest``: the nearest training utterance by
  ``rapidfuzz.process.extractOne(q, utterances, scorer=fuzz.WRatio)``, score/100 as its score.
  It is slow, so it is evaluated on a fixed-seed sample of test + oos_test (``--baseline-sample``).
* ``tfidf_linearsvc``: TF-IDF word 1-2 grams + char_wb 2-5 grams and a LinearSVC (scikit-learn),
  the maximum of the decision function as its score; its ms/query is measured batched.

Usage: ``python benchmarks/clinc150.py [--data PATH] [--json] [--tune] [--param NAME=VALUE]``. JSON goes to stdout, progress to
stderr; exit code 2 (with a JSON error object) when the data file is missing.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.matching.evaluation import (
    Labelled,
    Prediction,
    Report,
    choose_threshold,
    predict,
    score,
    threshold_at_false_rejection,
)
from bot.core.matching.matcher import Example, Matcher, TrainingParams
from bot.core.matching.semantic import SentenceEncoder
from bot.semantic.configured import configured_encoder

if __package__:  # python -m benchmarks.clinc150
    from benchmarks import harness
else:  # python benchmarks/clinc150.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

DEFAULT_DATA = harness.REPO.parent / "shared/datasets/clinc150/data_full.json"
TARGETS = {"in_scope_accuracy": 0.90, "oos_recall": 0.85, "false_rejection_rate": 0.08, "ms_per_query": 1.0}
OOS = "oos"
SEED = 0
# Pivot slopes tried on val (TrainingParams.pivot_slope): the product's default and full normalisation.
PIVOT_SLOPES = (0.4, 0.7, 1.0)
# The share of val's in-scope questions the threshold may leave unanswered.
FALSE_REJECTION_BUDGET = 0.05
THRESHOLD_RULE = f"highest threshold answering {1 - FALSE_REJECTION_BUDGET:.0%} of val in-scope (evaluation.threshold_at_false_rejection)"

log = harness.progress_logger("clinc150")


def labelled(rows: Sequence[Sequence[str]]) -> list[Labelled]:
    return [Labelled(text, None if intent == OOS else intent, "en") for text, intent in rows]


def val_threshold(val_pred: Sequence[Prediction]) -> float:
    return threshold_at_false_rejection(val_pred, FALSE_REJECTION_BUDGET)


def val_objective(val_pred: Sequence[Prediction], threshold: float) -> float:
    """What the pivot slope is chosen by: accuracy plus OOS recall at the rule's threshold."""
    r = score(val_pred, threshold)
    return r.in_scope_accuracy + (r.oos_recall or 0.0)


def report(
    predictions: Sequence[Prediction], val_pred: Sequence[Prediction], ms: float, build_s: float, **extra: Any
) -> dict[str, Any]:
    """Test figures at the rule's threshold, and at the balanced one for comparison (both from val)."""
    r: Report = score(predictions, val_threshold(val_pred), ms)
    out = r.as_dict()
    out["threshold_rule"] = THRESHOLD_RULE
    balanced = score(predictions, choose_threshold(val_pred)).as_dict()
    out["at_balanced_threshold"] = {k: balanced[k] for k in ("in_scope_accuracy", "oos_recall", "false_rejection_rate", "threshold")}
    out["build_s"] = round(build_s, 3)
    out.update(extra)
    return out


class CountingEncoder:
    """Counts the texts an encoder is asked for, so the report can say how often it ran."""

    def __init__(self, inner: SentenceEncoder) -> None:
        self.inner = inner
        self.texts = 0

    @property
    def languages(self) -> frozenset[str]:
        return self.inner.languages

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.encode(texts)


def load_encoder(choice: str) -> CountingEncoder | None:
    """The encoder as the bot loads it (``matching.encoder`` semantics: auto or off)."""
    encoder = configured_encoder(choice)
    if encoder is None:
        log("project: no sentence encoder; words alone")
        return None
    return CountingEncoder(encoder)


def build_project(
    train: Sequence[Sequence[str]], negatives: Sequence[Sequence[str]], params: TrainingParams, encoder: SentenceEncoder | None = None,
) -> tuple[Matcher, float]:
    log(f"project: building from {len(train)} training utterances and {len(negatives)} negatives")
    start = time.perf_counter()
    matcher = Matcher.build(
        [Example(intent, "en", text) for text, intent in train],
        params=params,
        default_language="en",
        negatives=[Example(OOS, "en", text) for text, _ in negatives],
        encoder=encoder,
    )
    build_s = time.perf_counter() - start
    log(f"project: built in {build_s:.1f} s, {matcher.feature_count} features")
    return matcher, build_s


def run_project(
    train: Sequence[Sequence[str]], negatives: Sequence[Sequence[str]], params: TrainingParams, val: list[Labelled], test: list[Labelled],
    slopes: Sequence[float] = PIVOT_SLOPES, encoder: CountingEncoder | None = None,
) -> dict[str, Any]:
    """The pivot slope is chosen on val with the threshold (each slope its own threshold, the best
    by ``val_objective``): how much query length should count depends on the data."""
    candidates = []
    for slope in slopes:
        matcher, build_s = build_project(train, negatives, dataclasses.replace(params, pivot_slope=slope), encoder)
        predict(matcher, val[:200])  # warm-up (caches, first-call costs), not counted
        val_pred, _ = predict(matcher, val)
        threshold = val_threshold(val_pred)
        objective = val_objective(val_pred, threshold)
        log(f"project: pivot slope {slope}: threshold {threshold}, val objective {objective:.4f}")
        candidates.append((objective, slope, matcher, build_s, val_pred))
    objective, slope, matcher, build_s, val_pred = max(candidates, key=lambda c: c[0])
    log(f"project: pivot slope {slope} chosen; predicting test")
    encoded_before = encoder.texts if encoder else 0
    test_pred, ms = predict(matcher, test)
    return report(
        test_pred, val_pred, ms, build_s, features=matcher.feature_count, negatives=len(negatives), ms_per_query_mode="single query, unbatched",
        pivot_slope=slope, val_objective_by_pivot_slope={str(c[1]): round(c[0], 4) for c in candidates},
        sentence_encoder="all-MiniLM-L6-v2 (onnxruntime)" if encoder else None,
        encoded_share=round((encoder.texts - encoded_before) / len(test), 4) if encoder else 0.0,
    )


def tune_project(
    train: Sequence[Sequence[str]], negatives: Sequence[Sequence[str]], params: TrainingParams, val: list[Labelled],
    encoder: CountingEncoder | None = None,
) -> dict[str, Any]:
    """Val-only figures for choosing parameters; test is not touched."""
    matcher, build_s = build_project(train, negatives, params, encoder)
    predict(matcher, val[:200])
    val_pred, ms = predict(matcher, val)
    order = list(range(len(val_pred)))
    random.Random(SEED).shuffle(order)
    halves = [[val_pred[i] for i in order[: len(order) // 2]], [val_pred[i] for i in order[len(order) // 2 :]]]
    crossed = [score(b, val_threshold(a)) for a, b in (halves, halves[::-1])]
    return {
        "params": dataclasses.asdict(params),
        "val": report(val_pred, val_pred, ms, build_s, negatives=len(negatives)),
        "val_cross_fitted": {
            "in_scope_accuracy": round(sum(r.in_scope_accuracy for r in crossed) / 2, 4),
            "oos_recall": round(sum(r.oos_recall or 0.0 for r in crossed) / 2, 4),
            "false_rejection_rate": round(sum(r.false_rejection_rate for r in crossed) / 2, 4),
        },
    }


def training_params(overrides: Sequence[str]) -> TrainingParams:
    fields = {f.name: f.type for f in dataclasses.fields(TrainingParams)}
    values: dict[str, Any] = {}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown TrainingParams field: {name}")
        values[name] = int(value) if fields[name] in ("int", int) else float(value)
    return TrainingParams(**values)


def run_rapidfuzz(train: Sequence[Sequence[str]], val: list[Labelled], test: list[Labelled], sample: int) -> dict[str, Any]:
    from rapidfuzz import fuzz, process

    start = time.perf_counter()
    choices = [text for text, _ in train]
    intents = [intent for _, intent in train]
    build_s = time.perf_counter() - start

    def run(items: Sequence[Labelled], what: str) -> tuple[list[Prediction], float]:
        out: list[Prediction] = []
        t0 = time.perf_counter()
        for i, item in enumerate(items):
            hit = process.extractOne(item.text, choices, scorer=fuzz.WRatio)
            out.append(Prediction(item, intents[hit[2]] if hit else None, hit[1] / 100.0 if hit else 0.0))
            if (i + 1) % 500 == 0:
                log(f"rapidfuzz: {what} {i + 1}/{len(items)}")
        return out, 1000.0 * (time.perf_counter() - t0) / max(1, len(items))

    log(f"rapidfuzz: predicting val ({len(val)} queries)")
    val_pred, _ = run(val, "val")
    threshold = val_threshold(val_pred)
    sampled = sample > 0 and sample < len(test)
    items = random.Random(SEED).sample(test, sample) if sampled else list(test)
    log(f"rapidfuzz: threshold {threshold}; predicting {len(items)} of {len(test)} test queries")
    test_pred, ms = run(items, "test")
    return report(
        test_pred,
        val_pred,
        ms,
        build_s,
        sampled=sampled,
        sample_size=len(items),
        sample_seed=SEED if sampled else None,
        sample_in_scope=sum(item.expect is not None for item in items),
        sample_oos=sum(item.expect is None for item in items),
        test_size=len(test),
        val_size=len(val),
        ms_per_query_mode="single query, unbatched",
    )


def run_linearsvc(train: Sequence[Sequence[str]], val: list[Labelled], test: list[Labelled]) -> dict[str, Any]:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    log("tfidf_linearsvc: fitting")
    start = time.perf_counter()
    texts = [text for text, _ in train]
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    x = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    svc = LinearSVC(C=1.0, random_state=SEED)
    svc.fit(x, [intent for _, intent in train])
    build_s = time.perf_counter() - start
    classes = svc.classes_

    def run(items: Sequence[Labelled]) -> tuple[list[Prediction], float]:
        t0 = time.perf_counter()
        q = [item.text for item in items]
        decision = svc.decision_function(hstack([words.transform(q), chars.transform(q)]).tocsr())
        best = np.argmax(decision, axis=1)
        top = decision[np.arange(len(items)), best]
        ms = 1000.0 * (time.perf_counter() - t0) / max(1, len(items))
        return [Prediction(item, str(classes[b]), float(s)) for item, b, s in zip(items, best, top, strict=True)], ms

    log(f"tfidf_linearsvc: fitted in {build_s:.1f} s; predicting val and test")
    val_pred, _ = run(val)
    test_pred, ms = run(test)
    return report(test_pred, val_pred, ms, build_s, ms_per_query_mode="batched: whole test set in one call, per-query mean")


def meets(project: dict[str, Any]) -> dict[str, bool]:
    return {
        "in_scope_accuracy": project["in_scope_accuracy"] >= TARGETS["in_scope_accuracy"],
        "oos_recall": (project["oos_recall"] or 0.0) >= TARGETS["oos_recall"],
        "false_rejection_rate": project["false_rejection_rate"] <= TARGETS["false_rejection_rate"],
        "ms_per_query": project["ms_per_query"] <= TARGETS["ms_per_query"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CLINC150 data_full.json")
    parser.add_argument("--baseline-sample", type=int, default=1000, help="test+oos_test queries for the rapidfuzz baseline (0: all)")
    parser.add_argument("--skip-baselines", action="store_true", help="measure the project matcher only")
    parser.add_argument("--no-negatives", action="store_true", help="build without oos_train as negative examples")
    parser.add_argument("--tune", action="store_true", help="project matcher on val + oos_val only (for choosing parameters)")
    parser.add_argument("--encoder", choices=("auto", "off"), default="auto", help="the semantic second opinion: when installed (auto) or never")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a TrainingParams field")
    args = parser.parse_args(argv)

    if not args.data.is_file():
        print(json.dumps({"dataset": "clinc150", "error": f"data file not found: {args.data}"}))
        return 2
    data = json.loads(args.data.read_text(encoding="utf-8"))
    train = data["train"]
    val = labelled(data["val"] + data["oos_val"])
    test = labelled(data["test"] + data["oos_test"])

    negatives = [] if args.no_negatives else data["oos_train"]
    params = training_params(args.param)

    wall = time.perf_counter()
    encoder = load_encoder(args.encoder)
    if args.tune:
        return harness.print_result({"dataset": "clinc150", "mode": "tune", **tune_project(train, negatives, params, val, encoder)}, wall, indent=2)
    slopes = [params.pivot_slope] if any(p.startswith("pivot_slope=") for p in args.param) else PIVOT_SLOPES
    project = run_project(train, negatives, params, val, test, slopes, encoder)
    baselines: dict[str, Any] = {}
    if not args.skip_baselines:
        baselines["rapidfuzz_wratio_nearest"] = run_rapidfuzz(train, val, test, args.baseline_sample)
        baselines["tfidf_linearsvc"] = run_linearsvc(train, val, test)
    checks = meets(project)
    out = {
        "dataset": "clinc150",
        "data": str(args.data),
        "protocol": f"build on train, threshold on val+oos_val ({THRESHOLD_RULE}), report on test+oos_test",
        "project": project,
        "baselines": baselines,
        "targets": TARGETS,
        "target_checks": checks,
        "meets_targets": all(checks.values()),
    }
    return harness.print_result(out, wall, indent=2)


if __name__ == "__main__":
    sys.exit(main())
