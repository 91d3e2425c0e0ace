"""`buergerbot report unanswered`: what the bot could not answer, grouped into similar questions.

Questions are compared folded (case, umlauts, punctuation) with rapidfuzz's token_set_ratio, so
word order and extra words do not split a group ("Wann ist Vollmond?" / "vollmond wann" / "wann ist
der nächste Vollmond"). Grouping is leader clustering over the distinct folded texts, most asked
first: each text joins the first group whose leader is similar enough, else leads a new group.
Unlike connected components it does not chain unrelated questions through one bridging question.

A group whose question a hand-over's draft entry (bot.handover.drafts) already answers links to
that draft, and the report ends with the drafts waiting for review: the answer is written, it
only needs a staff member to check it and move it into the knowledge.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.core.live import Snapshot
from bot.core.matching.normalise import fold
from bot.handover.drafts import Draft
from bot.reports.since import iso
from bot.storage.database import as_utc
from bot.storage.tables import UnansweredRow

SIMILARITY = 70.0  # token_set_ratio (0..100) from which two questions count as the same question
EXAMPLES = 5


@dataclass(frozen=True)
class Question:
    text: str
    language: str
    channel: str
    asked_at: dt.datetime


@dataclass(frozen=True)
class Nearest:
    entry_id: str
    title: str
    score: float
    answered_now: bool  # the knowledge has changed since: this question is answered today


@dataclass
class Cluster:
    questions: list[Question]
    examples: list[str]  # distinct texts, the most asked first
    nearest: Nearest | None = None
    drafts: list[Draft] = field(default_factory=list)  # drafts whose example question is this group's
    languages: Counter[str] = field(init=False)
    channels: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.languages = Counter(q.language for q in self.questions)
        self.channels = Counter(q.channel for q in self.questions)

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def language(self) -> str:
        return self.languages.most_common(1)[0][0]

    @property
    def first_asked(self) -> dt.datetime:
        return min(q.asked_at for q in self.questions)

    @property
    def last_asked(self) -> dt.datetime:
        return max(q.asked_at for q in self.questions)

    def as_dict(self) -> dict[str, Any]:
        nearest = None
        if self.nearest is not None:
            n = self.nearest
            nearest = {"id": n.entry_id, "title": n.title, "score": round(n.score, 4), "answered_now": n.answered_now}
        return {
            "count": self.count,
            "languages": dict(self.languages.most_common()),
            "channels": dict(self.channels.most_common()),
            "first_asked": iso(self.first_asked),
            "last_asked": iso(self.last_asked),
            "examples": self.examples,
            "nearest": nearest,
            "drafts": [str(d.path) for d in self.drafts],
        }


def load_unanswered(engine: Engine, since: dt.datetime) -> list[Question]:
    with Session(engine) as s:
        rows = s.execute(
            select(UnansweredRow.text, UnansweredRow.language, UnansweredRow.channel, UnansweredRow.asked_at)
            .where(UnansweredRow.asked_at >= as_utc(since))
        ).all()
    return [Question(text, language, channel, as_utc(asked_at)) for text, language, channel, asked_at in rows]


def cluster_questions(questions: Sequence[Question], similarity: float = SIMILARITY) -> list[Cluster]:
    """Similar questions grouped, the biggest group first."""
    same: dict[str, list[Question]] = {}
    for q in questions:
        same.setdefault(fold(q.text) or q.text.strip(), []).append(q)
    leaders: list[str] = []
    groups: list[list[str]] = []
    for key in sorted(same, key=lambda k: (-len(same[k]), k)):
        hit = process.extractOne(key, leaders, scorer=fuzz.token_set_ratio, score_cutoff=similarity) if leaders else None
        if hit is None:
            leaders.append(key)
            groups.append([key])
        else:
            groups[hit[2]].append(key)
    clusters = []
    for keys in groups:
        members = [q for key in keys for q in same[key]]
        # keys are already most-asked first; show each folded text as it was most often written
        examples = [Counter(q.text for q in same[key]).most_common(1)[0][0] for key in keys[:EXAMPLES]]
        clusters.append(Cluster(members, examples))
    clusters.sort(key=lambda c: (-c.count, -c.last_asked.timestamp()))
    return clusters


def add_nearest(clusters: Sequence[Cluster], snapshot: Snapshot, threshold: float) -> None:
    """The existing entry the matcher finds closest to each group's most asked question."""
    for cluster in clusters:
        best = snapshot.matcher.match(cluster.examples[0], cluster.language).best
        entry = snapshot.knowledge.entries.get(best.entry_id) if best else None
        if best is not None and entry is not None:
            cluster.nearest = Nearest(entry.id, entry.text(cluster.language).title, best.score, best.score >= threshold)


def add_drafts(clusters: Sequence[Cluster], drafts: Sequence[Draft]) -> None:
    """Link each group to the drafts one of its questions is an example question of."""
    for cluster in clusters:
        cluster.drafts = [d for d in drafts if any(d.matches(text) for text in cluster.examples)]


def as_json(clusters: Sequence[Cluster], since: dt.datetime, until: dt.datetime, drafts: Sequence[Draft] = ()) -> dict[str, Any]:
    return {
        "since": iso(since),
        "until": iso(until),
        "questions": sum(c.count for c in clusters),
        "clusters": [c.as_dict() for c in clusters],
        "drafts_waiting": [{"path": str(d.path), "entries": list(d.entry_ids), "questions": list(d.questions)} for d in drafts],
    }


def as_table(clusters: Sequence[Cluster], since: dt.datetime, zone: dt.tzinfo, drafts: Sequence[Draft] = ()) -> str:
    total = sum(c.count for c in clusters)
    head = f"Unanswered questions since {since.astimezone(zone):%Y-%m-%d %H:%M}: {total} in {len(clusters)} groups"
    waiting = _drafts_waiting(drafts)
    if not clusters:
        return "\n".join([head, *waiting])
    lines = [head, "", f"{'#':>3} {'count':>5}  {'languages':<12} {'channels':<20} nearest entry (score)"]
    for no, c in enumerate(clusters, 1):
        langs = ", ".join(f"{k} {v}" for k, v in c.languages.most_common())
        channels = ", ".join(f"{k} {v}" for k, v in c.channels.most_common())
        nearest = "-"
        if c.nearest is not None:
            nearest = f"{c.nearest.entry_id} ({c.nearest.score:.2f}{', answered now' if c.nearest.answered_now else ''})"
        lines.append(f"{no:>3} {c.count:>5}  {langs:<12} {channels:<20} {nearest}")
        lines.extend(f"{'':>11}“{_short(text)}”" for text in c.examples)
        lines.extend(f"{'':>11}draft waiting for review: {d.path}" for d in c.drafts)
    return "\n".join([*lines, *waiting])


def _drafts_waiting(drafts: Sequence[Draft]) -> list[str]:
    if not drafts:
        return []
    lines = ["", f"Drafts from hand-overs waiting for review ({len(drafts)}; not live until moved into a knowledge folder):"]
    for d in drafts:
        lines.append(f"  {d.path}" + (f"  “{_short(d.questions[0], 80)}”" if d.questions else ""))
    return lines


def _short(text: str, width: int = 100) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"
