"""Back-office fixtures: a database (SQLite and PostgreSQL), settings with two profiles, a clock, and row helpers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from bot.config import BackofficeClient, MatrixConfig, ProfileConfig, Settings, TelegramConfig
from bot.reminders.backoffice import Backoffice
from bot.storage.tables import AppointmentChatRow, ReminderRow, SubscriptionRow
from tests.fakes.clock import Clock

NOW = dt.datetime(2026, 10, 20, 8, 0, tzinfo=dt.UTC)  # a Tuesday, five days before the end of summer time
LINK_KEY = "ab" * 32
OFFICES = {"buergerbuero", "standesamt"}
TOKENS = {"termine": "termine-token-0123456789abcdefghijklmnop", "ausweis": "ausweis-token-0123456789abcdefghijklmnop"}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", LINK_KEY)
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"TEST_BACKOFFICE_{name.upper()}", token)
    return Settings(
        profiles=[
            ProfileConfig(name="buerger", telegram=TelegramConfig(username="MusterstadtBot")),
            ProfileConfig(name="welcome", default_language="en", telegram=TelegramConfig(username="@WelcomeMusterBot"),
                          matrix=MatrixConfig(homeserver="https://matrix.musterstadt.example", user_id="@welcome:musterstadt.example")),
        ],
        backoffice_clients=[BackofficeClient(name=name, token_env=f"TEST_BACKOFFICE_{name.upper()}") for name in TOKENS],
    )


@pytest.fixture
def service(settings: Settings, clock: Clock) -> Backoffice:
    return Backoffice.from_settings(settings, lambda: OFFICES, clock)


def link_chat(db: Engine, appointment_id: str, chat_id: str, channel: str = "telegram", language: str = "de") -> None:
    with db.begin() as conn:
        conn.execute(insert(AppointmentChatRow).values(appointment_id=appointment_id, channel=channel, chat_id=chat_id, profile="buerger",
                                                       language=language, created_at=NOW))


def subscribe(db: Engine, sub_id: str, ref: str, chat_id: str, kind: str = "case", language: str = "de") -> None:
    with db.begin() as conn:
        conn.execute(insert(SubscriptionRow).values(id=sub_id, kind=kind, ref=ref, channel="matrix", chat_id=chat_id, profile="welcome",
                                                    language=language, created_at=NOW))


def reminders(db: Engine, **where: Any) -> list[dict[str, Any]]:
    """The reminder rows (params decoded), optionally filtered by column values, in insertion order."""
    query = select(ReminderRow).order_by(ReminderRow.id)
    for column, value in where.items():
        query = query.where(getattr(ReminderRow, column) == value)
    with db.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    for row in rows:
        row["params"] = json.loads(row["params"])
    return rows
