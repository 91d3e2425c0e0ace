"""The Musterstadt knowledge that ships as the default: complete, valid, and answering well."""

from __future__ import annotations

from functools import cache

import pytest

from bot.config import Settings
from bot.core.decision import DecisionReport, evaluate
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.matching.evaluation import Report, predict, read_labelled, score
from bot.core.models import Incoming, Kind, LinkKind
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.validation import Checked, check, examples_of, held_out_misses_of
from bot.semantic.configured import configured_encoder
from tests.conftest import REPO

REQUIRED_FAQ = """personalausweis reisepass ausweis-verlust wohnsitz-anmelden wohnsitz-ummelden wohnsitz-abmelden
meldebescheinigung fuehrungszeugnis geburtsurkunde eheschliessung sterbefall briefwahl fundbuero termin-buergerbuero
oeffnungszeiten kontakt-telefonservice anwohnerparkausweis kfz-zulassung fuehrerschein-umschreibung bussgeld-parken
kita-platz wohngeld kindergeld elterngeld schwerbehindertenausweis sperrmuell muellabfuhr maengelmelder
gewerbeanmeldung baugenehmigung hundesteuer grundsteuer rundfunkbeitrag aufenthaltstitel blaue-karte
anerkennung-abschluss familiennachzug integrationskurs steuer-id krankenversicherung wohnungssuche welcome-center
einbuergerung bibliotheksausweis notruf""".split()


@cache
def default() -> Checked:
    return check([REPO / "faq", REPO / "intents"])


def test_default_knowledge_is_valid() -> None:
    checked = default()
    errors = [str(p) for p in checked.problems if p.severity == "error"]
    assert errors == []
    assert checked.ok


def test_required_entries_exist_in_both_languages() -> None:
    entries = default().knowledge.entries
    missing = [e for e in REQUIRED_FAQ if e not in entries]
    assert missing == []
    for entry_id in REQUIRED_FAQ:
        entry = entries[entry_id]
        assert entry.kind is Kind.FAQ
        for lang in ("de", "en"):
            assert len(entry.texts[lang].questions) >= 3


def test_service_catalogue_has_160_services_with_forms() -> None:
    services = [e for e in default().knowledge.entries.values() if e.kind is Kind.SERVICE]
    assert len(services) >= 160
    for s in services:
        assert s.form_link is not None, s.id
        assert s.form_link.url.startswith("https://musterstadt.example/"), s.id


def test_matters_of_other_authorities_link_there() -> None:
    entries = default().knowledge.entries
    for entry_id in ("kindergeld", "steuer-id", "rundfunkbeitrag"):
        external = [link for link in entries[entry_id].links if link.kind is LinkKind.EXTERNAL]
        assert external, entry_id
        assert not any("musterstadt.example" in link.url for link in external)


def test_emergency_entry_names_110_and_112() -> None:
    entry = default().knowledge.entries["notruf"]
    assert entry.emergency
    for lang in ("de", "en"):
        head = entry.texts[lang].answer[:200]
        assert "110" in head and "112" in head


@pytest.mark.parametrize(("said", "expect"), [
    ("Hi", "begruessung"), ("Hallo", "begruessung"), ("Hey", "begruessung"), ("Moin", "begruessung"), ("Danke", "danke"),
    ("Hilfe", "hilfe"), ("Menü", "hilfe"), ("English", "sprache-wechseln"), ("Perso", "personalausweis"), ("Sperrmüll", "sperrmuell"),
    ("Kita", "kita-platz"), ("Wohngeld", "wohngeld"), ("Notruf", "notruf"),
])
def test_one_word_messages_are_answered(said: str, expect: str) -> None:
    """A chat often starts with one word. Query length counts only partly (pivot slope 0.4), which
    lowers the score of very short questions: "Hi" scores about 0.38 against the threshold 0.30."""
    matcher = default().matcher
    assert matcher is not None
    best = matcher.match(said).best
    assert best is not None and best.entry_id == expect and best.score >= Settings().matching.threshold, best


