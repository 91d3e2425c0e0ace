"""Every problem a staff member can put into a file is reported with its file and line."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from bot.core.knowledge import KnowledgeLimits, load_knowledge
from bot.core.validation import check
from tests.conftest import TINY_ENTRIES, entry_yaml


def problems_for(tiny_kb: Path, text: str, name: str = "extra.yaml") -> list[str]:
    (tiny_kb / name).write_text(text, encoding="utf-8")
    return [str(p) for p in check([tiny_kb]).problems if p.severity == "error"]


def test_tiny_knowledge_loads_clean(tiny_kb: Path) -> None:
    result = load_knowledge([tiny_kb])
    assert result.problems == []
    kb = result.knowledge
    assert "personalausweis" in kb.entries
    entry = kb.entries["personalausweis"]
    assert entry.form_link is not None and entry.form_link.url.startswith("https://musterstadt.example/")
    assert entry.source.endswith("entries.yaml:2")
    assert kb.synonyms["perso"] == "personalausweis"
    assert kb.offices["buergerbuero"].hours[0][0].start.hour == 8


def test_yaml_syntax_error_names_line(tiny_kb: Path) -> None:
    msgs = problems_for(tiny_kb, "entries:\n  - id: x\n    kind: [faq\n")
    assert any(m.startswith(f"{tiny_kb / 'extra.yaml'}:") and "YAML syntax" in m for m in msgs), msgs


def test_unknown_field_names_its_line(tiny_kb: Path) -> None:
    text = "entries:\n" + entry_yaml("fundsachen", ["a b c", "d e f", "g h i"], ["j k", "l m", "n o"], "    qestions: 1\n")
    msgs = problems_for(tiny_kb, text)
    assert f"{tiny_kb / 'extra.yaml'}:4: 'fundsachen': qestions: unknown field (check the spelling)" in msgs


def test_duplicate_id_points_to_both(tiny_kb: Path) -> None:
    text = "entries:\n" + entry_yaml("sperrmuell", ["Sofa weg", "alter Schrank", "Möbel entsorgen"], ["old sofa", "old wardrobe", "furniture"])
    msgs = problems_for(tiny_kb, text)
    assert any(":2: duplicate id 'sperrmuell' (first defined at" in m and "entries.yaml" in m for m in msgs), msgs


def test_missing_language(tiny_kb: Path) -> None:
    text = "entries:\n  - id: nur-deutsch\n    kind: faq\n    de:\n      title: T\n      questions: [a, b, c]\n      answer: A\n"
    msgs = problems_for(tiny_kb, text)
    assert f"{tiny_kb / 'extra.yaml'}:2: entry 'nur-deutsch': missing language 'en'" in msgs


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("    leika: '12345'\n", "leika"),
        ("    office: rathaus-nord\n", "unknown office 'rathaus-nord'"),
        ("    links:\n      - kind: form\n        url: not-a-url\n        label: {de: a, en: b}\n", "links.0.url"),
        ("    links:\n      - kind: telefax\n        url: https://musterstadt.example/x\n        label: {de: a, en: b}\n", "links.0.kind"),
        ("    valid_from: 2027-03-01\n    valid_until: 2027-01-01\n", "valid_from is after valid_until"),
    ],
)
def test_field_errors(tiny_kb: Path, extra: str, needle: str) -> None:
    text = "entries:\n" + entry_yaml("hundesteuer", ["Hund anmelden Steuer", "Hundesteuer zahlen", "Steuer für meinen Hund"], ["dog tax", "register my dog", "tax for a dog"], extra)
    msgs = problems_for(tiny_kb, text)
    assert any(needle in m and "extra.yaml:" in m for m in msgs), msgs


def test_too_few_questions(tiny_kb: Path) -> None:
    text = "entries:\n" + entry_yaml("x-y", ["nur eine", "zweite"], ["one", "two", "three"])
    msgs = problems_for(tiny_kb, text)
    assert any("de.questions" in m for m in msgs), msgs


def test_duplicate_yaml_key(tiny_kb: Path) -> None:
    text = "entries:\n" + entry_yaml("doppelt", ["a b c", "d e f", "g h i"], ["j k", "l m", "n o"], "    owner: A\n    owner: B\n")
    msgs = problems_for(tiny_kb, text)
    assert f"{tiny_kb / 'extra.yaml'}:5: duplicate key 'owner'" in msgs


def test_bad_answer_link(tiny_kb: Path) -> None:
    text = TINY_ENTRIES.replace("answer: Antwort zu sperrmuell.", "answer: Siehe [hier](javascript:alert(1)).")
    msgs = problems_for(tiny_kb, text, "entries.yaml")
    assert any("answer links to a bad URL" in m for m in msgs), msgs


def test_example_routed_to_other_entry_is_an_error(tiny_kb: Path) -> None:
    # The same question in two entries: citizens asking it would get the wrong answer.
    text = "entries:\n" + entry_yaml("sperrmuell-gewerbe", ["Sperrmüll anmelden", "Sperrmüll anmelden", "Sperrmüll anmelden"], ["bulky waste collection", "bulky waste collection", "bulky waste collection"])
    problems = check([tiny_kb]).problems if (tiny_kb / "extra.yaml").write_text(text, encoding="utf-8") else []
    routed = [str(p) for p in problems if "is answered by" in p.message]
    assert routed and all(":" in r.split(" ")[0] for r in routed)


def test_not_utf8_and_wrong_top_level(tiny_kb: Path) -> None:
    assert any("not UTF-8" in m for m in problems_for(tiny_kb, "", "a.yaml") + [p for p in _bytes(tiny_kb)])
    assert any("expected exactly one top-level key" in m for m in problems_for(tiny_kb, "- 1\n- 2\n", "b.yaml"))


def _bytes(tiny_kb: Path) -> list[str]:
    (tiny_kb / "c.yaml").write_bytes(b"entries: \xff\xfe\n")
    return [str(p) for p in check([tiny_kb]).problems]


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    result = check([tmp_path / "nope"])
    assert not result.ok
    assert any("not found" in p.message for p in result.problems)


def test_unfilled_placeholders_name_their_lines(tiny_kb: Path) -> None:
    text = (
        "entries:\n"
        "  - id: neu\n"                                  # 2
        "    kind: faq\n"
        '    owner: "<<team>>"\n'                         # 4
        "    de:\n"
        '      title: "<<Titel>>"\n'                      # 6
        "      questions: [Frage eins, Frage zwei, Frage drei]\n"
        "      answer: |\n"                               # 8
        "        Erste Zeile.\n"
        "        <<Antwort>> und <<mehr>>\n"              # 10
        "    en:\n"
        "      title: Title\n"
        "      questions: [question one, question two, question three]\n"
        "      answer: Answer.\n"
    )
    msgs = [m for m in problems_for(tiny_kb, text) if "placeholder" in m]
    where = tiny_kb / "extra.yaml"
    assert msgs == [
        f"{where}:4: placeholder <<team>> is still to be filled in",
        f"{where}:6: placeholder <<Titel>> is still to be filled in",
        f"{where}:10: placeholder <<Antwort>> is still to be filled in",
        f"{where}:10: placeholder <<mehr>> is still to be filled in",
    ]


def test_off_topic_questions_load_with_their_lines(tiny_kb: Path) -> None:
    (tiny_kb / "off-topic.yaml").write_text("off_topic:\n  de:\n    - Wie wird das Wetter?\n  en:\n    - Tell me a joke\n", encoding="utf-8")
    checked = check([tiny_kb])
    assert checked.ok, checked.problems
    assert [(q.language, q.text, q.line) for q in checked.knowledge.off_topic] == [("de", "Wie wird das Wetter?", 3), ("en", "Tell me a joke", 5)]


def test_off_topic_mistakes_name_file_and_line(tiny_kb: Path) -> None:
    path = tiny_kb / "extra.yaml"
    msgs = problems_for(tiny_kb, "off_topic:\n  fr:\n    - Quel temps fait-il ?\n  de: Wetter\n  en:\n    - 42\n    - ''\n")
    assert f"{path}:3: unknown language 'fr' (the bot speaks de, en)" in msgs  # where its questions start
    assert f"{path}:4: off_topic 'de' must be a list of questions ('- …')" in msgs
    assert f"{path}:6: an off-topic question must be a line of text" in msgs
    assert f"{path}:7: an off-topic question must be a line of text" in msgs
    assert problems_for(tiny_kb, "off_topic: [Wetter]\n") == [f"{path}:1: 'off_topic' must map a language to a list of questions"]


def test_an_off_topic_question_that_is_also_an_example_is_an_error(tiny_kb: Path) -> None:
    example = next(q for q in load_knowledge([tiny_kb]).knowledge.questions if q.language == "de")
    msgs = problems_for(tiny_kb, f"off_topic:\n  de:\n    - {example.text.upper()}\n")
    assert msgs == [f"{tiny_kb / 'extra.yaml'}:3: off-topic question {example.text.upper()!r} is also an example question of "
                    f"{example.entry_id!r} ({example.path}:{example.line})"]


# --- limits: one hostile or oversized file must not stall the bot ---------------------------------

def alias_bomb(levels: int = 9, fan: int = 8) -> str:
    """A "billion laughs" file: each level lists the one before ``fan`` times, by alias."""
    lines = [f"l0: &l0 [{','.join(['lol'] * fan)}]"]
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(tiny_kb: Path) -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) < 400  # a few hundred bytes, 8**9 strings once expanded
    started = time.perf_counter()
    msgs = problems_for(tiny_kb, bomb, "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    assert f"{tiny_kb / 'bomb.yaml'}:2: YAML aliases (*name) are not allowed in knowledge files; write the text out in full" in msgs


def test_an_alias_inside_an_entry_names_its_line(tiny_kb: Path) -> None:
    text = "entries:\n" + entry_yaml("hundesteuer", ["Hund anmelden Steuer", "Hundesteuer zahlen", "Steuer für meinen Hund"], ["dog tax", "register my dog", "tax for a dog"], "    owner: &team Steueramt\n    tags: [*team]\n")
    msgs = problems_for(tiny_kb, text)
    assert msgs == [f"{tiny_kb / 'extra.yaml'}:5: YAML aliases (*name) are not allowed in knowledge files; write the text out in full"]


def test_deep_nesting_is_refused_with_its_line(tiny_kb: Path) -> None:
    depth = 900  # below libyaml's own limit (1000), above what a recursive walk survives
    text = "entries:\n" + "".join(f"{' ' * (2 * i)}- \n" for i in range(1, depth)) + " " * (2 * depth) + "- x\n"
    msgs = problems_for(tiny_kb, text)
    assert len(msgs) == 1 and msgs[0].startswith(f"{tiny_kb / 'extra.yaml'}:") and "nested more than 32 levels deep" in msgs[0], msgs


def test_a_file_over_the_size_limit_is_refused_unread(tiny_kb: Path) -> None:
    big = tiny_kb / "big.yaml"
    big.write_text("off_topic:\n  de:\n" + "    - Wie wird das Wetter morgen?\n" * 40_000, encoding="utf-8")  # 1.3 MB
    limits = KnowledgeLimits(max_file_bytes=64 * 1024)
    tracemalloc.start()
    try:
        result = load_knowledge([tiny_kb], limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [str(p) for p in result.errors] == [f"{big}:1: file is larger than 64 KiB (1.3 MiB); split it into smaller files"]
    assert peak < big.stat().st_size / 4  # the file was never read into memory
    assert result.knowledge.off_topic == []
    assert load_knowledge([tiny_kb]).ok  # the default limit (2 MiB) takes it


def test_the_entry_limit_counts_over_all_files_and_names_the_first_too_many(tiny_kb: Path) -> None:
    present = len(load_knowledge([tiny_kb]).knowledge.entries)
    text = "entries:\n" + entry_yaml("eins", ["a b c", "d e f", "g h i"], ["j k", "l m", "n o"]) + entry_yaml("zwei", ["a b c", "d e f", "g h i"], ["j k", "l m", "n o"])
    (tiny_kb / "extra.yaml").write_text(text, encoding="utf-8")
    (tiny_kb / "more.yaml").write_text(text.replace("eins", "drei").replace("zwei", "vier"), encoding="utf-8")
    second = text.split("\n").index("  - id: zwei") + 1
    loaded = load_knowledge([tiny_kb], limits=KnowledgeLimits(max_entries=present + 1))
    assert [str(p) for p in loaded.errors] == [
        f"{tiny_kb / 'extra.yaml'}:{second}: too many entries: the knowledge may hold {present + 1} (knowledge_limits.max_entries), this is number {present + 2}"
    ]
    assert "eins" in loaded.knowledge.entries and not {"zwei", "drei", "vier"} & set(loaded.knowledge.entries)
    assert load_knowledge([tiny_kb], limits=KnowledgeLimits(max_entries=present + 4)).ok


# --- links staff should hear about -------------------------------------------------------------

@pytest.mark.parametrize(
    "answer",
    [
        '<a href="javascript:alert(1)">hier</a>',
        "<A HREF='  JavaScript:alert(1)'>hier</A>",
        "<a href=vbscript:msgbox(1)>hier</a>",
        '<a href="java&#x09;script:alert(1)">hier</a>',
        "[hier]( javascript:alert(1))",
        "[hier](JAVA\tSCRIPT:alert(1))",
        "[hier](  data:text/html;base64,PHNjcmlwdD4= )",
    ],
)
def test_script_links_in_answers_are_errors_with_their_line(tiny_kb: Path, answer: str) -> None:
    text = "entries:\n" + entry_yaml("hundesteuer", ["Hund anmelden Steuer", "Hundesteuer zahlen", "Steuer für meinen Hund"], ["dog tax", "register my dog", "tax for a dog"])
    text = text.replace("answer: Antwort zu hundesteuer.", "answer: |\n        Erste Zeile.\n        Siehe " + answer.replace("\t", "\\t") + "\n")
    lines = text.split("\n")
    expected = next(i for i, line in enumerate(lines, start=1) if line.strip().startswith("Siehe"))
    msgs = problems_for(tiny_kb, text.replace("\\t", "\t"))
    assert any(m.startswith(f"{tiny_kb / 'extra.yaml'}:{expected}: de: answer links to a bad URL") and "a script" in m for m in msgs), msgs


def test_raw_html_links_are_a_warning(tiny_kb: Path) -> None:
    text = TINY_ENTRIES.replace("answer: Antwort zu sperrmuell.", 'answer: Siehe <a href="https://musterstadt.example/sperrmuell">hier</a>.')
    (tiny_kb / "entries.yaml").write_text(text, encoding="utf-8")
    problems = check([tiny_kb]).problems
    assert [(p.severity, p.message) for p in problems if "HTML" in p.message] == [("warning", "de: raw HTML is shown to citizens as text; write links as [text](https://…)")]


def test_a_duplicate_id_blames_the_newer_file_and_names_the_older(tiny_kb: Path) -> None:
    # "a-neu.yaml" sorts before "entries.yaml", but it is the file staff just wrote.
    old = tiny_kb / "entries.yaml"
    st = old.stat()
    os.utime(old, ns=(st.st_atime_ns, st.st_mtime_ns - 60_000_000_000))
    first = next(i for i, line in enumerate(TINY_ENTRIES.split("\n"), start=1) if line == "  - id: sperrmuell")
    text = "entries:\n" + entry_yaml("sperrmuell", ["Sofa weg", "alter Schrank", "Möbel entsorgen"], ["old sofa", "old wardrobe", "furniture"])
    msgs = problems_for(tiny_kb, text, "a-neu.yaml")
    assert [m for m in msgs if "duplicate id" in m] == [f"{tiny_kb / 'a-neu.yaml'}:2: duplicate id 'sperrmuell' (first defined at {old}:{first})"]


def test_pickup_documents_are_known_documents_each_collected_at_one_office(tiny_kb: Path) -> None:
    office = "  - id: {id}\n    name: {{de: Amt, en: Office}}\n    address: Weg 1\n    phone: '1'\n    pickup_documents: [{documents}]\n"
    msgs = problems_for(tiny_kb, "offices:\n" + office.format(id="rathaus-nord", documents="reisepass, bootsfuehrerschein"))
    assert any(":6: 'rathaus-nord': pickup_documents:" in m and "unknown document 'bootsfuehrerschein'" in m for m in msgs), msgs
    # The tiny knowledge's Bürgerbüro hands out passports too: the office read second is blamed, naming the first.
    msgs = problems_for(tiny_kb, "offices:\n" + office.format(id="rathaus-nord", documents="fuehrerschein, reisepass"))
    assert msgs == [f"{tiny_kb / 'offices.yaml'}:6: 'buergerbuero': 'reisepass' is already collected at 'rathaus-nord' (pickup_documents)"]


def test_the_office_for_a_pickup_is_the_citys_own(tiny_kb: Path) -> None:
    """Another city's offices, with ids the code has never heard of, still get their pickup lines."""
    (tiny_kb / "more-offices.yaml").write_text(
        "offices:\n  - id: kreishaus\n    name: {de: Kreishaus, en: District hall}\n    address: Ring 2\n    phone: '2'\n"
        "    pickup_documents: [fuehrerschein, other]\n", encoding="utf-8")
    kb = load_knowledge([tiny_kb]).knowledge
    assert [kb.pickup_office(d).id if kb.pickup_office(d) else None for d in ("reisepass", "fuehrerschein", "other", "aufenthaltstitel")] == [
        "buergerbuero", "kreishaus", "kreishaus", None,
    ]
