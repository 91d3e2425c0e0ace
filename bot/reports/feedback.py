"""`buergerbot report feedback`: how citizens rated each entry's answers, the worst first.

"Worst" is the lower bound of the Wilson score interval for the share of 👎 (95 %): how bad the
entry is at least, given how many voted. An entry with one 👎 is less certainly bad than one with
30 👎 against 10 👍, and both rank above an entry rated well by many. The database counts (one GROUP BY over the window); the latest comments come from a
window function, a few per entry, so a year of votes is never loaded into memory.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.reports.since import iso
from bot.storage.database import as_utc
from bot.storage.tables import AnswerFeedbackRow

COMMENTS = 5  # latest "what was missing?" texts shown per entry
_Z = 1.96  # 95 % confidence


@dataclass(frozen=True)
class Comment:
    text: str
    language: str
    at: dt.datetime


@dataclass
class EntryFeedback:
    entry_id: str
    up: int = 0
    down: int = 0
    languages: Counter[str] = field(default_factory=Counter)  # votes by language
    channels: Counter[str] = field(default_factory=Counter)  # votes by channel
    comments: list[Comment] = field(default_factory=list)  # newest first

    @property
    def votes(self) -> int:
        return self.up + self.down

    @property
    def up_share(self) -> float | None:
        return self.up / self.votes if self.votes else None

    @property
    def down_floor(self) -> float:
        """Wilson lower bound of the 👎 share: high when many say it did not help."""
        n = self.votes
        if not n:
            return 0.0
        p = self.down / n
        centre = p + _Z * _Z / (2 * n)
        spread = _Z * math.sqrt(p * (1 - p) / n + _Z * _Z / (4 * n * n))
        return (centre - spread) / (1 + _Z * _Z / n)

    def as_dict(self) -> dict[str, Any]:
        share = self.up_share
        return {
            "id": self.entry_id,
            "up": self.up,
            "down": self.down,
            "up_share": None if share is None else round(share, 4),
            "languages": dict(self.languages.most_common()),
            "channels": dict(self.channels.most_common()),
            "comments": [{"text": c.text, "language": c.language, "at": iso(c.at)} for c in self.comments],
        }


@dataclass
class FeedbackReport:
    since: dt.datetime
    until: dt.datetime
    entries: list[EntryFeedback]  # worst first

    @property
    def up(self) -> int:
        return sum(e.up for e in self.entries)

    @property
    def down(self) -> int:
        return sum(e.down for e in self.entries)

    def as_dict(self) -> dict[str, Any]:
        return {"since": iso(self.since), "until": iso(self.until), "up": self.up, "down": self.down,
                "entries": [e.as_dict() for e in self.entries]}


def feedback_report(engine: Engine, since: dt.datetime, until: dt.datetime, comments: int = COMMENTS) -> FeedbackReport:
    f = AnswerFeedbackRow
    window = (f.at >= as_utc(since), f.at <= as_utc(until))
    counts = select(f.entry_id, f.vote, f.language, f.channel, func.count()).where(*window).group_by(f.entry_id, f.vote, f.language, f.channel)
    newest = func.row_number().over(partition_by=f.entry_id, order_by=(f.at.desc(), f.id.desc())).label("newest")
    ranked = select(f.entry_id, f.missing, f.language, f.at, newest).where(*window, f.missing.is_not(None)).subquery()
    latest = select(ranked.c.entry_id, ranked.c.missing, ranked.c.language, ranked.c.at).where(ranked.c.newest <= comments) \
        .order_by(ranked.c.entry_id, ranked.c.newest)
    by_entry: dict[str, EntryFeedback] = {}
    with Session(engine) as s:
        for entry_id, vote, language, channel, n in s.execute(counts):
            entry = by_entry.setdefault(entry_id, EntryFeedback(entry_id))
            if vote == "up":
                entry.up += n
            elif vote == "down":
                entry.down += n
            else:
                continue  # a "what was missing?" note: a comment below, no vote of its own
            entry.languages[language] += n
            entry.channels[channel] += n
        for entry_id, text, language, at in s.execute(latest):
            by_entry.setdefault(entry_id, EntryFeedback(entry_id)).comments.append(Comment(text, language, as_utc(at)))
    ranked_entries = sorted(by_entry.values(), key=lambda e: (-e.down_floor, -e.down, e.entry_id))
    return FeedbackReport(since, until, ranked_entries)


def as_table(report: FeedbackReport, zone: dt.tzinfo) -> str:
    head = f"Feedback since {report.since.astimezone(zone):%Y-%m-%d %H:%M}: {report.up} up, {report.down} down"
    if not report.entries:
        return head
    width = max([len("entry"), *(len(e.entry_id) for e in report.entries)])
    lines = [head, "", f"{'entry':<{width}} {'up':>5} {'down':>5} {'up share':>8}  latest comments"]
    for e in report.entries:
        share = f"{e.up_share:.0%}" if e.up_share is not None else "-"
        lines.append(f"{e.entry_id:<{width}} {e.up:>5} {e.down:>5} {share:>8}")
        lines.extend(f"{'':>{width + 22}}“{c.text}” ({c.language}, {c.at.astimezone(zone):%Y-%m-%d})" for c in e.comments)
    return "\n".join(lines)
