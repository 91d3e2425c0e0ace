"""What the benchmark scripts in ``benchmarks/`` share: set-up, measuring, summing up and printing.

Importing it puts the repository root (``REPO``) on ``sys.path``, so that ``bot`` and ``tests.*``
import when a script runs as ``python benchmarks/<name>.py``. A script imports it so that both
that and ``python -m benchmarks.<name>`` work::

    if __package__:  # python -m benchmarks.<name>
        from benchmarks import harness
    else:  # python benchmarks/<name>.py: benchmarks/ is sys.path[0]
        import harness  # type: ignore[no-redef]

What it offers:

* command line, progress and output: ``argument_parser`` (with ``--json``),
  ``progress_logger`` (``[name] …`` lines on stderr; stdout is for the result) and
  ``print_result`` (adds ``wall_s``, prints the one JSON object);
* measuring: ``cpu_seconds`` (this process), ``process_cpu_seconds`` (another one, by pid),
  ``note_load``/``load_avg_1m`` (the 1-minute load average before and after a run on this shared
  machine), ``profiled`` (cProfile a block on request, write it and log the top functions);
* statistics: ``percentile`` (nearest rank), ``rounded``, ``latency_percentiles`` (the
  ``p50_ms``/``p99_ms`` keys of a summary);
* the channel benchmarks (Bürgerbot against a bare echo bot): ``add_channel_arguments``
  (``--seed``, ``--database-url``), ``musterstadt_knowledge``, ``production_dialogue``,
  ``question_mix`` (the citizens' questions they send, ``QUESTION_SEED``), ``abba_rounds``
  (which bot goes when), and ``Comparison`` (rounds combined by ``combine_rounds``, the ratio of
  the rates, the headline keys of the result).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.core.dialogue import Dialogue
    from bot.core.live import LiveKnowledge

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `bot` and `tests.*` when a script runs as `python benchmarks/<name>.py`

BOTS = ("buergerbot", "echo")  # the bot under test and the baseline of the channel benchmarks
QUESTION_SEED = 20260501  # the default seed of question_mix: both channel benchmarks send the same questions

Progress = Callable[[str], None]


# --- progress and output -----------------------------------------------------------------------


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser described by the first line of the script's docstring, with the ``--json`` flag."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object (the only output format)")
    return parser


def progress_logger(name: str) -> Progress:
    """A function that writes ``[name] message`` to stderr at once."""

    def progress(message: str) -> None:
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return progress


def print_result(result: dict[str, Any], began: float, indent: int | None = None) -> int:
    """Add ``wall_s`` (seconds since ``began``, a ``time.perf_counter()``) as the last key, print the
    result as one JSON object to stdout; return the exit code 0."""
    result["wall_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result, ensure_ascii=False, indent=indent))
    return 0


# --- measuring ---------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int | None) -> float:
    """utime + stime of another process (Linux /proc), 0 where unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def note_load(progress: Progress) -> float:
    """The 1-minute load average now; says so on stderr when other processes already load the machine."""
    load = os.getloadavg()[0]
    if load > 0.5:
        progress(f"note: 1-minute load average is {load:.2f} before the run; other processes share the 2 cores")
    return load


def load_avg_1m(before: float) -> dict[str, float]:
    """The ``load_avg_1m`` entry of a result: ``before`` (from ``note_load``) and now."""
    return {"before": round(before, 2), "after": round(os.getloadavg()[0], 2)}


@contextlib.contextmanager
def profiled(path: str | None, progress: Progress, what: str, lines: int) -> Iterator[None]:
    """cProfile this process during the block if ``path`` is given: write the profile there and log
    ``what`` with the ``lines`` functions of the highest cumulative time. Without ``path``: nothing."""
    if not path:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
    profiler.dump_stats(path)
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(lines)
    progress(f"{what} written to {path}\n{report.getvalue()}")


# --- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def latency_percentiles(ms: Sequence[float], prefix: str = "") -> dict[str, float | None]:
    """``{prefix}p50_ms`` and ``{prefix}p99_ms`` of latencies in milliseconds, to 0.1 ms."""
    return {f"{prefix}p50_ms": rounded(percentile(ms, 50)), f"{prefix}p99_ms": rounded(percentile(ms, 99))}


# --- the channel benchmarks: Bürgerbot against a bare echo bot ----------------------------------


