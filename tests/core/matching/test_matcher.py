from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.knowledge import load_knowledge
from bot.core.matching.matcher import Example, Matcher, TrainingParams
from bot.core.validation import check, examples_of, passages_of


def build(tiny_kb: Path) -> Matcher:
    checked = check([tiny_kb])
    assert checked.ok, checked.problems
    assert checked.matcher is not None
    return checked.matcher


def best(matcher: Matcher, text: str, lang: str | None = None) -> str | None:
    result = matcher.match(text, lang)
    return result.best.entry_id if result.best and result.best.score >= 0.5 else None


def test_synonyms_umlauts_typos_and_compounds(tiny_kb: Path) -> None:
    m = build(tiny_kb)
    assert best(m, "Perso beantragen") == "personalausweis"  # synonym
    assert best(m, "Sperrgut abholen lassen") == "sperrmuell"  # synonym
    assert best(m, "Sperrmuell anmelden") == "sperrmuell"  # umlaut written out
    assert best(m, "Personalauswies beantragen") == "personalausweis"  # typo
    assert best(m, "Parkausweis für Anwohner") == "anwohnerparkausweis"  # compound split the other way
    assert best(m, "I need a new ID card") == "personalausweis"
    assert best(m, "Wohnsitz abmelden") == "wohnsitz-abmelden"
    assert best(m, "Wohnsitz anmelden") == "wohnsitz-anmelden"


def test_out_of_scope_scores_low(tiny_kb: Path) -> None:
    m = build(tiny_kb)
    for text in ["Wie wird das Wetter morgen?", "Who won the football match yesterday?", "qwertz asdf"]:
        assert best(m, text) is None, text


def test_ranked_alternatives_are_sorted_and_bounded(tiny_kb: Path) -> None:
    result = build(tiny_kb).match("Wohnsitz", "de", k=3)
    scores = [x.score for x in result.matches]
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {x.entry_id for x in result.matches[:2]} == {"wohnsitz-anmelden", "wohnsitz-abmelden"}


def test_language_is_detected(tiny_kb: Path) -> None:
    m = build(tiny_kb)
    assert m.match("How do I register my address?").language == "en"
    assert m.match("Wie melde ich meinen Wohnsitz an?").language == "de"


def test_build_needs_examples() -> None:
    try:
        Matcher.build([])
    except ValueError:
        return
    raise AssertionError("an empty matcher must be refused")


def test_single_entry_matcher_works() -> None:
    m = Matcher.build([Example("a", "de", "Hundesteuer anmelden"), Example("a", "de", "Hund anmelden")])
    assert m.match("Hundesteuer").best is not None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_gives_bounded_scores(text: str) -> None:
    result = _SHARED.match(text)
    assert result.language in ("de", "en")
    for x in result.matches:
        assert 0.0 <= x.score <= 1.0 and not math.isnan(x.score)


_SHARED = Matcher.build(
    [
        Example("kita", "de", "Kitaplatz beantragen"),
        Example("kita", "de", "Kindergarten anmelden"),
        Example("kita", "en", "apply for a nursery place"),
        Example("muell", "de", "Wann kommt die Müllabfuhr"),
        Example("muell", "en", "waste collection dates"),
    ]
)


def test_language_from_vocabulary_when_no_function_words(tiny_kb: Path) -> None:
    m = build(tiny_kb)
    assert m.detect("bulky waste", hint="de") == "en"
    assert m.detect("Sperrmüll", hint="en") == "de"
    assert m.detect("xyz", hint="en") == "en"


def test_separable_german_verbs_tell_anmelden_from_abmelden(tiny_kb: Path) -> None:
    m = build(tiny_kb)
    assert best(m, "Wo melde ich meinen Wohnsitz an?") == "wohnsitz-anmelden"
    assert best(m, "Wo melde ich meinen Wohnsitz ab?") == "wohnsitz-abmelden"


