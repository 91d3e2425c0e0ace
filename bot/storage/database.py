"""Engine creation and schema migrations (Alembic, run programmatically at start-up)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from bot.ops.logs import register_secret

MIGRATIONS = Path(__file__).with_name("migrations")


# Seconds a new PostgreSQL connection may take. Without a bound, a database host that does not
# answer holds a message for minutes (the operating system's TCP timeout): the chat state cache
# meets such an outage in a dialogue turn, and only falls back to memory once this has passed.
CONNECT_TIMEOUT = 5


def make_engine(url: str, connect_timeout: int = CONNECT_TIMEOUT) -> Engine:
    parsed = make_url(url)
    if parsed.password:
        register_secret(str(parsed.password))  # a driver's error may quote it without the URL around it
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers and the one writer work at once; the timeout waits out short locks.
            # synchronous=NORMAL (SQLite's advice for WAL): a commit survives the process being
            # killed, only a power cut or OS crash may take back the newest ones; FULL waits for
            # an fsync at every commit (~4 ms here), which Telegram's per-answer mark pays.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    connect_args: dict[str, object] = {}
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername.startswith(("postgresql", "postgres")) and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout  # one set in the URL wins
    # hide_parameters: an error's text (logged) must not carry chat ids or citizens' questions.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


def as_utc(at: dt.datetime) -> dt.datetime:
    """Times are stored and compared in UTC: SQLite keeps no offset, so a city-local time would be
    off by an hour or two against a cut-off. A time without a zone is taken as UTC."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run from several workers at once on
    PostgreSQL: migrations/env.py serialises them with an advisory lock)."""
    command.upgrade(alembic_config(engine), "head")


@cache
def _newest_revisions() -> frozenset[str]:
    # The migration scripts do not change while the process runs; reading them costs milliseconds.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def schema_problem(engine: Engine) -> str | None:
    """None when the database answers and its schema is at the newest migration (Alembic's version
    table), else why not: an emptied or an outdated database answers ``select 1`` all the same."""
    with engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    newest = _newest_revisions()
    if current == newest:
        return None
    if not current:
        return f"no schema version in the database (expected {', '.join(sorted(newest))}; emptied or never migrated?)"
    return f"schema version {', '.join(sorted(current))}, expected {', '.join(sorted(newest))}"
