"""Unanswered questions in the database (implements core.ports.UnansweredLog), for staff reports."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.storage.database import as_utc
from bot.storage.tables import UnansweredRow


class SqlUnansweredLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, text: str, language: str, channel: str, at: dt.datetime) -> None:
        with Session(self._engine) as s, s.begin():
            s.add(UnansweredRow(asked_at=as_utc(at), language=language, channel=channel, text=text[:1000]))