def test_a_question_that_tells_a_whole_story_is_not_scored_down_for_its_length(tiny_kb: Path) -> None:
    kb = load_knowledge([tiny_kb], ["de", "en"]).knowledge
    story = ("Wir sind letzte Woche mit den Kindern aus Köln hierher gezogen, in eine Wohnung in der Altstadt, "
             "und jetzt wissen wir nicht, wie wir unseren Wohnsitz bei der Stadt anmelden")
    short = "Wohnsitz anmelden"
    scored = {}
    for slope in (1.0, 0.4):
        m = Matcher.build(examples_of(kb), kb.synonyms, TrainingParams(pivot_slope=slope))
        scored[slope] = {q: m.match(q, "de").best for q in (story, short)}
        assert all(b is not None and b.entry_id == "wohnsitz-anmelden" for b in scored[slope].values())
    # Both slopes rank the same entry first; only the long story's score changes with its length.
    story_full, story_pivot = scored[1.0][story], scored[0.4][story]
    assert story_full is not None and story_pivot is not None and story_pivot.score > story_full.score + 0.1


def test_answer_sentences_teach_their_entry(tiny_kb: Path) -> None:
    entries = tiny_kb / "entries.yaml"
    answer = (
        "      answer: |\n"
        "        Alte Farbeimer, Lösungsmittel und Unkrautvernichter nimmt das [Schadstoffmobil](https://musterstadt.example/gift) mit.\n"
        "        - Termine stehen im Abfallkalender\n"
    )
    entries.write_text(entries.read_text(encoding="utf-8").replace("      answer: Antwort zu sperrmuell.\n", answer), encoding="utf-8")
    kb = load_knowledge([tiny_kb], ["de", "en"]).knowledge
    texts = {p.text for p in passages_of(kb) if p.entry_id == "sperrmuell" and p.language == "de"}
    # Link targets are no words a citizen types; the link's label is.
    assert texts == {"Alte Farbeimer, Lösungsmittel und Unkrautvernichter nimmt das Schadstoffmobil mit.", "- Termine stehen im Abfallkalender"}
    found = build(tiny_kb).match("Wohin mit alten Farbeimern und Lösungsmitteln?", "de").best
    assert found is not None and found.entry_id == "sperrmuell" and found.score > 0.3, found


def test_off_topic_questions_teach_the_matcher_to_score_them_low(tiny_kb: Path) -> None:
    question = "Wo kann ich hier gut essen gehen?"  # nothing in the tiny knowledge, yet it scores
    before = build(tiny_kb).match(question, "de").best
    (tiny_kb / "off-topic.yaml").write_text(
        "off_topic:\n  de:\n    - Wo kann man gut essen?\n    - Gutes Restaurant in der Nähe\n    - Wo gehe ich heute Abend essen?\n",
        encoding="utf-8",
    )
    matcher = build(tiny_kb)
    after = matcher.match(question, "de").best
    assert before is not None and before.score > 0.2
    assert after is None or after.score < before.score - 0.1
    assert best(matcher, "Anwohnerparkausweis beantragen") == "anwohnerparkausweis"  # real questions are still answered


def test_training_through_dense_weight_rows_learns_what_sparse_products_learn(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training multiplies through dense copies of well-filled weight rows (a speed-up only):
    forced either way, the same questions get the same entries and scores."""
    from bot.core.matching import matcher as matcher_module

    questions = ["Perso beantragen", "Sperrmüll abholen", "Wohnsitz abmelden", "I need a new ID card", "Wetter morgen?"]
    results = []
    for share in (0.0, 2.0):  # 0: always dense; 2: never (no row can be fuller than full)
        monkeypatch.setattr(matcher_module, "DENSE_PRODUCT_SHARE", share)
        m = build(tiny_kb)
        results.append([m.match(q).matches for q in questions])
    for dense, sparse in zip(*results, strict=True):
        assert [x.entry_id for x in dense] == [x.entry_id for x in sparse]
        assert [x.score for x in dense] == pytest.approx([x.score for x in sparse], abs=1e-4)
