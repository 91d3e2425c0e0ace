"""Appointments from CSV files: delimiters, BOM, bad rows with their line numbers, re-imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.reminders.backoffice import Backoffice
from bot.reminders.csv_import import Outcome, UnreadableFile, check_client, import_appointments
from bot.storage.tables import AppointmentRow


def run(path: Path, service: Backoffice, engine: Engine, client: str = "termine") -> list[Outcome]:
    return list(import_appointments(path, service, engine, client))


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "termine.csv"
    path.write_bytes(text.encode(encoding))
    return path


def summary(outcomes: list[Outcome]) -> list[tuple[int, str, str | None]]:
    return [(o.line, o.status, o.field if o.appointment is None else o.external_ref) for o in outcomes]


def test_semicolons_bom_and_bad_rows(tmp_path: Path, service: Backoffice, engine: Engine) -> None:
    path = write(tmp_path, "\ufeffexternal_ref;starts_at;office;subject;language\r\n"
                           "T-1;2026-10-23T09:30:00+02:00;buergerbuero;Personalausweis beantragen;de\r\n"
                           "T-2;2026-10-19T09:30:00+02:00;buergerbuero;zu spät;de\r\n"
                           "\r\n"
                           "T-3;2026-10-24T11:00:00+02:00;;Ummeldung;en\r\n"
                           "T-4;2026-10-24T11:00:00+02:00;mond;;de\r\n"
                           "T-5;2026-10-24T11:00:00+02:00\r\n")
    outcomes = run(path, service, engine)
    assert summary(outcomes) == [(2, "created", "T-1"), (3, "error", "starts_at"), (5, "created", "T-3"), (6, "error", "office"), (7, "error", None)]
    assert outcomes[1].error == "starts_at: must be in the future"
    assert outcomes[4].error == "2 columns where the header has 5"
    with engine.connect() as conn:
        rows = conn.execute(select(AppointmentRow.external_ref, AppointmentRow.office, AppointmentRow.language).order_by(AppointmentRow.external_ref)).all()
    assert [tuple(r) for r in rows] == [("T-1", "buergerbuero", "de"), ("T-3", None, "en")]

    again = run(path, service, engine)
    assert summary(again) == [(2, "exists", "T-1"), (3, "error", "starts_at"), (5, "exists", "T-3"), (6, "error", "office"), (7, "error", None)]
    with engine.connect() as conn:
        assert len(conn.execute(select(AppointmentRow.id)).all()) == 2


def test_commas_quotes_and_any_column_order(tmp_path: Path, service: Backoffice, engine: Engine) -> None:
    path = write(tmp_path, 'Starts_At,External_Ref,Subject\n'
                           '2026-10-23T09:30:00+02:00,T-1,"Pass, Ausweis"\n'
                           '2026-10-23T10:30:00+02:00,T-2,"zwei\nZeilen"\n'
                           '2026-10-23T11:30:00+02:00,T-3,ok\n')
    outcomes = run(path, service, engine)
    assert summary(outcomes) == [(2, "created", "T-1"), (4, "error", "subject"), (5, "created", "T-3")]  # a cell over two lines
    with engine.connect() as conn:
        assert conn.execute(select(AppointmentRow.subject).where(AppointmentRow.external_ref == "T-1")).scalar_one() == "Pass, Ausweis"


def test_a_changed_row_is_a_conflict_not_a_second_appointment(tmp_path: Path, service: Backoffice, engine: Engine) -> None:
    path = write(tmp_path, "external_ref;starts_at\nT-1;2026-10-23T09:30:00+02:00\nT-1;2026-10-23T10:30:00+02:00\n")
    outcomes = run(path, service, engine)
    assert [o.status for o in outcomes] == ["created", "error"]
    assert outcomes[1].error and "cancel it" in outcomes[1].error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("external_ref;office\nT-1;buergerbuero\n", "missing column 'starts_at'"),
        ("external_ref;starts_at;termin\n", "unknown column 'termin'"),
        ("external_ref;starts_at;office;office\n", "column 'office' appears twice"),
    ],
)
def test_header_problems(tmp_path: Path, service: Backoffice, engine: Engine, text: str, message: str) -> None:
    [outcome] = run(write(tmp_path, text), service, engine)
    assert outcome.line == 1 and outcome.error and outcome.error.startswith(message)


def test_unreadable_files(tmp_path: Path, service: Backoffice, engine: Engine) -> None:
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        run(write(tmp_path, "external_ref;starts_at\nT-1;2026-10-23T09:30:00+02:00;Bürgerbüro\n", encoding="latin-1"), service, engine)
    with pytest.raises(UnreadableFile, match=r"missing\.csv"):
        run(tmp_path / "missing.csv", service, engine)


def test_client_names() -> None:
    assert check_client("termin-system") is None
    assert check_client("chat") and check_client("Termine") and check_client("")
