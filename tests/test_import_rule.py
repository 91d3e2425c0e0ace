"""bot/core must not import chat, database or scheduler libraries (checked on the syntax tree)."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"telegram", "nio", "sqlalchemy", "apscheduler", "aiohttp", "alembic", "bot.channels", "bot.storage", "bot.app", "bot.cli"}
CORE = Path(__file__).resolve().parents[1] / "bot" / "core"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_adapter_library() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5
    offenders = {
        f"{path.relative_to(CORE)}: {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert offenders == set()


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from telegram import Bot\nimport sqlalchemy.orm\n", encoding="utf-8")
    assert imported_modules(bad) == {"telegram", "sqlalchemy.orm"}
