"""The package graph: bot/core imports no chat, database, HTTP or scheduler library, and no bot
module depends on itself through others (checked on the syntax trees, without importing anything)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

# I/O libraries and the bot's outer layers; the core reaches them only through its ports.
FORBIDDEN = {
    "telegram", "nio", "sqlalchemy", "apscheduler", "aiohttp", "alembic", "httpx", "redis", "psycopg", "psycopg2", "aiosqlite",
    "prometheus_client", "socket", "bot.channels", "bot.storage", "bot.reminders", "bot.web", "bot.ops", "bot.wiring", "bot.runtime", "bot.cli",
}
ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "bot" / "core"


def imported_modules(path: Path, *, type_checking: bool = True) -> set[str]:
    """Every module ``path`` imports, at module level or inside functions; ``type_checking=False``
    leaves out the imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if type_checking else {id(node) for block in ast.walk(tree) if _type_checking(block) for node in ast.walk(block)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from bot import cli` imports bot.cli
    return names


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def bot_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for path in sorted((root / "bot").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the bot modules it imports. Imports inside functions count: deferring an import
    changes when a module loads, not that it depends on the other. Imports under TYPE_CHECKING do
    not: they never run, and naming a type in an annotation is no dependency."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_modules(path, type_checking=False):
            while imported and imported not in modules:  # `from bot.config import Settings` → bot.config
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):  # a package's own __init__ is no cycle
                targets.add(imported)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def offenders(files: Iterable[Path], forbidden: set[str], base: Path) -> set[str]:
    return {
        f"{path.relative_to(base)}: {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    }


def test_core_imports_no_adapter_library() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5
    assert offenders(files, FORBIDDEN, CORE) == set()


def test_no_bot_module_imports_itself_through_others() -> None:
    graph = import_graph(bot_modules())
    assert len(graph) > 50 and graph["bot.wiring"] >= {"bot.channels.registry", "bot.config", "bot.runtime"}
    assert cycles(graph) == []


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from telegram import Bot\nimport sqlalchemy.orm\n", encoding="utf-8")
    assert offenders([bad], FORBIDDEN, tmp_path) == {"bad.py: telegram", "bad.py: telegram.Bot", "bad.py: sqlalchemy.orm"}


def test_checker_finds_a_cycle_through_a_deferred_import_but_not_through_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "bot"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "a.py").write_text("from bot.b import thing\n", encoding="utf-8")
    (package / "b.py").write_text("def thing():\n    from bot import c\n", encoding="utf-8")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.b import thing\nimport bot.a\n",
                                  encoding="utf-8")
    assert cycles(import_graph(bot_modules(tmp_path))) == [["bot.a", "bot.b", "bot.c"]]
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bot.a\n", encoding="utf-8")
    assert cycles(import_graph(bot_modules(tmp_path))) == []
