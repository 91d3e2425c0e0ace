"""The report window: ``--since 12h``, ``7d`` or ``2w`` back from now."""

from __future__ import annotations

import datetime as dt
import re

_PERIOD = re.compile(r"^(\d{1,6})\s*([hdw])$")
_UNITS = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}
_LONGEST = dt.timedelta(days=3660)


def parse_since(value: str) -> dt.timedelta:
    """'12h' → 12 hours, '7d' → 7 days, '2w' → 2 weeks. ValueError with a sentence for staff otherwise."""
    m = _PERIOD.match(value.strip().lower())
    if m is None:
        raise ValueError(f"{value!r} is not a period: write a number and h (hours), d (days) or w (weeks), e.g. 12h, 7d or 2w")
    period = int(m.group(1)) * _UNITS[m.group(2)]
    if not period:
        raise ValueError(f"{value!r} is an empty period: use at least 1h")
    if period > _LONGEST:
        raise ValueError(f"{value!r} is longer than ten years")
    return period


def iso(at: dt.datetime) -> str:
    """A time in JSON output: UTC, to the second, with its offset."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")
