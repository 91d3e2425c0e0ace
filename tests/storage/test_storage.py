"""The SQL implementations of the core's ports, on SQLite (and PostgreSQL where reachable)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.core.models import CONTEXT_PREFIX, ChatRef, UserState
from bot.core.ports import MemoryUserStates
from bot.ops.logs import MASK, forget_secrets, pseudonym, redact
from bot.storage.cached_states import CachedUserStates
from bot.storage.chat_states import SqlUserStates
from bot.storage.database import alembic_config, make_engine, migrate
from bot.storage.tables import UnansweredRow
from bot.storage.unanswered import SqlUnansweredLog
from tests.databases import PG_URL, postgres_engine


def test_migrations_create_the_tables(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert {"chat_states", "unanswered_questions", "alembic_version"} <= names
    migrate(engine)  # running again is a no-op


CITIZENS = ChatRef("telegram", "1", "buerger")
WELCOME = ChatRef("telegram", "1", "welcome")


def test_chat_state_round_trip_and_forget(engine: Engine) -> None:
    store = SqlUserStates(engine)
    assert store.load(CITIZENS) == UserState()
    store.save(CITIZENS, UserState(language="en", pending_choices=("entry:a", "entry:b")))
    assert store.load(CITIZENS) == UserState(language="en")  # offered choices stay in memory
    store.save(CITIZENS, UserState(language="de"))
    assert store.load(CITIZENS).language == "de"
    store.forget(CITIZENS)
    assert store.load(CITIZENS) == UserState()


def test_one_chat_id_keeps_a_state_per_profile(engine: Engine) -> None:
    """A Telegram user has the same chat id with the citizens' bot and the Welcome Center."""
    store = SqlUserStates(engine)
    store.save(CITIZENS, UserState(language="de"))
    store.save(WELCOME, UserState(language="en"))
    store.save(ChatRef("telegram", "2", "welcome"), UserState(language="en"))
    assert store.load(CITIZENS).language == "de" and store.load(WELCOME).language == "en"
    assert store.export(WELCOME) == {"buerger": UserState(language="de"), "welcome": UserState(language="en")}
    store.save(WELCOME, UserState())  # back to no choice: only this profile's row goes
    assert store.export(CITIZENS) == {"buerger": UserState(language="de")}
    store.save(WELCOME, UserState(language="en"))
    store.forget(CITIZENS)  # "delete my data" asked in one bot covers every bot
    assert store.export(WELCOME) == {}
    assert store.load(ChatRef("telegram", "2", "welcome")).language == "en"


def test_empty_state_leaves_no_row(engine: Engine) -> None:
    store = SqlUserStates(engine)
    store.save(ChatRef("matrix", "!room"), UserState())
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from chat_states")).scalar() == 0


def test_unanswered_has_no_user_column(engine: Engine) -> None:
    log = SqlUnansweredLog(engine)
    at = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    log.record("Wann ist Vollmond?" * 100, "de", "telegram", at, ChatRef("telegram", "987654321"))
    log.close()
    with Session(engine) as s:
        [row] = s.scalars(select(UnansweredRow)).all()
    assert len(row.text) == 1000 and row.channel == "telegram"
    columns = {c["name"] for c in inspect(engine).get_columns("unanswered_questions")}
    assert columns == {"id", "asked_at", "language", "channel", "text", "chat_pseudonym"}
    # the chat's pseudonym, as the logs write it: no chat id
    assert row.chat_pseudonym == pseudonym("telegram", "987654321") and "987654321" not in row.chat_pseudonym


def test_deleting_a_chat_deletes_its_unanswered_questions_written_or_waiting(engine: Engine) -> None:
    log = SqlUnansweredLog(engine, flush_seconds=3600)
    erika, other = ChatRef("telegram", "1", "buerger"), ChatRef("telegram", "2", "buerger")
    at = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    log.record("Ich bin Erika Mustermann, wo ist mein Antrag?", "de", "telegram", at, erika)
    log.record("Wann ist Vollmond?", "de", "telegram", at, other)
    log.flush()
    log.record("Erika Mustermann noch einmal", "de", "telegram", at + dt.timedelta(minutes=1), erika)  # not written yet
    assert log.questions(erika) == [(at, "Ich bin Erika Mustermann, wo ist mein Antrag?"), (at + dt.timedelta(minutes=1), "Erika Mustermann noch einmal")]
    log.forget(ChatRef("telegram", "1", "welcome"))  # asked in another bot: the person's questions with every bot
    log.close()
    with Session(engine) as s:
        assert s.scalars(select(UnansweredRow.text)).all() == ["Wann ist Vollmond?"]
    assert log.questions(erika) == []