def add_channel_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seed`` (of the question mix) and ``--database-url`` (of Bürgerbot)."""
    parser.add_argument("--seed", type=int, default=QUESTION_SEED)
    parser.add_argument("--database-url", help="the bot's database (default: a new SQLite file in a temporary folder, as shipped)")


def musterstadt_knowledge(progress: Progress) -> LiveKnowledge:
    """The default Musterstadt knowledge as shipped (``faq/`` and ``intents/``), with the sentence
    encoder as configured (by default used when installed; ``BUERGERBOT_MATCHING__ENCODER=off``
    measures without it)."""
    from bot.config import Settings
    from bot.core.live import LiveKnowledge
    from bot.semantic.configured import configured_encoder

    progress("loading the Musterstadt knowledge")
    return LiveKnowledge([REPO / "faq", REPO / "intents"], encoder=configured_encoder(Settings().matching.encoder))


def production_dialogue(live: LiveKnowledge, data_dir: Path, database_url: str | None) -> Dialogue:
    """The production ``Dialogue`` over ``live`` with the demo city's settings (its holidays, menu and
    phone office); its database is ``database_url`` or, as shipped, a new SQLite file in ``data_dir``."""
    import tomllib

    from bot.config import Settings
    from bot.demo import SETTINGS_FILE
    from bot.wiring import build_dialogue, open_storage

    demo_city = tomllib.loads(SETTINGS_FILE.read_text(encoding="utf-8"))
    settings = Settings(**{**demo_city, "data_dir": data_dir, "database_url": database_url or f"sqlite:///{data_dir / 'buergerbot.db'}"})
    return build_dialogue(settings, live, open_storage(settings))


def question_mix(live: LiveKnowledge, n: int, seed: int) -> list[tuple[str, str]]:
    """n (text, language) pairs: half citizens' phrasings from ``tests/data/musterstadt_eval.jsonl``
    (German), half the knowledge base's example questions (German and English); fixed by ``seed``."""
    eval_texts = [json.loads(line)["text"] for line in (REPO / "tests/data/musterstadt_eval.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    kb_questions = [(q, lang) for entry in live.snapshot.knowledge.entries.values() for lang, t in entry.texts.items() for q in t.questions]
    rng = random.Random(seed)
    return [(rng.choice(eval_texts), "de") if rng.random() < 0.5 else rng.choice(kb_questions) for _ in range(n)]


def abba_rounds(rounds: int, profile_prefix: str | None) -> Iterator[tuple[int, str, str | None]]:
    """(round, bot, cProfile file or None) for each measured phase: the bots alternate which goes
    first (ABBA, against drift); each bot is profiled in the first round if a prefix is given."""
    for r in range(rounds):
        for name in BOTS if r % 2 == 0 else BOTS[::-1]:
            yield r, name, f"{profile_prefix}.{name}.prof" if profile_prefix and r == 0 else None


def combine_rounds(results: Sequence[Mapping[str, Any]], counts: Collection[str]) -> dict[str, Any]:
    """One summary from the rounds' summaries, in their key order: the ``counts`` summed, flags
    or-ed, everything else the median (to 3 digits) of the rounds' numbers; each round's rate listed
    as ``rounds_answered_per_s``."""
    out: dict[str, Any] = {}
    for key in results[0]:
        values = [r[key] for r in results]
        if key in counts:
            out[key] = sum(values)
        elif all(isinstance(v, bool) for v in values):
            out[key] = any(values)
        else:
            numbers = [v for v in values if v is not None]
            out[key] = rounded(statistics.median(numbers), 3) if numbers else None
    out["rounds_answered_per_s"] = [r["answered_per_s"] for r in results]
    return out


@dataclass(frozen=True)
class Comparison:
    """Bürgerbot's and the echo bot's rounds, each combined, and the ratio of their answer rates."""

    buergerbot: dict[str, Any]
    echo: dict[str, Any]
    ratio: float | None  # answered_per_s / echo_answered_per_s, unrounded; None without both rates

    @classmethod
    def of(cls, results: Mapping[str, Sequence[Mapping[str, Any]]], counts: Collection[str]) -> Comparison:
        main, echo = combine_rounds(results["buergerbot"], counts), combine_rounds(results["echo"], counts)
        ratio = main["answered_per_s"] / echo["answered_per_s"] if main["answered_per_s"] and echo["answered_per_s"] else None
        return cls(main, echo, ratio)

    def headline(self) -> dict[str, Any]:
        """The first keys of a channel benchmark's result: both rates, their ratio, both p50/p99."""
        main, echo = self.buergerbot, self.echo
        return {
            "answered_per_s": main["answered_per_s"],
            "echo_answered_per_s": echo["answered_per_s"],
            "ratio": rounded(self.ratio, 3),
            "p50_ms": main["p50_ms"],
            "p99_ms": main["p99_ms"],
            "echo_p50_ms": echo["p50_ms"],
            "echo_p99_ms": echo["p99_ms"],
        }
