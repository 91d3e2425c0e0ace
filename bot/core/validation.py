"""Everything `buergerbot faq validate` checks, and what start-up and reload run before going live."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.knowledge import MARKDOWN_LINK, KnowledgeBase, KnowledgeLimits, LoadResult, load_knowledge
from bot.core.matching.evaluation import held_out_misses
from bot.core.matching.matcher import Example, Matcher
from bot.core.matching.normalise import fold
from bot.core.matching.semantic import SentenceEncoder
from bot.core.models import Problem

_URL = re.compile(r"https?://\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n+")


@dataclass
class Checked:
    knowledge: KnowledgeBase
    matcher: Matcher | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return self.matcher is not None and not any(p.severity == "error" for p in self.problems)


def examples_of(kb: KnowledgeBase) -> list[Example]:
    return [Example(q.entry_id, q.language, q.text) for q in kb.examples()]


def passages_of(kb: KnowledgeBase) -> list[Example]:
    """The sentences of every answer, as more training text for their entry.

    A citizen who describes a situation uses the words of the answer ("alte Farbeimer und
    Lösungsmittel" for the hazardous-waste collection) more often than any example question's.
    """
    passages: list[Example] = []
    for entry in kb.entries.values():
        for lang, local in entry.texts.items():
            plain = _URL.sub(" ", MARKDOWN_LINK.sub(r"\1", local.answer))
            passages.extend(Example(entry.id, lang, s) for s in _SENTENCE_END.split(plain) if len(s.split()) >= 3)
    return passages


def off_topic_of(kb: KnowledgeBase) -> list[Example]:
    return [Example("", q.language, q.text) for q in kb.off_topic]


def build_matcher(
    kb: KnowledgeBase, default_language: str | None = None, encoder: SentenceEncoder | None = None, cross_lingual: SentenceEncoder | None = None,
) -> Matcher:
    return Matcher.build(
        examples_of(kb) + passages_of(kb), kb.synonyms, default_language=default_language or kb.languages[0], negatives=off_topic_of(kb),
        encoder=encoder, cross_lingual=cross_lingual,
    )


def held_out_misses_of(kb: KnowledgeBase) -> tuple[list[tuple[Example, str | None]], int]:
    """:func:`held_out_misses` over the knowledge base's examples, trained as :func:`build_matcher` trains."""
    return held_out_misses(examples_of(kb), kb.synonyms, negatives=off_topic_of(kb), always=passages_of(kb))


def check(
    dirs: Sequence[Path], languages: Sequence[str] = ("de", "en"), held_out: bool = False, encoder: SentenceEncoder | None = None,
    limits: KnowledgeLimits | None = None, cross_lingual: SentenceEncoder | None = None,
) -> Checked:
    """Load, validate and build the matcher.

    An example question that the full matcher answers with another entry is an error: citizens
    asking exactly that would get the wrong answer. With ``held_out``, questions that only route
    right because they are in the index are reported as warnings (slow: ten extra builds, by
    words alone: they measure whether the examples teach their entry).
    """
    loaded: LoadResult = load_knowledge(dirs, languages, limits)
    kb, problems = loaded.knowledge, list(loaded.problems)
    if not loaded.ok or not kb.entries:
        if not kb.entries and loaded.ok:
            problems.append(Problem(str(dirs[0]) if dirs else ".", 0, "no entries found"))
        return Checked(kb, None, problems)
    asked = {(q.language, fold(q.text)): q for q in kb.questions}
    for q in kb.off_topic:
        same = asked.get((q.language, fold(q.text)))
        if same is not None:
            problems.append(Problem(q.path, q.line, f"off-topic question {q.text!r} is also an example question of {same.entry_id!r} ({same.path}:{same.line})"))
    for q in kb.questions:
        judged = kb.scope.judge(q.text)
        if judged is not None:
            # The scope files win over the matcher: citizens asking exactly this would hear "not me".
            why = judged.place or judged.reason
            problems.append(Problem(q.path, q.line, f"{q.entry_id} ({q.language}): example question {q.text!r} counts as out of scope ({why}); see the scope file"))
    if any(p.severity == "error" for p in problems):
        return Checked(kb, None, problems)
    matcher = build_matcher(kb, encoder=encoder, cross_lingual=cross_lingual)
    for q in kb.questions:
        best = matcher.match(q.text, q.language).best
        if best is None or best.entry_id != q.entry_id:
            where = best.entry_id if best else "nothing"
            problems.append(Problem(q.path, q.line, f"{q.entry_id} ({q.language}): example question {q.text!r} is answered by {where!r}"))
    if held_out:
        lines = {(q.entry_id, q.language, q.text): (q.path, q.line) for q in kb.questions}
        misses, _ = held_out_misses_of(kb)
        for ex, got in misses:
            if (ex.entry_id, ex.language, ex.text) not in lines:
                continue  # a title, not a question staff wrote
            path, line = lines[(ex.entry_id, ex.language, ex.text)]
            problems.append(Problem(path, line, f"{ex.entry_id} ({ex.language}): when left out, {ex.text!r} goes to {got!r}; add similar questions", "warning"))
    return Checked(kb, matcher, problems)