class CountingStates(MemoryUserStates):
    def __init__(self) -> None:
        super().__init__()
        self.loads = self.saves = 0

    def load(self, chat: ChatRef) -> UserState:
        self.loads += 1
        return super().load(chat)

    def save(self, chat: ChatRef, state: UserState) -> None:
        self.saves += 1
        super().save(chat, state)


def test_cache_touches_the_store_only_on_change() -> None:
    inner = CountingStates()
    cached = CachedUserStates(inner, max_chats=2)
    one, two, three = ChatRef("t", "1"), ChatRef("t", "2"), ChatRef("t", "3")
    for _ in range(5):
        state = cached.load(one)
        cached.save(one, state)
    assert (inner.loads, inner.saves) == (1, 0)
    state.language = "en"  # a copy: changing it does not change the cache
    assert cached.load(one).language is None
    cached.save(one, UserState(pending_choices=("entry:a",)))
    assert inner.saves == 0 and cached.load(one).pending_choices == ("entry:a",)  # memory only
    cached.save(one, state)
    assert inner.saves == 1 and inner.load(one).language == "en"
    cached.load(two)
    cached.load(three)  # evicts chat 1 (max 2)
    assert cached.load(one).language == "en" and inner.loads == 5
    cached.forget(one)
    assert cached.load(one) == UserState()


def test_the_conversations_context_stays_in_memory() -> None:
    """The last topic changes with nearly every message: writing it would put the database on
    every answer's path."""
    inner = CountingStates()
    cached = CachedUserStates(inner)
    chat = ChatRef("t", "1")
    for turn in range(5):
        cached.save(chat, UserState(language="de", extra={f"{CONTEXT_PREFIX}entry": f"entry-{turn}", f"{CONTEXT_PREFIX}at": str(turn)}))
    assert inner.saves == 1  # the language, once
    assert cached.load(chat).extra[f"{CONTEXT_PREFIX}entry"] == "entry-4"
    cached.save(chat, UserState(language="de", extra={"flow": "appointment"}))
    assert inner.saves == 2  # what is not context still reaches the store


def test_cache_keeps_each_profile_apart_and_forgets_them_together() -> None:
    inner = CountingStates()
    cached = CachedUserStates(inner, max_chats=1)
    cached.save(WELCOME, UserState(language="en", pending_choices=("entry:a", "entry:b")))
    assert cached.load(CITIZENS) == UserState()
    cached.save(CITIZENS, UserState(pending_choices=("entry:c",)))
    assert cached.load(WELCOME) == UserState(language="en", pending_choices=("entry:a", "entry:b"))
    assert inner.loads == 1  # one chat in the cache, with both profiles
    # The export shows the offered choices, which only the cache holds.
    assert cached.export(CITIZENS) == {"welcome": UserState(language="en", pending_choices=("entry:a", "entry:b")),
                                       "buerger": UserState(pending_choices=("entry:c",))}
    cached.forget(CITIZENS)
    assert cached.load(WELCOME) == UserState() and inner.export(WELCOME) == {}


