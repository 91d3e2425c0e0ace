"""How the project matcher scales with the size of the knowledge base, against a naive fuzzy scan.

What is measured, for synthetic knowledge bases of 1k, 10k and 100k example phrasings (10 per
entry): per-query latency (p50/p99 ms, single unbatched ``Matcher.match`` calls, language detected
as in production), index build seconds (``Matcher.build``), peak RSS of the process, and top-1
accuracy on the in-scope queries, so that speed is not bought with wrong answers.

Baseline, side by side in the same run and on the same queries: the naive scan
``rapidfuzz.process.extractOne(query, all_phrasings, scorer=fuzz.WRatio)``, its answer being the
entry of the nearest phrasing. It is linear in the number of phrasings, so above 10k phrasings it
is timed on the first ``--naive-queries-large`` queries only (the output says how many).

The data: entries are German- or English-like service questions whose content words (a verb, an
object made of compound parts such as "Anwohner|parkausweis" or "resident parking permit", an
optional detail) differ between entries, while the function words and question templates are
shared. Queries are re-phrasings of an entry's question (possibly with a template that entry has no
example for) with a typo, a dropped word and/or reordered words, plus ~15 % random out-of-scope
sentences (timed, not scored). Everything comes from a fixed seed.

The matcher is built with its default ``TrainingParams``; their ``work_budget`` shortens (down to
no perceptron epochs, centroids only) the training of large bases, so each row says whether that
size was trained fully (``full_training``); ``--work-budget``/``--epochs`` override them. Latencies
are wall-clock on a possibly shared machine: each row carries the 1-minute load average.

Each size is measured in a fresh subprocess (hidden ``--one-size N``), so that the peak RSS read
from ``getrusage(RUSAGE_SELF).ru_maxrss`` belongs to that size alone.

Usage: ``python benchmarks/matcher_scale.py --json [--sizes 1000,10000,100000] [--queries N]``.
JSON goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

if __package__:  # python -m benchmarks.matcher_scale
    from benchmarks import harness
else:  # python benchmarks/matcher_scale.py: benchmarks/ is sys.path[0]
    import harness  # type: ignore[no-redef]

TARGETS = {"p99_ms_10k": 2, "p99_ms_100k": 10, "speedup_10k": 20}
PHRASINGS_PER_ENTRY = 10
OOS_SHARE = 0.15
NAIVE_FULL_UP_TO = 10_000
WARMUP_QUERIES = 50
SEED = 20240601

# --- word lists --------------------------------------------------------------------------------


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


DE_PARTS = _words(
    "park ausweis wohn geld steuer hund kinder garten melde schein fuehrer reise pass geburt urkunde "
    "ehe fahr zeug bau antrag gewerbe muell tonne strassen laterne wasser rechnung miet vertrag schul "
    "platz sport halle buecher karte bus bahn ticket rad weg feuer wehr polizei amt buerger buero "
    "sozial hilfe wahl brief grund stueck haus halte energie strom heiz kosten zuschuss eltern zeit "
    "pflege dienst arbeit anwohner sperr gebuehr zulassung kennzeichen termin friedhof grab standes "
    "namens aenderung aufenthalt titel visum einbuergerung lohn bescheid spiel kita krippe jugend "
    "senioren markt stand fest veranstaltung laerm schutz baum faellung garage dach solar anlage"
)
DE_VERBS = _words(
    "beantragen verlaengern abmelden anmelden ummelden bezahlen kuendigen aendern einreichen abholen "
    "bestellen ersetzen melden pruefen erneuern zuruecknehmen beglaubigen uebertragen reservieren "
    "buchen stornieren erstatten widerrufen verschieben nachweisen"
)
EN_ADJ = _words(
    "resident parking dog child garden driving travel birth marriage vehicle building business waste "
    "street water rent school sports library bus bike fire police citizen social election land house "
    "energy heating parent care job noise tree roof solar market youth senior cemetery residence "
    "tax property festival event burial name work family health food street-light"
)
EN_NOUNS = _words(
    "permit licence certificate pass card ticket allowance grant contract bill account registration "
    "application appointment fee refund subsidy voucher notice statement record plate badge"
)
EN_VERBS = _words(
    "apply for|renew|cancel|register|pay|change|submit|pick up|order|replace|report|check|extend|"
    "transfer|book|reserve|refund|certify|withdraw|reschedule|update|request|appeal|close|deregister",
    "|",
)

DE_TEMPLATES = (
    "wie kann ich {a} {v}",
    "ich möchte meinen {a} {v}",
    "wo kann ich {a} für {b} {v}",
    "{a} {v}",
    "was brauche ich um {a} zu {v}",
    "kann ich {a} online {v}",
    "was kostet es {a} zu {v}",
    "wie lange dauert es {a} für {b} zu {v}",
    "ich muss {a} {v} wegen {b}",
    "welche unterlagen brauche ich wenn ich {a} {v} will",
    "wann kann ich {a} {v}",
    "wer ist zuständig wenn ich {a} {v} muss",
    "geht es {a} auch ohne termin zu {v}",
    "hallo ich würde gern {a} {v} bitte",
)
EN_TEMPLATES = (
    "how can i {v} a {a}",
    "i would like to {v} my {a}",
    "where do i {v} a {a} for {b}",
    "{v} {a}",
    "what do i need to {v} a {a}",
    "can i {v} my {a} online",
    "how much does it cost to {v} a {a}",
    "how long does it take to {v} a {a} for {b}",
    "i have to {v} my {a} because of {b}",
    "which documents do i need to {v} the {a}",
    "when can i {v} my {a}",
    "who is responsible if i want to {v} a {a}",
    "is it possible to {v} the {a} without an appointment",
    "hello i would like to {v} a {a} please",
)
OOS_WORDS = _words(
    "wetter morgen fussball ergebnis rezept kuchen film kino lied musik urlaub strand katze witz "
    "weather tomorrow football score recipe cake movie song music holiday beach cat joke pizza "
    "bitcoin stock price moon planet guitar chess poem dinosaur volcano coffee tea marathon"
)
OOS_TEMPLATES = (
    "wie wird das {x} {y}",
    "erzähl mir einen {x} über {y}",
    "was ist das beste {x} für {y}",
    "what is the {x} {y}",
    "tell me a {x} about {y}",
    "who won the {x} {y}",
    "play some {x} with {y}",
)


@dataclass(frozen=True)
class Entry:
    entry_id: str
    language: str
    verb: str
    obj: str
    detail: str


def make_entries(n: int, rng: random.Random) -> list[Entry]:
    """``n`` entries whose (verb, object) pairs are distinct; objects share their parts widely."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Entry] = []
    while len(out) < n:
        if rng.random() < 0.5:
            lang = "de"
            a, b = rng.sample(DE_PARTS, 2)
            obj = a + b
            verb = rng.choice(DE_VERBS)
            detail = rng.choice(DE_PARTS) + rng.choice(DE_PARTS)
        else:
            lang = "en"
            obj = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUNS)}"
            verb = rng.choice(EN_VERBS)
            detail = f"{rng.choice(EN_ADJ)} {rng.choice(EN_NOUNS)}"
        key = (lang, verb, obj)
        if key in seen:
            continue
        seen.add(key)
        out.append(Entry(f"e{len(out):06d}", lang, verb, obj, detail))
    return out


