"""What the dialogue decided for a message: the entry it answered, the topics it offered, the kind of
reply. `ask --json`, `eval` and the content tests report this rather than the matcher's ranking, so
the emergency priority, a profile's tag bonus, validity dates, hours and out-of-scope replies count
as the citizen sees them."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.core.dialogue import CHOICE_ENTRY, Dialogue
from bot.core.knowledge import KnowledgeBase
from bot.core.matching.evaluation import Labelled
from bot.core.models import Incoming, Reply, ReplyKind


@dataclass(frozen=True)
class Decision:
    entry_id: str | None  # the entry answered; None for a fallback, choices, out of scope
    kind: ReplyKind
    suggested: tuple[str, ...] = ()  # the topics offered, in their order
    language: str = "de"

    def as_dict(self) -> dict[str, object]:
        return {"id": self.entry_id, "kind": self.kind.value, "suggested": list(self.suggested), "language": self.language}


def reply_kind(reply: Reply, kb: KnowledgeBase) -> ReplyKind:
    """The kind of one reply: as the dialogue marked it, else read from its entry and choices."""
    if reply.kind is not None:
        return reply.kind
    entry = kb.entries.get(reply.entry_id) if reply.entry_id else None
    if entry is not None:
        # A facet's heading is the topic's title followed by the facet ("**Reisepass: Kosten**").
        return ReplyKind.FACET if reply.text.startswith(f"**{entry.text(reply.language).title}: ") else ReplyKind.ANSWER
    if offered(reply):
        return ReplyKind.CHOICES
    return ReplyKind.MESSAGE


def offered(reply: Reply) -> tuple[str, ...]:
    """The entry ids a reply offers to choose from."""
    return tuple(b.payload[len(CHOICE_ENTRY):] for b in reply.choices if b.payload and b.payload.startswith(CHOICE_ENTRY))


def decision_of(replies: Sequence[Reply], kb: KnowledgeBase, hours_entry: str) -> Decision:
    """The decision a turn's replies carry. With several replies the first that answers or offers
    an entry decides: "call 112" before the other topic the message matched."""
    if not replies:
        return Decision(None, ReplyKind.MESSAGE)
    deciding = next((r for r in replies if r.entry_id is not None or offered(r) or r.kind is not None), replies[-1])
    kind = reply_kind(deciding, kb)
    # Hours come from the offices, not from an entry's text; the staff's usage report counts them
    # with the entry on opening hours, and so does the evaluation.
    entry_id = hours_entry if kind is ReplyKind.HOURS and hours_entry in kb.entries else deciding.entry_id
    return Decision(entry_id, kind, offered(deciding), deciding.language)


def decide(dialogue: Dialogue, said: str, language: str | None = None, chat_id: str = "ask") -> Decision:
    """Send one message through the dialogue and read what it decided."""
    replies = dialogue.handle(Incoming(channel="cli", chat_id=chat_id, text=said, language_hint=language))
    snapshot = dialogue.snapshot()
    return decision_of(replies, snapshot.knowledge, dialogue.settings.hours_entry)


@dataclass(frozen=True)
class Decided:
    item: Labelled
    decision: Decision

    @property
    def right(self) -> bool:
        return self.decision.entry_id == self.item.expect


@dataclass
class DecisionReport:
    n: int
    in_scope_accuracy: float
    oos_recall: float | None
    false_rejection_rate: float
    # Of the in-scope messages not answered rightly: the share where the right entry was offered.
    suggested_recall: float | None
    ms_per_query: float
    kinds: dict[str, int]
    misses: list[Decided] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "in_scope_accuracy": round(self.in_scope_accuracy, 4),
            "oos_recall": None if self.oos_recall is None else round(self.oos_recall, 4),
            "false_rejection_rate": round(self.false_rejection_rate, 4),
            "suggested_recall": None if self.suggested_recall is None else round(self.suggested_recall, 4),
            "ms_per_query": round(self.ms_per_query, 4),
            "kinds": dict(sorted(self.kinds.items())),
        }


def evaluate(dialogue: Dialogue, items: Iterable[Labelled]) -> DecisionReport:
    """Each labelled message as the first message of its own chat. In scope counts as right when the
    dialogue answers the expected entry; an off-topic message counts as rejected when no entry is
    answered (a fallback, an out-of-scope reply, or topics offered to choose from)."""
    decided: list[Decided] = []
    start = time.perf_counter()
    for number, item in enumerate(items):
        decided.append(Decided(item, decide(dialogue, item.text, item.language, chat_id=f"eval-{number}")))
    elapsed = time.perf_counter() - start
    return score_decisions(decided, 1000.0 * elapsed / max(1, len(decided)))


def score_decisions(decided: Sequence[Decided], ms_per_query: float = 0.0) -> DecisionReport:
    ins = [d for d in decided if d.item.expect is not None]
    oos = [d for d in decided if d.item.expect is None]
    answered = [d for d in ins if d.decision.entry_id is not None]
    wrong = [d for d in ins if not d.right]
    kinds: dict[str, int] = {}
    for d in decided:
        kinds[d.decision.kind.value] = kinds.get(d.decision.kind.value, 0) + 1
    return DecisionReport(
        n=len(decided),
        in_scope_accuracy=sum(d.right for d in ins) / len(ins) if ins else 0.0,
        oos_recall=sum(d.decision.entry_id is None for d in oos) / len(oos) if oos else None,
        false_rejection_rate=(len(ins) - len(answered)) / len(ins) if ins else 0.0,
        suggested_recall=sum(d.item.expect in d.decision.suggested for d in wrong) / len(wrong) if wrong else None,
        ms_per_query=ms_per_query,
        kinds=kinds,
        misses=wrong + [d for d in oos if d.decision.entry_id is not None],
    )
