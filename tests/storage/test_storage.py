"""The SQL implementations of the core's ports, on SQLite (and PostgreSQL where reachable)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from bot.core.models import UserState
from bot.core.ports import MemoryUserStates
from bot.storage.cached_states import CachedUserStates
from bot.storage.chat_states import SqlUserStates
from bot.storage.database import migrate
from bot.storage.tables import UnansweredRow
from bot.storage.unanswered import SqlUnansweredLog


def test_migrations_create_the_tables(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert {"chat_states", "unanswered_questions", "alembic_version"} <= names
    migrate(engine)  # running again is a no-op


def test_chat_state_round_trip_and_delete(engine: Engine) -> None:
    store = SqlUserStates(engine)
    assert store.load("telegram", "1") == UserState()
    store.save("telegram", "1", UserState(language="en", pending_choices=("entry:a", "entry:b")))
    assert store.load("telegram", "1") == UserState(language="en")  # offered choices stay in memory
    store.save("telegram", "1", UserState(language="de"))
    assert store.load("telegram", "1").language == "de"
    store.delete("telegram", "1")
    assert store.load("telegram", "1") == UserState()


def test_empty_state_leaves_no_row(engine: Engine) -> None:
    store = SqlUserStates(engine)
    store.save("matrix", "!room", UserState())
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from chat_states")).scalar() == 0


def test_unanswered_has_no_user_column(engine: Engine) -> None:
    log = SqlUnansweredLog(engine)
    at = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    log.record("Wann ist Vollmond?" * 100, "de", "telegram", at)
    with Session(engine) as s:
        [row] = s.scalars(select(UnansweredRow)).all()
    assert len(row.text) == 1000 and row.channel == "telegram"
    columns = {c["name"] for c in inspect(engine).get_columns("unanswered_questions")}
    assert columns == {"id", "asked_at", "language", "channel", "text"}


class CountingStates(MemoryUserStates):
    def __init__(self) -> None:
        super().__init__()
        self.loads = self.saves = 0

    def load(self, channel: str, chat_id: str) -> UserState:
        self.loads += 1
        return super().load(channel, chat_id)

    def save(self, channel: str, chat_id: str, state: UserState) -> None:
        self.saves += 1
        super().save(channel, chat_id, state)


def test_cache_touches_the_store_only_on_change() -> None:
    inner = CountingStates()
    cached = CachedUserStates(inner, max_chats=2)
    for _ in range(5):
        state = cached.load("t", "1")
        cached.save("t", "1", state)
    assert (inner.loads, inner.saves) == (1, 0)
    state.language = "en"  # a copy: changing it does not change the cache
    assert cached.load("t", "1").language is None
    cached.save("t", "1", UserState(pending_choices=("entry:a",)))
    assert inner.saves == 0 and cached.load("t", "1").pending_choices == ("entry:a",)  # memory only
    cached.save("t", "1", state)
    assert inner.saves == 1 and inner.load("t", "1").language == "en"
    cached.load("t", "2")
    cached.load("t", "3")  # evicts chat 1 (max 2)
    assert cached.load("t", "1").language == "en" and inner.loads == 5
    cached.delete("t", "1")
    assert cached.load("t", "1") == UserState()