def render(entry: Entry, template: str) -> str:
    return template.format(v=entry.verb, a=entry.obj, b=entry.detail)


def phrasings(entry: Entry, rng: random.Random) -> list[str]:
    templates = DE_TEMPLATES if entry.language == "de" else EN_TEMPLATES
    return [render(entry, t) for t in rng.sample(templates, PHRASINGS_PER_ENTRY)]


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    letters = "abcdefghijklmnoprstuvwz"
    if kind == 0:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1 :]
    if kind == 2:  # wrong letter
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    return word[:i] + rng.choice(letters) + word[i:]  # extra letter


def perturb(entry: Entry, rng: random.Random) -> str:
    """A re-phrasing of the entry with at least one of: a typo, a dropped word, reordered words."""
    templates = DE_TEMPLATES if entry.language == "de" else EN_TEMPLATES
    text = render(entry, rng.choice(templates))
    words = text.split()
    key = set(entry.obj.split()) | set(entry.verb.split())
    ops = [op for op in ("typo", "drop", "reorder") if rng.random() < 0.5] or [rng.choice(("typo", "drop", "reorder"))]
    if "drop" in ops:
        droppable = [i for i, w in enumerate(words) if w not in key]
        if droppable and len(words) > 2:
            del words[rng.choice(droppable)]
    if "typo" in ops:
        content = [i for i, w in enumerate(words) if w in key and len(w) >= 4]
        if content:
            i = rng.choice(content)
            words[i] = typo(words[i], rng)
    if "reorder" in ops and len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def out_of_scope(rng: random.Random) -> str:
    x, y = rng.sample(OOS_WORDS, 2)
    return rng.choice(OOS_TEMPLATES).format(x=x, y=y)


