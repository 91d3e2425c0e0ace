"""`buergerbot` on the command line.

``buergerbot worker`` starts from here without loading the rest of the bot (the matcher with NumPy
and SciPy, the reports): a reminder worker needs a third of the memory that way, and several run
side by side. Every other command is in bot.commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Settings, city_clock, load_settings
from bot.credentials import MissingSecret, log_pseudonym_key

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if _command(args) == "worker":
        return _worker(args)
    from bot.commands import main as commands_main

    return commands_main(args)


def _command(args: list[str]) -> str | None:
    """The subcommand: the first word that is neither an option nor the value of --config."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _worker(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="buergerbot", description="deliver due reminders only (run several against one PostgreSQL)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("command", choices=["worker"])
    parsed = parser.parse_args(args)
    settings, errors = load_settings(parsed.config)
    if settings is None:
        for e in errors:
            print(f"config: {e}", file=sys.stderr)
        return EXIT_USAGE
    return run_worker_command(settings)


def run_worker_command(settings: Settings) -> int:
    import logging

    from bot.ops.logs import configure_logging
    from bot.reminders.process import run_worker
    from bot.storage.database import make_engine, migrate

    log = logging.getLogger("bot.worker")
    try:
        configure_logging(settings.log_format, logging.INFO, log_pseudonym_key(settings))
        engine = make_engine(settings.database_url)
        migrate(engine)
        asyncio.run(run_worker(settings, engine, city_clock(settings)))
    except MissingSecret as exc:
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # an unreachable database, broken knowledge files: one clear line, then out
        log.error("the worker stopped: %s: %s", type(exc).__name__, exc)
        return EXIT_PROBLEMS
    return EXIT_OK
