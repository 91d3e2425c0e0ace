"""Waste collection calendars: one iCal file per district, as the city's waste company publishes them.

``<waste_dir>/<district-id>.ics``; the calendar's name (X-WR-CALNAME) is the district's display name.
Each event is one collection day; its summary names the fractions ("Restmüll", "Bio + Papier").
Recurring events (RRULE, EXDATE) are expanded.

The words come from the one fraction table (bot.core.waste); a city whose waste company writes
them differently adds its own in ``<waste_dir>/fractions.yaml``::

    words:
      schadstoff: [Problemstoffe, Sondermüll]   # fraction id -> words in the calendars' event titles
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dateutil.rrule import rrulestr
from icalendar import Calendar, Component

from bot.core.matching.normalise import fold
from bot.core.waste import FRACTION_OF_WORD, FRACTIONS, UNKNOWN_FRACTION

log = logging.getLogger(__name__)

_DISTRICT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HORIZON = dt.timedelta(days=800)  # recurring rules are expanded this far from the calendar's start
CITY_WORDS_FILE = "fractions.yaml"


def source_files(folder: Path) -> list[Path]:
    """The files a calendar is read from: a change to any of them means reading it again."""
    words = folder / CITY_WORDS_FILE
    return sorted(folder.glob("*.ics")) + ([words] if words.is_file() else [])


def fractions_of(summary: str, fraction_of_word: Mapping[str, str] = FRACTION_OF_WORD) -> tuple[str, ...]:
    found: list[str] = []
    for word in fold(summary).split():
        fraction = fraction_of_word.get(word)
        if fraction and fraction not in found:
            found.append(fraction)
    return tuple(found) or (UNKNOWN_FRACTION,)


@dataclass
class WasteCalendar:
    names: dict[str, str] = field(default_factory=dict)  # district id -> display name
    days: dict[str, dict[dt.date, tuple[str, ...]]] = field(default_factory=dict)  # district -> day -> fractions
    problems: list[str] = field(default_factory=list)  # "file: message", for staff

    def collections(self, district: str, start: dt.date, end: dt.date) -> list[tuple[dt.date, tuple[str, ...]]]:
        """Collection days in [start, end], earliest first."""
        return sorted((d, f) for d, f in self.days.get(district, {}).items() if start <= d <= end)


def load_calendars(folder: Path) -> WasteCalendar:
    """Every ``*.ics`` in ``folder``; a broken file is reported and skipped, the others still load."""
    calendar = WasteCalendar()
    if not folder.is_dir():
        return calendar
    fraction_of_word = {**FRACTION_OF_WORD, **_city_words(folder / CITY_WORDS_FILE, calendar.problems)}
    for path in sorted(folder.glob("*.ics")):
        district = path.stem.lower()
        if not _DISTRICT_ID.match(district):
            calendar.problems.append(f"{path}: the file name must be a district id (a-z, 0-9, -)")
            continue
        try:
            parsed = Calendar.from_ical(path.read_bytes())
            days = _collection_days(parsed, fraction_of_word)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            calendar.problems.append(f"{path}: not a readable iCal file ({exc})")
            continue
        name = str(parsed.get("X-WR-CALNAME") or district.replace("-", " ").title())
        calendar.names[district] = name
        calendar.days[district] = days
    for problem in calendar.problems:
        log.warning("waste calendar: %s", problem)
    return calendar


def _city_words(path: Path, problems: list[str]) -> dict[str, str]:
    """The city's own words for known fractions (folded word -> fraction id); mistakes go to ``problems``."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path}: not readable YAML ({exc})")
        return {}
    table = data.get("words") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        problems.append(f"{path}: expected 'words:' mapping a fraction id to a list of words")
        return {}
    words: dict[str, str] = {}
    for fraction_id, listed in table.items():
        if fraction_id not in FRACTIONS:
            problems.append(f"{path}: unknown fraction {fraction_id!r}; known: {', '.join(FRACTIONS)}")
        elif not isinstance(listed, list) or not all(isinstance(word, str) for word in listed):
            problems.append(f"{path}: {fraction_id}: expected a list of words")
        else:
            for word in listed:
                folded = fold(word).split()
                # Titles are read word by word: "grüne Tonne" would make every "… Tonne" this fraction.
                if len(folded) != 1:
                    problems.append(f"{path}: {fraction_id}: {word!r} must be one word")
                else:
                    words[folded[0]] = fraction_id
    return words


def _collection_days(parsed: Calendar, fraction_of_word: Mapping[str, str]) -> dict[dt.date, tuple[str, ...]]:
    """Every collection day with its fractions. An event with RECURRENCE-ID moves one occurrence of
    its series (a holiday shift): the original day is dropped, the event's own day counts."""
    events = list(parsed.walk("VEVENT"))
    moved: dict[str, set[dt.date]] = defaultdict(set)
    for event in events:
        if event.get("RECURRENCE-ID") is not None:
            moved[str(event.get("UID", ""))].add(_day(event.get("RECURRENCE-ID").dt))
    merged: dict[dt.date, list[str]] = defaultdict(list)
    for event in events:
        start = event.get("DTSTART")
        if start is None:
            continue
        fractions = fractions_of(str(event.get("SUMMARY", "")), fraction_of_word)
        if event.get("RECURRENCE-ID") is not None:
            days = [_day(start.dt)]
        else:
            days = [d for d in _occurrences(event, _day(start.dt)) if d not in moved.get(str(event.get("UID", "")), set())]
        for day in days:
            for f in fractions:
                if f not in merged[day]:
                    merged[day].append(f)
    return {day: tuple(fs) for day, fs in merged.items()}


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _dates(prop: Any) -> set[dt.date]:
    """The days of an EXDATE or RDATE property (one line or several)."""
    lines: list[Any] = prop if isinstance(prop, list) else [prop] if prop is not None else []
    return {_day(d.dt) for line in lines for d in line.dts}


def _occurrences(event: Component, first: dt.date) -> list[dt.date]:
    extra = _dates(event.get("RDATE"))
    rule = event.get("RRULE")
    if rule is None:
        return sorted({first} | extra)
    start = dt.datetime.combine(first, dt.time())
    recurrence = rrulestr(rule.to_ical().decode(), dtstart=start, ignoretz=True)
    excluded = _dates(event.get("EXDATE"))
    days = {d.date() for d in recurrence.between(start, start + _HORIZON, inc=True)} | extra
    return sorted(days - excluded)
