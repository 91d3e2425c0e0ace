"""`buergerbot report usage`: which entries are answered, on which channel, in which language and by which profile,
how often the bot had no answer, and how often offered choices were taken.

The database does the counting (one GROUP BY over the window), so a year of events costs one
query, not a year of rows in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.reports.since import iso
from bot.storage.database import as_utc
from bot.storage.tables import UsageEventRow


@dataclass
class Totals:
    answers: int = 0
    out_of_scope: int = 0
    offers: int = 0  # "Meinten Sie …?" offers (each with two or three entries)
    menus: int = 0  # the popular-topics menu shown
    choices_taken: int = 0  # a choice taken from an offer or a menu

    @property
    def questions(self) -> int:
        """Replies to typed messages: answers not reached through a choice, offers and fallbacks."""
        return max(self.answers - self.choices_taken, 0) + self.offers + self.out_of_scope

    @property
    def out_of_scope_share(self) -> float | None:
        return self.out_of_scope / self.questions if self.questions else None

    @property
    def choice_rate(self) -> float | None:
        shown = self.offers + self.menus
        return self.choices_taken / shown if shown else None

    def add(self, kind: str, first_of_offer: bool, n: int) -> None:
        if kind == "answer":
            self.answers += n
        elif kind == "out_of_scope":
            self.out_of_scope += n
        elif kind == "chosen":
            self.choices_taken += n
        elif kind == "offered" and first_of_offer:
            self.offers += n
        elif kind == "menu" and first_of_offer:
            self.menus += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "out_of_scope": self.out_of_scope,
            "out_of_scope_share": _rounded(self.out_of_scope_share),
            "offers": self.offers,
            "menus": self.menus,
            "choices_taken": self.choices_taken,
            "choice_rate": _rounded(self.choice_rate),
        }


@dataclass
class EntryUsage:
    entry_id: str
    answers: int = 0
    channels: Counter[str] = field(default_factory=Counter)  # answers by channel
    languages: Counter[str] = field(default_factory=Counter)  # answers by language
    offered: int = 0  # in a "Meinten Sie …?" offer
    chosen: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry_id,
            "answers": self.answers,
            "channels": dict(self.channels.most_common()),
            "languages": dict(self.languages.most_common()),
            "offered": self.offered,
            "chosen": self.chosen,
        }


@dataclass
class UsageReport:
    since: dt.datetime
    until: dt.datetime
    totals: Totals = field(default_factory=Totals)
    channels: dict[str, Totals] = field(default_factory=dict)
    languages: dict[str, Totals] = field(default_factory=dict)
    profiles: dict[str, Totals] = field(default_factory=dict)
    entries: dict[str, EntryUsage] = field(default_factory=dict)

    def top(self, n: int | None = None) -> list[EntryUsage]:
        ranked = sorted(self.entries.values(), key=lambda e: (-e.answers, -e.chosen, -e.offered, e.entry_id))
        return ranked if n is None else ranked[:n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "totals": self.totals.as_dict(),
            "channels": {k: t.as_dict() for k, t in sorted(self.channels.items())},
            "languages": {k: t.as_dict() for k, t in sorted(self.languages.items())},
            "profiles": {k: t.as_dict() for k, t in sorted(self.profiles.items())},
            "entries": [e.as_dict() for e in self.top()],
        }


def usage_report(engine: Engine, since: dt.datetime, until: dt.datetime) -> UsageReport:
    e = UsageEventRow
    first = e.position == 0
    stmt = (
        select(e.kind, e.entry_id, e.channel, e.language, e.profile, first, func.count())
        .where(e.at >= as_utc(since), e.at <= as_utc(until))
        .group_by(e.kind, e.entry_id, e.channel, e.language, e.profile, first)
    )
    report = UsageReport(since, until)
    with Session(engine) as s:
        rows = s.execute(stmt).all()
    for kind, entry_id, channel, language, profile, is_first, n in rows:
        report.totals.add(kind, bool(is_first), n)
        report.channels.setdefault(channel, Totals()).add(kind, bool(is_first), n)
        report.languages.setdefault(language, Totals()).add(kind, bool(is_first), n)
        report.profiles.setdefault(profile, Totals()).add(kind, bool(is_first), n)
        if entry_id is None or kind == "menu":
            continue
        entry = report.entries.setdefault(entry_id, EntryUsage(entry_id))
        if kind == "answer":
            entry.answers += n
            entry.channels[channel] += n
            entry.languages[language] += n
        elif kind == "offered":
            entry.offered += n
        elif kind == "chosen":
            entry.chosen += n
    return report


def as_table(report: UsageReport, zone: dt.tzinfo, top: int = 20) -> str:
    t = report.totals
    share = f" ({t.out_of_scope_share:.1%} of questions)" if t.out_of_scope_share is not None else ""
    rate = f" ({t.choice_rate:.1%} of offers and menus)" if t.choice_rate is not None else ""
    lines = [
        f"Usage since {report.since.astimezone(zone):%Y-%m-%d %H:%M}",
        f"  answers: {t.answers}, out of scope: {t.out_of_scope}{share}",
        f"  \"did you mean\" offers: {t.offers}, menus shown: {t.menus}, choices taken: {t.choices_taken}{rate}",
    ]
    for title, groups in (("By channel", report.channels), ("By language", report.languages), ("By profile", report.profiles)):
        if groups:
            lines.append(f"{title}: " + "; ".join(f"{k} {g.answers} answers, {g.out_of_scope} out of scope" for k, g in sorted(groups.items())))
    entries = report.top(top)
    if not entries:
        return "\n".join(lines)
    channels, languages = sorted(report.channels), sorted(report.languages)
    columns = [*channels, *languages]
    width = max([len("entry"), *(len(e.entry_id) for e in entries)])
    lines += ["", f"Top {len(entries)} entries", f"{'entry':<{width}} {'answers':>7} " + " ".join(f"{c:>9}" for c in columns) + f" {'offered':>7} {'chosen':>6}"]
    for e in entries:
        counts = [e.channels[c] for c in channels] + [e.languages[lang] for lang in languages]
        lines.append(f"{e.entry_id:<{width}} {e.answers:>7} " + " ".join(f"{n:>9}" for n in counts) + f" {e.offered:>7} {e.chosen:>6}")
    return "\n".join(lines)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
