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
