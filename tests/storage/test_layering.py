"""bot/storage is infrastructure: the reminder domain builds on its tables, never the other way round."""

from __future__ import annotations

from pathlib import Path

from tests.test_import_rule import imported_modules

STORAGE = Path(__file__).resolve().parents[2] / "bot" / "storage"


def test_storage_imports_nothing_of_the_reminder_domain_or_the_wiring() -> None:
    files = sorted(STORAGE.rglob("*.py"))
    assert len(files) > 5
    offenders = {
        f"{path.relative_to(STORAGE)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.startswith(("bot.reminders", "bot.wiring", "bot.runtime", "bot.cli", "bot.handover"))
    }
    assert offenders == set()
