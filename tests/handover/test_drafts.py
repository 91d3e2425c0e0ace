"""The drafts folder checked by itself: what a draft still needs, ids taken by live entries, and a
drafts folder that would put its drafts live."""

from __future__ import annotations

from pathlib import Path

from bot.handover.core import draft_entry
from bot.handover.drafts import check_drafts, waiting_drafts


def write_draft(folder: Path, number: str, question: str, answer: str = "Im Bürgerbüro.") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number.lower()}.yaml"
    path.write_text(draft_entry(number, "de", question, [answer]), encoding="utf-8")
    return path


def test_a_fresh_draft_is_reported_with_what_it_still_needs(tmp_path: Path, tiny_kb: Path) -> None:
    path = write_draft(tmp_path / "faq-drafts", "H-00003", "Wo melde ich mein Boot an?")
    checked = check_drafts(tmp_path / "faq-drafts", [tiny_kb], ["personalausweis"], ("de", "en"))
    assert [d.path for d in checked.drafts] == [path] and checked.inside_knowledge is None
    said = [str(p) for p in checked.problems]
    assert any(line.startswith(f"{path}:") and "<<Titel>>" in line for line in said)
    assert any("missing language 'en'" in line for line in said)
    assert checked.drafts[0].entry_ids == ("entwurf-h-00003",)
    assert checked.drafts[0].questions == ("Wo melde ich mein Boot an?",)


def test_a_draft_with_a_live_id_and_a_folder_inside_the_knowledge_are_reported(tmp_path: Path, tiny_kb: Path) -> None:
    path = tmp_path / "faq-drafts" / "personalausweis.yaml"
    write_draft(tmp_path / "faq-drafts", "H-00004", "Perso verloren?")
    path.write_text((tmp_path / "faq-drafts" / "h-00004.yaml").read_text(encoding="utf-8").replace("entwurf-h-00004", "personalausweis"),
                    encoding="utf-8")
    checked = check_drafts(tmp_path / "faq-drafts", [tiny_kb], ["personalausweis"], ("de", "en"))
    assert f"{path}:0: entry 'personalausweis' is live already: merge the draft into it or give it another id" in map(str, checked.problems)
    inside = tiny_kb / "drafts"
    write_draft(inside, "H-00005", "Wo melde ich mein Boot an?")
    checked = check_drafts(inside, [tiny_kb], [], ("de", "en"))
    assert checked.inside_knowledge == tiny_kb
    assert any("inside the knowledge folder" in str(p) for p in checked.problems)


def test_a_file_that_does_not_parse_still_waits_for_review(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("entries: [: :\n", encoding="utf-8")
    (draft,) = waiting_drafts(tmp_path)
    assert draft.questions == () and not draft.matches("anything")
