"""Alembic environment: the engine is handed over by bot.storage.database.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bot.storage.tables import Base

# Any constant shared by every worker: several workers start at once against one database.
MIGRATION_LOCK = 0x6275_6572_6765_72  # "buerger"

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # One worker migrates; the others wait here until it commits, then find the schema current.
        # (Without it, concurrent CREATE TABLEs fail with a unique violation in pg_type.)
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
