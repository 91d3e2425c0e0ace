"""The draft knowledge entries `!faq` writes from closed hand-overs, as staff review them.

A draft is an ordinary entry file in the drafts folder (``[handover] drafts_dir``), outside the
knowledge folders: nothing in it goes live until a staff member moves it into ``faq/``. This
module finds the drafts waiting, checks them on their own (``buergerbot faq validate``) and tells
which of them answer a question the bot could not (``buergerbot report unanswered``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from bot.core.knowledge import KnowledgeLimits, knowledge_files, load_knowledge
from bot.core.matching.normalise import fold
from bot.core.models import Problem

# token_set_ratio (0..100) from which a reported question counts as a draft's example question;
# the same bar as two unanswered questions counting as one (bot.reports.unanswered.SIMILARITY).
DRAFT_SIMILARITY = 70.0


@dataclass(frozen=True)
class Draft:
    path: Path
    entry_ids: tuple[str, ...]
    questions: tuple[str, ...]  # the example questions, all languages

    def matches(self, asked: str, similarity: float = DRAFT_SIMILARITY) -> bool:
        folded = fold(asked)
        return bool(folded) and any(fuzz.token_set_ratio(folded, fold(q)) >= similarity for q in self.questions if fold(q))


def waiting_drafts(folder: Path) -> list[Draft]:
    """The drafts in ``folder`` (none when it does not exist), by path. A file that does not parse
    is still listed, without questions: it waits for review all the same."""
    drafts = []
    for path in knowledge_files([folder]):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            document = None
        drafts.append(Draft(path, *_ids_and_questions(document)))
    return drafts


def _ids_and_questions(document: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    entries = document.get("entries") if isinstance(document, dict) else None
    ids: list[str] = []
    questions: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("id"), str):
            ids.append(entry["id"])
        for texts in entry.values():
            asked = texts.get("questions") if isinstance(texts, dict) else None
            questions += [q for q in asked if isinstance(q, str)] if isinstance(asked, list) else []
    return tuple(ids), tuple(questions)


@dataclass(frozen=True)
class DraftCheck:
    drafts: list[Draft]
    problems: list[Problem]  # each draft as it would load into the knowledge, plus where it stands
    inside_knowledge: Path | None  # the knowledge folder the drafts folder lies in: its drafts are live


def check_drafts(folder: Path, knowledge_dirs: Sequence[Path], live_ids: Sequence[str], languages: Sequence[str],
                 limits: KnowledgeLimits | None = None) -> DraftCheck:
    """The drafts folder checked by itself: what a draft still needs before it can go live (its
    problems as a knowledge file), an id that a live entry has already, and a drafts folder inside
    a knowledge folder, whose drafts would be live unreviewed."""
    drafts = waiting_drafts(folder)
    problems: list[Problem] = []
    inside = next((d for d in knowledge_dirs if folder.resolve().is_relative_to(d.resolve())), None)
    if inside is not None:
        problems.append(Problem(str(folder), 0, f"the drafts folder is inside the knowledge folder {inside}: its drafts are live "
                                                "without review; set [handover] drafts_dir to a folder outside it"))
    if drafts:
        problems += load_knowledge([folder], languages, limits).problems
    taken = set(live_ids)
    for draft in drafts:
        problems += [Problem(str(draft.path), 0, f"entry {entry_id!r} is live already: merge the draft into it or give it another id")
                     for entry_id in draft.entry_ids if entry_id in taken]
    return DraftCheck(drafts, problems, inside)
