"""Reminders as they go out, rendered from a due notice and the knowledge of that day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.markup import to_html
from bot.core.cases import CASE_STATUSES, DOCUMENTS
from bot.core.knowledge import KnowledgeBase, load_knowledge
from bot.core.models import Notice, NoticeKind
from bot.core.notices import render_notice
from bot.core.waste import FRACTIONS
from tests.conftest import TINY_OFFICES, entry_yaml

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 12, 2, 18, 0, tzinfo=BERLIN)  # Wednesday evening
PARAMS = ["starts_at", "office", "subject", "lead", "reference", "document", "status", "district", "date", "fractions"]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("kb")
    offices = TINY_OFFICES.replace('    phone: "+49 1234 567-100"\n', '    phone: "+49 1234 567-100"\n    url: https://musterstadt.example/buergerbuero\n', 1)
    (root / "offices.yaml").write_text(offices, encoding="utf-8")
    entries = entry_yaml("personalausweis", ["Personalausweis beantragen", "Perso neu", "Ausweis abgelaufen"], ["apply for an ID card", "new ID card", "ID card expired"],
                         "    office: buergerbuero\n")
    entries = entries.replace("      answer: Antwort zu personalausweis.\n", "      answer: Antwort.\n      documents: [Altes Ausweisdokument, Ein biometrisches Passfoto]\n")
    (root / "entries.yaml").write_text("entries:\n" + entries, encoding="utf-8")
    loaded = load_knowledge([root])
    assert loaded.ok, loaded.problems
    return loaded.knowledge


def notice(kind: NoticeKind, lang: str = "de", **params: str) -> Notice:
    return Notice(kind, lang, params)


def test_appointment_reminder_the_day_before(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.APPOINTMENT, starts_at="2026-12-03T10:30:00+01:00", office="buergerbuero", subject="Titel personalausweis", lead="1d"), kb, NOW)
    assert reply.text.startswith("**Erinnerung an Ihren Termin**\nmorgen, Do 3.12., 10:30 Uhr\nBürgerbüro, Marktplatz 1, 12345 Musterstadt, Telefon +49 1234 567-100")
    assert "Anliegen: Titel personalausweis" in reply.text
    assert "- Altes Ausweisdokument\n- Ein biometrisches Passfoto" in reply.text  # the entry's documents
    assert "sagen Sie den Termin ab" in reply.text
    assert [b.url for b in reply.buttons] == ["https://musterstadt.example/buergerbuero"]


def test_appointment_reminder_in_english_the_same_day_from_utc(kb: KnowledgeBase) -> None:
    morning = dt.datetime(2026, 12, 3, 9, 30, tzinfo=BERLIN)
    reply = render_notice(notice(NoticeKind.APPOINTMENT, "en", starts_at="2026-12-03T09:30:00+00:00", office="buergerbuero", subject=""), kb, morning)
    assert reply.language == "en"
    assert "**Reminder of your appointment**\ntoday, 10:30\nCitizens' Office, Marktplatz 1" in reply.text
    assert "About:" not in reply.text


def test_cancelled_by_the_office(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.APPOINTMENT_CANCELLED, starts_at="2026-12-10T08:00:00+01:00", office="buergerbuero", subject="Reisepass"), kb, NOW)
    assert reply.text.startswith("**Ihr Termin wurde abgesagt**\nDo 10.12., 08:00 Uhr\nBürgerbüro")
    assert "Das Amt hat diesen Termin abgesagt" in reply.text


def test_ready_for_pickup_names_the_office_and_its_hours(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.CASE_STATUS, reference="RP-2026-004711", document="reisepass", status="ready_for_pickup"), kb, NOW)
    assert "Ihr Reisepass (Vorgang RP-2026-004711) liegt zur Abholung bereit." in reply.text
    assert "Abholung: Bürgerbüro, Marktplatz 1" in reply.text
    assert "Bürgerbüro ist gerade geschlossen. Nächste Öffnung: morgen, 08:00 Uhr." in reply.text
    assert reply.buttons


def test_another_citys_pickup_office_is_named(tmp_path: Path) -> None:
    """The office comes from the city's offices.yaml (pickup_documents), whatever its id."""
    (tmp_path / "offices.yaml").write_text(
        "offices:\n  - id: kreishaus-sued\n    name: {de: Kreishaus Süd, en: District Hall South}\n    address: Ring 2, 54321 Beispielkreis\n"
        "    phone: '+49 5432 10'\n    pickup_documents: [reisepass]\n    hours:\n      thu: ['08:00-12:00']\n", encoding="utf-8")
    (tmp_path / "entries.yaml").write_text("entries:\n" + entry_yaml("reisepass", ["Reisepass beantragen", "Pass neu", "Pass abgelaufen"],
                                                                   ["apply for a passport", "new passport", "passport expired"]), encoding="utf-8")
    loaded = load_knowledge([tmp_path])
    assert loaded.ok, loaded.problems
    reply = render_notice(notice(NoticeKind.CASE_STATUS, "en", reference="RP-9", document="reisepass", status="ready_for_pickup"), loaded.knowledge, NOW)
    assert "Collect it at: District Hall South, Ring 2, 54321 Beispielkreis" in reply.text
    assert "Next opening: tomorrow at 08:00." in reply.text  # Wednesday evening: Thursday morning
    # A document no office lists: the letter says where, and no office is guessed.
    licence = render_notice(notice(NoticeKind.CASE_STATUS, reference="F-1", document="fuehrerschein", status="ready_for_pickup"), loaded.knowledge, NOW)
    assert licence.text.endswith("Ihr Führerschein (Vorgang F-1) liegt zur Abholung bereit.") and licence.buttons == ()


