"""The migrations build exactly the schema the table classes describe (no change without a migration),
and carry the rows already stored across."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from bot.core.models import ChatRef, UserState
from bot.storage.chat_states import SqlUserStates
from bot.storage.database import alembic_config, migrate
from bot.storage.tables import Base


def test_migrated_schema_matches_the_table_classes(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_a_language_stored_before_profiles_had_their_own_state_stays_with_the_default_profile(engine: Engine) -> None:
    """Migration 0005 keys chat states by profile: a row from before it becomes the profile "default"'s."""
    config = alembic_config(engine)
    command.downgrade(config, "0004")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO chat_states (channel, chat_id, language, updated_at) VALUES ('telegram', '1', 'en', :at)"),
                     {"at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)})
    migrate(engine)
    store = SqlUserStates(engine)
    assert store.load(ChatRef("telegram", "1", "default")).language == "en"
    assert store.load(ChatRef("telegram", "1", "welcome")) == UserState()
    store.save(ChatRef("telegram", "1", "welcome"), UserState(language="de"))
    # Back down, one row per chat: the choice made last, as the old key would have kept it.
    command.downgrade(config, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT channel, chat_id, language FROM chat_states")).all() == [("telegram", "1", "de")]
    migrate(engine)
    assert store.export(ChatRef("telegram", "1")) == {"default": UserState(language="de")}



def test_unanswered_questions_from_before_the_chat_pseudonym_are_kept(engine: Engine) -> None:
    """Migration 0007 adds the chat's pseudonym to unanswered questions; those stored before have none."""
    config = alembic_config(engine)
    command.downgrade(config, "0005")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO unanswered_questions (asked_at, language, channel, text) VALUES (:at, 'de', 'telegram', 'Wann ist Vollmond?')"),
                     {"at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text, chat_pseudonym FROM unanswered_questions")).all() == [("Wann ist Vollmond?", None)]
    command.downgrade(config, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM unanswered_questions")).scalars().all() == ["Wann ist Vollmond?"]


def test_rows_held_in_doubt_are_queued_again_and_held_rows_survive_a_downgrade(engine: Engine) -> None:
    """Migration 0008 makes reminders at least once: a row held in doubt goes back to the queue,
    counted as a doubtful send; going back down, reminders held for a blocked chat are queued."""
    config = alembic_config(engine)
    command.downgrade(config, "0005")
    insert = ("INSERT INTO reminders (dedupe_key, subject_id, channel, profile, chat_id, language, kind, params, due_at, status, worker, attempts)"
              " VALUES (:key, 's', 'telegram', 'default', '1', 'de', 'case_status', '{}', :at, :status, :worker, 1)")
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(text(insert), [{"key": "doubt", "at": at, "status": "in_doubt", "worker": "dead:1"},
                                    {"key": "sent", "at": at, "status": "sent", "worker": None}])
    migrate(engine)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT dedupe_key, status, worker, doubtful_sends FROM reminders ORDER BY dedupe_key")).all()
        assert [tuple(r) for r in rows] == [("doubt", "pending", None, 1), ("sent", "sent", None, 0)]
        conn.execute(text("UPDATE reminders SET status = 'blocked' WHERE dedupe_key = 'doubt'"))
    command.downgrade(config, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM reminders WHERE dedupe_key = 'doubt'")).scalar_one() == "pending"
    migrate(engine)


def test_usage_events_from_before_the_profile_column_count_as_the_default_profile(engine: Engine) -> None:
    """Migration 0010 adds the answering profile to usage events; those stored before get "default"."""
    config = alembic_config(engine)
    command.downgrade(config, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO usage_events (at, kind, entry_id, position, channel, language) "
                          "VALUES (:at, 'answer', 'sperrmuell', 0, 'telegram', 'de')"), {"at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC)})
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT entry_id, profile FROM usage_events")).all() == [("sperrmuell", "default")]
    command.downgrade(config, "0009")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT entry_id FROM usage_events")).scalars().all() == ["sperrmuell"]
    migrate(engine)
