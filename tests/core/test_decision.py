"""What the dialogue decided, as `ask --json` and `eval` report it."""

from __future__ import annotations

from pathlib import Path

from bot.core.decision import Decided, Decision, decide, decision_of, evaluate, score_decisions
from bot.core.dialogue import CHOICE_ENTRY, Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.matching.evaluation import Labelled
from bot.core.models import Button, Reply, ReplyKind
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from tests.conftest import MONDAY_10


def dialogue(kb: Path) -> Dialogue:
    live = LiveKnowledge([kb])
    return Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(), clock=lambda: MONDAY_10)


def test_each_kind_of_reply(tiny_kb: Path) -> None:
    bot = dialogue(tiny_kb)
    kb = bot.snapshot().knowledge
    answered = decide(bot, "Personalausweis beantragen")
    assert answered == Decision("personalausweis", ReplyKind.ANSWER, (), "de")
    assert decide(bot, "Wer hat gestern das Spiel gewonnen?").kind is ReplyKind.FALLBACK
    offered = Reply("Meinten Sie …?", choices=(Button("A", payload=CHOICE_ENTRY + "sperrmuell"), Button("B", payload=CHOICE_ENTRY + "notruf")))
    assert decision_of([offered], kb, "oeffnungszeiten") == Decision(None, ReplyKind.CHOICES, ("sperrmuell", "notruf"))
    facet = Reply("**Titel personalausweis: Kosten**\n\n…", entry_id="personalausweis")
    assert decision_of([facet], kb, "oeffnungszeiten").kind is ReplyKind.FACET
    # Hours come from the offices; they count for the entry on opening hours where there is one.
    hours = Reply("**Öffnungszeiten: Bürgerbüro**", kind=ReplyKind.HOURS)
    assert decision_of([hours], kb, "personalausweis") == Decision("personalausweis", ReplyKind.HOURS)
    assert decision_of([hours], kb, "no-such-entry").entry_id is None
    assert decision_of([Reply("Sprache: Deutsch")], kb, "x").kind is ReplyKind.MESSAGE
    # "call 112" first decides, the other answer after it does not.
    emergency = decide(bot, "Notfall: Unfall mit Verletzten, und ich brauche einen neuen Personalausweis")
    assert emergency.entry_id == "notruf"


def test_scores_what_the_dialogue_replied(tiny_kb: Path) -> None:
    report = evaluate(dialogue(tiny_kb), [
        Labelled("Perso beantragen", "personalausweis"),
        Labelled("Sofa entsorgen", "sperrmuell"),
        Labelled("Wer hat gestern gewonnen?", None),
    ])
    assert report.n == 3 and report.in_scope_accuracy == 1.0 and report.oos_recall == 1.0
    assert report.suggested_recall is None  # no misses
    assert report.kinds == {"answer": 2, "fallback": 1}


def test_suggested_recall_counts_the_right_entry_among_the_choices() -> None:
    offered = Decision(None, ReplyKind.CHOICES, ("a", "b"))
    report = score_decisions([
        Decided(Labelled("x", "b"), offered),
        Decided(Labelled("y", "c"), offered),
        Decided(Labelled("z", "a"), Decision("a", ReplyKind.ANSWER)),
        Decided(Labelled("w", None), offered),  # choices are no answer: an off-topic question stays rejected
    ])
    assert report.in_scope_accuracy == 1 / 3
    assert report.false_rejection_rate == 2 / 3
    assert report.suggested_recall == 0.5
    assert report.oos_recall == 1.0
    assert [m.item.text for m in report.misses] == ["x", "y"]
