"""`buergerbot report stale`: entries due for review, past their end date, or with broken links."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.knowledge import MARKDOWN_LINK, KnowledgeBase
from bot.core.models import Entry
from bot.reports.links import LinkCheck


@dataclass(frozen=True)
class Finding:
    reason: str  # never_reviewed | review_overdue | expired | broken_link
    detail: str
    url: str | None = None


@dataclass
class StaleEntry:
    entry: Entry
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "id": e.id,
            "source": e.source,
            "owner": e.owner,
            "last_reviewed": e.last_reviewed.isoformat() if e.last_reviewed else None,
            "valid_until": e.valid_until.isoformat() if e.valid_until else None,
            "problems": [{"reason": f.reason, "detail": f.detail, **({"url": f.url} if f.url else {})} for f in self.findings],
        }


def entry_links(entry: Entry) -> list[str]:
    """The entry's link buttons and the web links inside its answers, each once."""
    urls = [link.url for link in entry.links]
    for text in entry.texts.values():
        urls += [m.group(2) for m in MARKDOWN_LINK.finditer(text.answer) if m.group(2).startswith(("http://", "https://"))]
    return list(dict.fromkeys(urls))


def all_links(kb: KnowledgeBase) -> list[str]:
    return list(dict.fromkeys(url for entry in kb.entries.values() for url in entry_links(entry)))


def stale_entries(kb: KnowledgeBase, today: dt.date, review_after_days: int, links: Mapping[str, LinkCheck] | None = None) -> list[StaleEntry]:
    """Entries that need attention, in file order. ``links``: results of a link check, if one ran."""
    out = []
    for entry in sorted(kb.entries.values(), key=_file_order):
        findings = []
        if entry.last_reviewed is None:
            findings.append(Finding("never_reviewed", "no last_reviewed date"))
        elif (age := (today - entry.last_reviewed).days) > review_after_days:
            findings.append(Finding("review_overdue", f"last reviewed {entry.last_reviewed.isoformat()}, {age} days ago"))
        if entry.valid_until is not None and entry.valid_until < today:
            findings.append(Finding("expired", f"valid_until {entry.valid_until.isoformat()} has passed"))
        if links is not None:
            broken = [links[url] for url in entry_links(entry) if url in links and not links[url].ok]
            findings += [Finding("broken_link", str(check.error), check.url) for check in broken]
        if findings:
            out.append(StaleEntry(entry, findings))
    return out


def as_json(stale: list[StaleEntry], kb: KnowledgeBase, today: dt.date, review_after_days: int, links_checked: int | None) -> dict[str, Any]:
    return {
        "today": today.isoformat(),
        "review_after_days": review_after_days,
        "entries_checked": len(kb.entries),
        "links_checked": links_checked,
        "entries": [s.as_dict() for s in stale],
    }


def as_lines(stale: list[StaleEntry], kb: KnowledgeBase, links_checked: int | None) -> str:
    """One `path:line: id: problem` line per finding, like `faq validate`, then a summary."""
    lines = []
    for s in stale:
        owner = f" (owner: {s.entry.owner})" if s.entry.owner else ""
        for f in s.findings:
            what = f"broken link {f.url}: {f.detail}" if f.url else f.detail
            lines.append(f"{s.entry.source}: {s.entry.id}: {what}{owner}")
    checked = f", {links_checked} links checked" if links_checked is not None else " (links not checked; add --check-links)"
    lines.append(f"{len(stale)} of {len(kb.entries)} entries need attention{checked}")
    return "\n".join(lines)


def _file_order(entry: Entry) -> tuple[str, int]:
    path, line = entry.source.rsplit(":", 1)
    return path, int(line)