class FlakyStates(CountingStates):
    """A store whose database can be switched away; counts the tries."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def load(self, chat: ChatRef) -> UserState:
        self._gone()
        return super().load(chat)

    def save(self, chat: ChatRef, state: UserState) -> None:
        self._gone()
        super().save(chat, state)

    def _gone(self) -> None:
        if self.down:
            self.loads += 1  # a try costs even when it fails
            raise OperationalError("select", {}, ConnectionRefusedError("connection refused"))


def test_an_outage_is_tried_again_only_every_few_seconds_and_nothing_changed_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    inner = FlakyStates()
    cached = CachedUserStates(inner, retry_seconds=5, clock=lambda: now[0])
    known, fresh = ChatRef("t", "1"), ChatRef("t", "2")
    inner.save(fresh, UserState(language="en"))
    cached.load(known)
    inner.down = True
    cached.save(known, UserState(language="en"))  # the try that finds the store away
    tries = inner.loads + inner.saves
    for _ in range(10):
        assert cached.load(known).language == "en"
        assert cached.load(fresh) == UserState()  # not readable now: starts empty
    assert inner.loads + inner.saves == tries  # no try within the 5 s
    now[0] = 6.0
    cached.load(known)
    assert inner.loads + inner.saves == tries + 1  # one try after them, still away
    inner.down = False
    now[0] = 12.0
    assert cached.load(fresh).language == "en"  # read afresh once the store is back
    assert inner.load(known).language == "en"  # the choice made during the outage was written
    assert [r.levelname for r in caplog.records if r.name == "bot.storage.cached_states"] == ["ERROR", "WARNING"]


def test_workers_starting_together_migrate_once(tmp_path: Path) -> None:
    """Several `buergerbot run` workers apply the migrations at start-up against one PostgreSQL.

    Separate processes, as in production (Alembic's context is process-global, not thread-safe)."""
    pg = postgres_engine()
    if pg is None:
        pytest.skip(f"no PostgreSQL reachable at {PG_URL}")
    schema = f"m_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}"
    with pg.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = PG_URL + f"?options=-csearch_path%3D{schema}"
    code = "import sys; from bot.storage.database import make_engine, migrate; migrate(make_engine(sys.argv[1]))"
    try:
        workers = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True) for _ in range(3)]
        failures = [err for w in workers if (err := w.communicate(timeout=120)[1]) and w.returncode != 0]
        assert failures == []
        with pg.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config(pg)).get_current_head()
            assert conn.execute(text(f'select version_num from "{schema}".alembic_version')).scalars().all() == [head]
    finally:
        with pg.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        pg.dispose()


def test_unanswered_questions_are_written_in_batches_and_kept_through_a_failed_write(tmp_path: Path) -> None:
    """The fallback reply must not wait for the database: questions are buffered like usage events."""
    engine = make_engine(f"sqlite:///{tmp_path / 'later.db'}")  # not migrated yet: the insert fails
    log = SqlUnansweredLog(engine, flush_seconds=3600)
    at = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    for question in ("Wann ist Vollmond?", "Wo parke ich mein Ufo?"):
        log.record(question, "de", "matrix", at)
    assert log.pending == 2
    with pytest.raises(Exception, match="no such table"):
        log.flush()
    assert log.pending == 2  # kept for the next try
    migrate(engine)
    log.close()
    with Session(engine) as s:
        assert sorted(s.scalars(select(UnansweredRow.text))) == ["Wann ist Vollmond?", "Wo parke ich mein Ufo?"]
    assert log.pending == 0


def test_a_database_away_is_logged_once_and_its_return_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'later.db'}")  # not migrated yet: every insert fails
    log = SqlUnansweredLog(engine, flush_seconds=0.02)
    log.record("Wann ist Vollmond?", "de", "telegram", dt.datetime.now(dt.UTC))
    deadline = time.monotonic() + 10
    while sum("writing unanswered questions failed" in r.getMessage() for r in caplog.records) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # some fifteen more failed tries
    migrate(engine)
    while log.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    log.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.storage.buffered"]
    assert messages == [
        "writing unanswered questions failed; they wait in memory and are retried until the database takes them",
        "unanswered questions are written again (1 waiting rows written)",
    ]
    with Session(engine) as s:
        assert s.scalars(select(UnansweredRow.text)).all() == ["Wann ist Vollmond?"]


def test_database_errors_carry_no_chat_id_or_question_text(tmp_path: Path) -> None:
    """Errors end up in logs; their text must not quote the statement's parameters."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # not migrated: every statement fails
    with pytest.raises(Exception) as failed:
        SqlUserStates(engine).save(ChatRef("telegram", "987654321"), UserState(language="de"))
    questions = SqlUnansweredLog(engine, flush_seconds=3600)
    questions.record("Mein geheimes Anliegen", "de", "telegram", dt.datetime.now(dt.UTC))  # buffered: no error here
    with pytest.raises(Exception) as failed_question:
        questions.flush()
    questions.close()  # logs the failure once more; must not raise
    assert "987654321" not in str(failed.value) and "geheimes" not in str(failed_question.value)


def test_the_database_password_is_masked_in_log_lines() -> None:
    forget_secrets()
    make_engine("postgresql://bot:s3cret-database-pw@127.0.0.1:1/none").dispose()
    assert redact("connection failed: password s3cret-database-pw rejected") == f"connection failed: password {MASK} rejected"
    forget_secrets()
