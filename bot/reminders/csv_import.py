"""Appointments from a CSV file, for booking systems without an API (``buergerbot appointments import``).

Columns by header name, in any order: ``external_ref`` and ``starts_at`` required, ``office``,
``subject`` and ``language`` optional. Semicolons or commas (detected), UTF-8 with or without BOM.
Every row goes through the same service call as the API, in its own transaction: good rows are
imported even when others fail, and importing the same file again creates nothing twice (an
unchanged row answers "exists" with a fresh link for the same appointment).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot.reminders.api_models import APPOINTMENT_FIELDS, BackofficeError, CreatedAppointment, InvalidField
from bot.reminders.backoffice import RESERVED_SOURCES, Backoffice

REQUIRED = ("external_ref", "starts_at")
CLIENT_RE = re.compile(r"[a-z0-9-]{1,64}")  # as BackofficeClient.name


class UnreadableFile(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    """What happened to one line: an appointment (created or existing) or an error."""

    line: int
    external_ref: str | None = None
    appointment: CreatedAppointment | None = None
    field: str | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.appointment is None:
            return "error"
        return "created" if self.appointment.created else "exists"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "status": self.status, "external_ref": self.external_ref}
        if self.appointment is not None:
            out.update(self.appointment.as_json())
        else:
            out["error"] = {"field": self.field, "message": self.error}
        return out


def check_client(name: str) -> str | None:
    """Why ``name`` cannot be the source of imported appointments, or None."""
    if not CLIENT_RE.fullmatch(name):
        return "the client name must be 1 to 64 characters of a-z 0-9 -"
    if name in RESERVED_SOURCES:
        return f"{name!r} is reserved for appointments added in the chat"
    return None


def read_rows(path: Path) -> Iterator[Outcome | tuple[int, dict[str, str]]]:
    """(line, row by column name) for each data row, or an error :class:`Outcome` for a bad line or header."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV") from None
    sample = content[:4096]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=";,").delimiter
    except csv.Error:
        delimiter = ";" if sample.split("\n", 1)[0].count(";") > sample.split("\n", 1)[0].count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            yield Outcome(1, error="the file is empty; the first line names the columns: " + delimiter.join(APPOINTMENT_FIELDS))
            return
        columns = [cell.strip().lower() for cell in header]
        problem = _header_problem(columns)
        if problem:
            yield Outcome(reader.line_num, error=problem)
            return
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield Outcome(reader.line_num, error=f"{len(cells)} columns where the header has {len(columns)}")
                continue
            yield reader.line_num, dict(zip(columns, cells, strict=True))
    except csv.Error as exc:
        yield Outcome(reader.line_num, error=f"not readable as CSV: {exc}")


def _header_problem(columns: list[str]) -> str | None:
    unknown = [c for c in columns if c not in APPOINTMENT_FIELDS]
    if unknown:
        return f"unknown column {unknown[0]!r} (columns: {', '.join(APPOINTMENT_FIELDS)})"
    doubled = sorted({c for c in columns if columns.count(c) > 1})
    if doubled:
        return f"column {doubled[0]!r} appears twice"
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        return f"missing column {missing[0]!r} (required: {', '.join(REQUIRED)})"
    return None


def import_appointments(path: Path, service: Backoffice, engine: Engine, client: str) -> Iterator[Outcome]:
    """One :class:`Outcome` per data row (and per bad line); raises :class:`UnreadableFile`."""
    for item in read_rows(path):
        if isinstance(item, Outcome):
            yield item
            continue
        line, row = item
        ref = row.get("external_ref", "").strip() or None
        try:
            new = service.parse_appointment(row)
            with engine.begin() as conn:
                created = service.create_appointment(conn, client, new)
        except InvalidField as exc:
            yield Outcome(line, ref, field=exc.field, error=f"{exc.field}: {exc.reason}")
        except BackofficeError as exc:
            yield Outcome(line, ref, error=exc.message)
        else:
            yield Outcome(line, ref, appointment=created)
