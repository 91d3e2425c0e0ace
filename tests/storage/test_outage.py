"""The database goes away while citizens ask: questions are still answered, what needs the
database says so, and nothing of the outage is lost when it is back. Real databases: an SQLite
file that disappears, and a PostgreSQL database that is dropped."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.core.dialogue import Dialogue
from bot.core.live import LiveKnowledge
from bot.core.models import Reply
from bot.core.ports import MemoryUnansweredLog
from bot.storage.cached_states import CachedUserStates
from bot.storage.chat_states import SqlUserStates
from bot.storage.database import make_engine, migrate
from bot.wiring import build_dialogue, open_storage
from tests.conftest import CollectingChannel
from tests.databases import NO_POSTGRES, PG_URL, postgres_engine


class SqliteOutage:
    """The database file vanishes (a directory stands in its place, which no connection opens)."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "bot.db"
        self.away = tmp_path / "away"
        self.url = f"sqlite:///{self.path}"

    def down(self, engine: Engine) -> None:
        engine.dispose()  # the connections of the process break with it
        self.away.mkdir()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{self.path}{suffix}").exists():
                shutil.move(f"{self.path}{suffix}", self.away / f"bot.db{suffix}")
        self.path.mkdir()

    def up(self) -> None:
        self.path.rmdir()
        for moved in self.away.iterdir():
            shutil.move(moved, self.path.parent / moved.name)


class PostgresOutage:
    """The bot's database is dropped (connections terminated), then created and migrated again."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin.execution_options(isolation_level="AUTOCOMMIT")
        self.name = f"outage_{uuid.uuid4().hex[:12]}"
        self.url = make_url(PG_URL).set(database=self.name).render_as_string(hide_password=False)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))

    def down(self, engine: Engine) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))

    def up(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        engine = make_engine(self.url)
        migrate(engine)
        engine.dispose()

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteOutage | PostgresOutage]:
    if request.param == "sqlite":
        yield SqliteOutage(tmp_path)
        return
    admin = postgres_engine()
    if admin is None:
        pytest.skip(NO_POSTGRES)
    pg = PostgresOutage(admin)
    try:
        yield pg
    finally:
        pg.close()
        admin.dispose()


def test_questions_are_answered_while_the_database_is_away(
    outage: SqliteOutage | PostgresOutage, tiny_kb: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(database_url=outage.url, knowledge_dirs=[tiny_kb], holiday_region=None)
    storage = open_storage(settings)
    assert storage.engine is not None
    # Retried on every message rather than every few seconds, so the test need not wait.
    storage = dataclasses.replace(storage, states=CachedUserStates(SqlUserStates(storage.engine), retry_seconds=0))
    dialogue = build_dialogue(settings, LiveKnowledge([tiny_kb]), storage)
    known = CollectingChannel(dialogue, "telegram", "42")
    assert known.say("Perso beantragen")[0].entry_id == "personalausweis"

    outage.down(storage.engine)
    caplog.set_level(logging.INFO)
    # A chat the process knows, and one it has never seen: both are answered.
    assert known.say("Perso beantragen")[0].entry_id == "personalausweis"
    stranger = CollectingChannel(dialogue, "telegram", "43")
    [answer] = stranger.say("How do I apply for an identity card?")
    assert answer.entry_id == "personalausweis" and answer.language == "en"
    # A language chosen during the outage holds for the chat.
    known.command("language")
    assert known.say(choice="lang:en")[0].text == "All right, I will answer in English from now on."
    assert known.say("ok")[0].language == "en"  # a message without a language of its own
    # What needs the database says so, in the chat's language, instead of nothing.
    sorry = ["Sorry, I have a technical problem right now. Please try again later. I can still answer questions about the city's services."]
    assert [r.text for r in known.command("erinnerungen")] == sorry
    assert [r.text for r in known.command("meinedaten")] == sorry
    known.command("loeschen")
    assert [r.text for r in known.say(choice="delete:yes")] == sorry  # not "deleted": nothing was
    # The stranger wrote in English, so the command (which carries no language) is answered in English.
    assert stranger.command("termin", "morgen um 10")[0].text.startswith("Shall I remind you of this appointment?")  # asking needs no database
    assert [r.text for r in stranger.say(choice="rem:yes")] == sorry
    unavailable = [r for r in caplog.records if "chat state store unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # once for the outage, not once a message

    outage.up()
    assert known.say("ok")[0].language == "en"
    assert [r.getMessage() for r in caplog.records if "store is back" in r.getMessage()] == [
        "chat state store is back: 2 chat states changed during the outage written"
    ]
    with storage.engine.connect() as conn:
        assert conn.execute(text("select chat_id, language from chat_states")).all() == [("42", "en")]
    [export] = known.command("meinedaten")
    assert "This is everything I have stored about this chat" in export.text and '"language": "en"' in export.text
    assert "deleted everything" in known.say(choice="delete:yes")[0].text  # the same button, pressed again
    with storage.engine.connect() as conn:
        assert conn.execute(text("select count(*) from chat_states")).scalar() == 0
    storage.close()
    storage.engine.dispose()


def test_a_database_host_that_does_not_answer_holds_a_question_only_for_the_connect_timeout(tiny_kb: Path) -> None:
    """A port that takes connections and never speaks, like a stopped proxy in front of PostgreSQL."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    engine = make_engine(f"postgresql://bot@127.0.0.1:{port}/bot", connect_timeout=1)
    states = CachedUserStates(SqlUserStates(engine))
    live = LiveKnowledge([tiny_kb])
    dialogue = Dialogue(lambda: live.snapshot, states, MemoryUnansweredLog())
    replies: list[list[Reply]] = []
    started = time.monotonic()
    asking = threading.Thread(target=lambda: replies.append(CollectingChannel(dialogue).say("Perso beantragen")), daemon=True)
    asking.start()
    asking.join(timeout=15)
    first = time.monotonic() - started
    try:
        assert replies and replies[0][0].entry_id == "personalausweis"
        assert first < 4
        started = time.monotonic()
        assert CollectingChannel(dialogue, chat_id="another").say("Perso beantragen")[0].entry_id == "personalausweis"
        assert time.monotonic() - started < 0.5  # within the retry interval the store is not tried again
    finally:
        silent.close()
        engine.dispose()