def test_leave_one_out_routing_at_least_95_percent() -> None:
    kb = default().knowledge
    misses, checked = held_out_misses_of(kb)
    assert checked == len(examples_of(kb))
    share = 1 - len(misses) / checked
    assert share >= 0.95, f"{share:.3f}: " + "; ".join(f"{ex.text!r}->{got}" for ex, got in misses[:20])


@cache
def with_encoder() -> Checked | None:
    encoder = configured_encoder("auto")
    return None if encoder is None else check([REPO / "faq", REPO / "intents"], encoder=encoder)


def _report(name: str, checked: Checked | None = None) -> tuple[Report, str]:
    matcher = (checked or default()).matcher
    assert matcher is not None
    predictions, _ = predict(matcher, read_labelled((REPO / "tests/data" / name).read_text(encoding="utf-8")))
    report = score(predictions, Settings().matching.threshold)
    return report, "; ".join(f"{m.item.text!r}->{m.entry_id}@{m.score:.2f}" for m in report.misses)


def test_held_out_citizen_questions() -> None:
    """Questions written apart from the knowledge files, as citizens would ask them."""
    report, detail = _report("musterstadt_eval.jsonl")
    assert report.in_scope_accuracy >= 0.85, detail
    # Answer sentences as training text pull its cinema question towards film permits (one of its
    # 20 off-topic questions) while they win situations on the fresh sets.
    assert report.oos_recall is not None and report.oos_recall >= 0.8, detail


def test_questions_that_showed_gaps_in_the_content_stay_answered() -> None:
    """Citizens' and Welcome Center questions written to look for gaps: their misses
    led to new example questions (in other words), so this is a regression check, not a held-out
    measurement."""
    report, detail = _report("musterstadt_dev.jsonl")
    assert report.in_scope_accuracy >= 0.9, detail
    assert report.oos_recall is not None and report.oos_recall >= 0.75, detail


@pytest.mark.parametrize(("name", "in_scope", "oos"), [
    # eval3's off-topic floor: at the threshold 0.30, 9 of its 12 off-topic questions are
    # rejected, a price for answering more of every set.
    ("musterstadt_eval2.jsonl", 0.7, 0.6), ("musterstadt_eval3.jsonl", 0.8, 0.7), ("musterstadt_services_eval.jsonl", 0.65, 0.8),
    ("musterstadt_situations_dev.jsonl", 0.82, 0.8), ("musterstadt_situations_eval.jsonl", 0.8, 0.8),
])
def test_fresh_questions_do_not_fall_below_what_was_measured(name: str, in_scope: float, oos: float) -> None:
    """Sets written without looking at the knowledge files: eval2, eval3 and the services set; and
    two sets of citizens describing their situation, written from the entries' titles alone by
    people who never saw the situation questions later added to the content. How new phrasings fare, measured in docs/measurements.md. A floor against
    regressions, a little under what was measured, not a target."""
    report, detail = _report(name)
    assert report.in_scope_accuracy >= in_scope, detail
    assert report.oos_recall is not None and report.oos_recall >= oos, detail


@pytest.mark.parametrize(("name", "in_scope", "oos"), [
    ("musterstadt_dev.jsonl", 0.9, 0.9), ("musterstadt_eval.jsonl", 0.9, 0.8), ("musterstadt_eval2.jsonl", 0.72, 0.75),
    ("musterstadt_eval3.jsonl", 0.8, 0.7), ("musterstadt_services_eval.jsonl", 0.75, 0.8),
    ("musterstadt_situations_dev.jsonl", 0.85, 0.8), ("musterstadt_situations_eval.jsonl", 0.85, 0.9),
])
def test_with_the_sentence_encoder(name: str, in_scope: float, oos: float) -> None:
    """The bot as installed by make: English questions the words leave unsure get the sentence
    encoder's second opinion. Floors a little under what was measured (docs/measurements.md);
    eval3's off-topic floor is 0.7 because the int8 encoder rejects exactly 9 of its 12, right at
    0.75, like the words alone."""
    checked = with_encoder()
    if checked is None:
        pytest.skip("the sentence encoder is not installed here (make installs the 'semantic' extra and its model)")
    report, detail = _report(name, checked)
    assert report.in_scope_accuracy >= in_scope, detail
    assert report.oos_recall is not None and report.oos_recall >= oos, detail