def make_queries(entries: Sequence[Entry], n: int, rng: random.Random) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for _ in range(n):
        if rng.random() < OOS_SHARE:
            out.append((out_of_scope(rng), None))
        else:
            entry = rng.choice(entries)
            out.append((perturb(entry, rng), entry.entry_id))
    return out


# --- measuring one size ------------------------------------------------------------------------


log = harness.progress_logger("matcher_scale")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def percentiles(ms: Sequence[float]) -> tuple[float, float, float]:
    a = np.asarray(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), float(a.mean())


def accuracy(answers: Sequence[str | None], queries: Sequence[tuple[str, str | None]]) -> tuple[float, int]:
    scored = [(got, want) for got, (_, want) in zip(answers, queries, strict=True) if want is not None]
    return (sum(got == want for got, want in scored) / len(scored) if scored else 0.0), len(scored)


class BuildTimeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise BuildTimeout


def one_size(phrasings_wanted: int, n_queries: int, naive_large: int, epochs: int | None, work_budget: float | None, max_build_s: int) -> dict[str, Any]:
    from rapidfuzz import fuzz, process

    from bot.core.matching.matcher import Example, Matcher, TrainingParams

    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if work_budget is not None:
        overrides["work_budget"] = work_budget
    params = TrainingParams(**overrides)
    load_start = os.getloadavg()[0]

    rng = random.Random(SEED)
    n_entries = max(1, phrasings_wanted // PHRASINGS_PER_ENTRY)
    entries = make_entries(n_entries, rng)
    examples = [Example(e.entry_id, e.language, text) for e in entries for text in phrasings(e, rng)]
    all_phrasings = [ex.text for ex in examples]
    owner = [ex.entry_id for ex in examples]
    warmup = make_queries(entries, WARMUP_QUERIES, random.Random(SEED + 1))
    queries = make_queries(entries, n_queries, random.Random(SEED + 2))
    rss_data = rss_mb()
    training = {
        "training_epochs": params.epochs,
        "work_budget": params.work_budget,
        "train_work": len(examples) * len(entries),  # examples × entries, what work_budget limits
        "full_training": len(examples) * len(entries) <= params.work_budget,
    }
    log(f"{len(examples)} phrasings, {len(entries)} entries, {len(queries)} queries; building")

    start = time.perf_counter()
    if max_build_s > 0:
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(max_build_s)
    try:
        matcher = Matcher.build(examples, params=params, default_language="de")
    except BuildTimeout:
        log(f"build not finished after {max_build_s} s: giving up on this size")
        return {
            "phrasings": len(examples),
            "entries": len(entries),
            "error": f"Matcher.build did not finish within --max-build-s {max_build_s}",
            "build_s_at_least": round(time.perf_counter() - start, 1),
            **training,
            "peak_rss_mb": round(rss_mb(), 1),
            "rss_before_build_mb": round(rss_data, 1),
        }
    finally:
        signal.alarm(0)
    build_s = time.perf_counter() - start
    rss_built = rss_mb()
    log(f"built in {build_s:.1f} s ({matcher.feature_count} features); timing the project matcher")

    for text, _ in warmup:
        matcher.match(text)
    ms: list[float] = []
    answers: list[str | None] = []
    for text, _ in queries:
        t0 = time.perf_counter()
        result = matcher.match(text)
        ms.append(1000.0 * (time.perf_counter() - t0))
        answers.append(result.best.entry_id if result.best else None)
    p50, p99, mean = percentiles(ms)
    acc, scored = accuracy(answers, queries)

    naive_n = len(queries) if len(examples) <= NAIVE_FULL_UP_TO else min(naive_large, len(queries))
    naive_queries = queries[:naive_n]
    log(f"project p50 {p50:.3f} ms, p99 {p99:.3f} ms, accuracy {acc:.4f}; timing the naive scan on {naive_n} queries")
    for text, _ in warmup[:5]:
        process.extractOne(text, all_phrasings, scorer=fuzz.WRatio)
    naive_ms: list[float] = []
    naive_answers: list[str | None] = []
    for text, _ in naive_queries:
        t0 = time.perf_counter()
        hit = process.extractOne(text, all_phrasings, scorer=fuzz.WRatio)
        naive_ms.append(1000.0 * (time.perf_counter() - t0))
        naive_answers.append(owner[hit[2]] if hit else None)
    n50, n99, nmean = percentiles(naive_ms)
    nacc, nscored = accuracy(naive_answers, naive_queries)
    acc_same, _ = accuracy(answers[:naive_n], naive_queries)
    log(f"naive p50 {n50:.2f} ms, p99 {n99:.2f} ms, accuracy {nacc:.4f}")

    return {
        "phrasings": len(examples),
        "entries": len(entries),
        "features": matcher.feature_count,
        "p50_ms": round(p50, 4),
        "p99_ms": round(p99, 4),
        "mean_ms": round(mean, 4),
        "naive_p50_ms": round(n50, 3),
        "naive_p99_ms": round(n99, 3),
        "naive_mean_ms": round(nmean, 3),
        "speedup_p50": round(n50 / p50, 1) if p50 else None,
        "speedup_p99": round(n99 / p99, 1) if p99 else None,
        "build_s": round(build_s, 2),
        **training,
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_before_build_mb": round(rss_data, 1),
        "rss_after_build_mb": round(rss_built, 1),
        "accuracy": round(acc, 4),
        "naive_accuracy": round(nacc, 4),
        "accuracy_on_naive_queries": round(acc_same, 4),
        "queries": len(queries),
        "in_scope_queries": scored,
        "naive_queries": naive_n,
        "naive_in_scope_queries": nscored,
        "naive_sampled": naive_n < len(queries),
        "load_avg_1m_start": round(load_start, 2),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
    }


# --- driver ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of example phrasings")
    parser.add_argument("--queries", type=int, default=1000, help="timed queries per size (~15 %% out of scope)")
    parser.add_argument("--naive-queries-large", type=int, default=200, help=f"queries for the naive scan above {NAIVE_FULL_UP_TO} phrasings")
    parser.add_argument("--epochs", type=int, help="override TrainingParams.epochs (default: the matcher's own default)")
    parser.add_argument("--work-budget", type=float, help="override TrainingParams.work_budget (e.g. 1e12: always train fully)")
    parser.add_argument("--max-build-s", type=int, default=1800, help="give up on a size whose Matcher.build takes longer (0: no limit)")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one_size is not None:
        print(json.dumps(one_size(args.one_size, args.queries, args.naive_queries_large, args.epochs, args.work_budget, args.max_build_s)))
        return 0

    wall = time.perf_counter()
    sizes: list[dict[str, Any]] = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        cmd = [sys.executable, __file__, "--one-size", str(size), "--queries", str(args.queries)]
        cmd += ["--naive-queries-large", str(args.naive_queries_large), "--max-build-s", str(args.max_build_s)]
        if args.epochs is not None:
            cmd += ["--epochs", str(args.epochs)]
        if args.work_budget is not None:
            cmd += ["--work-budget", str(args.work_budget)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        wall_s = round(time.perf_counter() - t0, 1)
        if proc.returncode != 0:
            sizes.append({"phrasings": size, "error": f"subprocess exited {proc.returncode} after {wall_s} s"})
            continue
        row = json.loads(proc.stdout)
        row["subprocess_wall_s"] = wall_s
        sizes.append(row)

    def at(n: int) -> dict[str, Any] | None:
        return next((r for r in sizes if r.get("phrasings") == n and "p99_ms" in r), None)

    checks: dict[str, bool | None] = {
        "p99_ms_10k": (r["p99_ms"] <= TARGETS["p99_ms_10k"]) if (r := at(10_000)) else None,
        "p99_ms_100k": (r["p99_ms"] <= TARGETS["p99_ms_100k"]) if (r := at(100_000)) else None,
        "speedup_10k": (r["speedup_p50"] >= TARGETS["speedup_10k"]) if (r := at(10_000)) else None,
    }
    out = {
        "benchmark": "matcher_scale",
        "seed": SEED,
        "phrasings_per_entry": PHRASINGS_PER_ENTRY,
        "baseline": "rapidfuzz.process.extractOne(query, all_phrasings, scorer=fuzz.WRatio)",
        "cpu_count": os.cpu_count(),
        "latency_mode": "single unbatched Matcher.match(text) calls, language detected; after a warm-up of separate queries",
        "sizes": sizes,
        "targets": TARGETS,
        "target_checks": checks,
    }
    return harness.print_result(out, wall, indent=2)


if __name__ == "__main__":
    sys.exit(main())
