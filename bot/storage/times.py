"""Moments in the database are UTC: SQLite stores no offset, so anything else would shift on the way back."""

from __future__ import annotations

import datetime as dt


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, for writing; a naive value is a UTC value read back from SQLite."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