def test_hostile_messages_with_the_sentence_encoder() -> None:
    checked = with_encoder()
    if checked is None or checked.matcher is None:
        pytest.skip("the sentence encoder is not installed here (make installs the 'semantic' extra and its model)")
    for text in ["what is " * 15_000, "\x00\xff\ufffd" * 1000, "<script>alert(1)</script> passport?", "🙂🙂🙂", "**bold** [x](http://e.example)", " "]:
        result = checked.matcher.match(text, "en")
        assert all(0.0 <= m.score <= 1.0 for m in result.matches), text[:40]


@cache
def live_default() -> LiveKnowledge:
    return LiveKnowledge([REPO / "faq", REPO / "intents"])


def _dialogue_report(name: str) -> tuple[DecisionReport, str]:
    live = live_default()
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(threshold=Settings().matching.threshold))
    report = evaluate(dialogue, read_labelled((REPO / "tests/data" / name).read_text(encoding="utf-8")))
    return report, str(report.as_dict())


@pytest.mark.parametrize(("name", "in_scope", "oos", "false_rejection"), [
    # What the dialogue replies (emergency first, asking back, hours, out of scope), by words alone.
    # The dev halves were tuned on; the held-out halves were run for their totals only, never
    # read (tests/data/README.md), so their floors say how new wording fares. A floor a little
    # under what was measured, against regressions.
    ("conversation_de_dev.jsonl", 0.95, None, 0.03), ("conversation_de_heldout.jsonl", 0.86, None, 0.12),
    ("conversation_en_dev.jsonl", 0.89, None, 0.1), ("conversation_en_heldout.jsonl", 0.88, None, 0.09),
    ("near_misses_dev.jsonl", None, 0.89, None), ("near_misses_heldout.jsonl", None, 0.85, None),
])
def test_what_the_dialogue_replies_to_the_conversation_sets(name: str, in_scope: float | None, oos: float | None, false_rejection: float | None) -> None:
    report, detail = _dialogue_report(name)
    if in_scope is not None:
        assert report.in_scope_accuracy >= in_scope, detail
    if oos is not None:
        assert report.oos_recall is not None and report.oos_recall >= oos, detail
    if false_rejection is not None:
        assert report.false_rejection_rate <= false_rejection, detail


@pytest.mark.parametrize("said", [
    "Personalausweis beantragen in München", "Kfz-Zulassungsstelle Bonn Öffnungszeiten", "Wann hat IKEA am Samstag offen?",
    "Wie wird das Wetter morgen?", "Tickets für das Heimspiel vom FC Musterstadt", "book a table for two tonight",
])
def test_out_of_scope_is_said_honestly(said: str) -> None:
    live = live_default()
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(threshold=Settings().matching.threshold))
    [reply] = dialogue.handle(_incoming(said))
    assert reply.kind == "out_of_scope" and reply.entry_id is None, reply.text[:200]


@pytest.mark.parametrize(("said", "expect"), [
    # Confusable entries: the right one wins.
    ("Ich bin umgezogen, muss ich mein Auto ummelden?", "kfz-adressaenderung"),
    ("Nach wie vielen Jahren kann ich einen deutschen Pass bekommen?", "einbuergerung"),
    ("Mein Laden ist zu, wie melde ich das Gewerbe ab?", "gewerbeabmeldung"),
    ("Wir sind von Hamburg hergezogen, wo melden wir uns an?", "wohnsitz-anmelden"),
])
def test_confusable_entries_are_told_apart(said: str, expect: str) -> None:
    live = live_default()
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(threshold=Settings().matching.threshold))
    replies = dialogue.handle(_incoming(said))
    assert replies[0].entry_id == expect, replies[0].text[:200]


def _incoming(said: str) -> Incoming:
    return Incoming(channel="test", chat_id="content", text=said)