@pytest.mark.parametrize("status", sorted(CASE_STATUSES))
@pytest.mark.parametrize("document", sorted(DOCUMENTS))
@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_status_and_document_has_a_text(kb: KnowledgeBase, status: str, document: str, lang: str) -> None:
    reply = render_notice(notice(NoticeKind.CASE_STATUS, lang, reference="X-1234", document=document, status=status), kb, NOW)
    assert "X-1234" in reply.text and DOCUMENTS[document].name(lang) in reply.text
    assert "{" not in reply.text


def test_unknown_status_and_document_get_a_generic_text(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.CASE_STATUS, "en", reference="X-1234", document="boat", status="teleported"), kb, NOW)
    assert "There is news about your case X-1234" in reply.text
    followup = render_notice(notice(NoticeKind.CASE_FOLLOWUP, reference="X-1234", document="boat", status="ready_for_pickup"), kb, NOW)
    assert "Ihr Dokument (Vorgang X-1234) liegt weiterhin zur Abholung bereit." in followup.text


def test_followup_for_an_id_card(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.CASE_FOLLOWUP, "en", reference="PA-77", document="personalausweis", status="ready_for_pickup"), kb, NOW)
    assert reply.text.startswith("Reminder: your identity card (case PA-77) is still waiting to be collected.")
    assert "Collect it at: Citizens' Office" in reply.text


def test_waste_the_evening_before(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.WASTE, district="Südstadt", date="2026-12-03", fractions="restmuell,bio,kompost-spezial"), kb, NOW)
    assert reply.text.startswith("**Müllabfuhr morgen (Do 3.12.)** in Südstadt\n- Restmüll (graue Tonne)\n- Bioabfall (braune Tonne)\n- kompost spezial")
    english = render_notice(notice(NoticeKind.WASTE, "en", district="Südstadt", date="2026-12-05", fractions="papier"), kb, NOW)
    assert english.text.startswith("**Waste collection Sat 5 Dec** in Südstadt\n- paper (blue bin)")


def test_every_fraction_has_both_names() -> None:
    for fraction in FRACTIONS.values():
        assert fraction.names["de"] and fraction.names["en"]


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_missing_params_never_crash(kb: KnowledgeBase, kind: NoticeKind) -> None:
    reply = render_notice(Notice(kind, "de", {}), kb, NOW)
    assert reply.text.strip()
    assert "{" not in reply.text


def test_values_cannot_add_markup(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.APPOINTMENT, starts_at="gestern", office="<b>x</b>", subject="**fett** [klick](https://evil.example) ```x```"), kb, NOW)
    rendered = to_html(reply.text)
    assert "<a " not in rendered and "<b>fett</b>" not in rendered and "<pre>" not in rendered
    assert "&lt;b&gt;x&lt;/b&gt;" in rendered


def test_a_language_the_knowledge_lacks_falls_back(kb: KnowledgeBase) -> None:
    reply = render_notice(notice(NoticeKind.WASTE, "fr", district="Nord", date="2026-12-03"), kb, NOW)
    assert reply.language == "de"


@given(kind=st.sampled_from(list(NoticeKind)), params=st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=40)))
def test_any_params_render(kb: KnowledgeBase, kind: NoticeKind, params: dict[str, str]) -> None:
    reply = render_notice(Notice(kind, "en", params), kb, NOW)
    assert reply.text.strip()
