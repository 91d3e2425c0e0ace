"""The knowledge the bot answers from right now, replaced only by knowledge that validated."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.core.knowledge import KnowledgeBase, KnowledgeLimits, fingerprint
from bot.core.matching.matcher import Matcher
from bot.core.matching.semantic import SentenceEncoder
from bot.core.models import Problem
from bot.core.validation import Checked, check

log = logging.getLogger(__name__)

# A file with an error on every line must not flood the log on every reload attempt.
MAX_LOGGED_PROBLEMS = 20


@dataclass(frozen=True)
class Snapshot:
    knowledge: KnowledgeBase
    matcher: Matcher


class InvalidKnowledge(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


class Build(Protocol):
    """Load, validate and build the matcher: :func:`bot.core.validation.check`, or a cache around it."""

    def __call__(
        self, dirs: Sequence[Path], languages: Sequence[str] = ..., held_out: bool = ..., encoder: SentenceEncoder | None = ...,
        limits: KnowledgeLimits | None = ..., cross_lingual: SentenceEncoder | None = ...,
    ) -> Checked: ...


class LiveKnowledge:
    """Holds the current snapshot; :meth:`refresh` swaps in changed files if they are valid.

    A snapshot is immutable and swapped by one assignment, so a message being answered during a
    reload sees either the old or the new knowledge, never a mix.
    """

    def __init__(
        self, dirs: Sequence[Path], languages: Sequence[str] = ("de", "en"), encoder: SentenceEncoder | None = None,
        limits: KnowledgeLimits | None = None, cross_lingual: SentenceEncoder | None = None, build: Build = check,
    ) -> None:
        self.dirs = list(dirs)
        self.languages = tuple(languages)
        self.encoder = encoder
        self.cross_lingual = cross_lingual
        self.limits = limits or KnowledgeLimits()
        self._build = build
        self._lock = threading.Lock()
        self._stamp = fingerprint(self.dirs)
        checked = build(self.dirs, self.languages, encoder=encoder, limits=self.limits, cross_lingual=cross_lingual)
        if not checked.ok or checked.matcher is None:
            raise InvalidKnowledge([p for p in checked.problems if p.severity == "error"])
        self.snapshot = Snapshot(checked.knowledge, checked.matcher)
        self.last_problems: list[Problem] = checked.problems
        self.failed_reloads = 0

    def refresh(self) -> bool:
        """Reload if any file changed. True when new knowledge went live."""
        stamp = fingerprint(self.dirs)
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            checked = self._build(self.dirs, self.languages, encoder=self.encoder, limits=self.limits, cross_lingual=self.cross_lingual)
            self.last_problems = checked.problems
            if not checked.ok or checked.matcher is None:
                # Only the problems are kept: the refused knowledge goes with ``checked``.
                del checked
                self.failed_reloads += 1
                errors = [p for p in self.last_problems if p.severity == "error"]
                for p in errors[:MAX_LOGGED_PROBLEMS]:
                    log.error("knowledge not reloaded: %s", p)
                more = f" ({len(errors) - MAX_LOGGED_PROBLEMS} more: buergerbot faq validate lists them)" if len(errors) > MAX_LOGGED_PROBLEMS else ""
                log.error("knowledge files have errors; the last good knowledge stays live%s", more)
                return False
            self.snapshot = Snapshot(checked.knowledge, checked.matcher)
            log.info("knowledge reloaded: %d entries", len(checked.knowledge.entries))
            return True
