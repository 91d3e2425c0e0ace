"""The package as a city installs it: every imported library declared, and the built wheel answering
from an empty folder with the demo city it ships, `init` writing a starter city that validates."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

BUILD_INPUTS = ["pyproject.toml", "setup.py", "README.md", "bot", "faq", "intents"]  # what the Dockerfile copies for the build


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules(package: Path) -> dict[str, set[Path]]:
    """Every module a file of ``package`` imports (functions and TYPE_CHECKING blocks included),
    by its top-level name, without the standard library and the package itself."""
    found: dict[str, set[Path]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, set()).add(path.relative_to(REPO))
    return found


def test_every_imported_library_is_declared() -> None:
    # A library that arrives only as another's dependency can go away with that one's next release.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [*project["dependencies"], *project["optional-dependencies"]["semantic"]]
    declared = {_normalised(_requirement_name(r)) for r in runtime}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, files in _imported_top_level_modules(REPO / "bot").items():
        names = {_normalised(d) for d in distributions.get(module, [])}
        if not names & declared:
            undeclared[module] = sorted(map(str, files))
    assert undeclared == {}, f"imported by bot/ but not in pyproject.toml's dependencies (or the semantic extra): {undeclared}"


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the sources (the build writes into its source tree), installed
    without dependencies into a folder of its own: those come from this environment."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source)],
                   check=True, capture_output=True, timeout=120)
    [wheel] = (root / "dist").glob("buergerbot-*.whl")
    site = root / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True, timeout=120)
    return site


@pytest.fixture(scope="module")
def empty_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the bot starts with nothing around it; shared, so that the matcher trained for one
    test is taken from its cache (./data/cache) by the other."""
    return tmp_path_factory.mktemp("empty")


def _environment(site: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERBOT_") and k != "PYTHONPATH"}
    # Words only: the sentence encoder would add its load time and say nothing about the package.
    env.update(PYTHONPATH=str(site), BUERGERBOT_MATCHING__ENCODER="off", BUERGERBOT_LOG_FORMAT="text", **settings)
    return env


def _bot(site: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=_environment(site), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_wheel_answers_from_an_empty_folder_and_init_writes_a_city_that_validates(installed_wheel: Path, empty_folder: Path, tmp_path: Path) -> None:
    site, empty = installed_wheel, empty_folder
    where = subprocess.run([sys.executable, "-c", "import bot; print(bot.__file__)"], cwd=empty, env=_environment(site),
                           capture_output=True, text=True, check=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(site), "the bot must come from the wheel, not the repository"

    asked = _bot(site, empty, "ask", "--json", "Wie beantrage ich einen Personalausweis?")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["id"] == "personalausweis" and "Bürgerbüro" in answer["answer"]
    assert "answering as the demo city shipped with the package" in asked.stderr

    city = tmp_path / "stadt"
    init = _bot(site, empty, "init", str(city))
    assert init.returncode == 0, init.stderr
    assert (city / "buergerbot.toml").is_file() and any((city / "faq" / "waste").glob("*.ics")) and (city / "intents").is_dir()
    assert not list(city.rglob("*.py")), "only the knowledge, not the package's modules"
    again = _bot(site, empty, "init", str(city))
    assert again.returncode == 1 and "nothing written" in again.stderr

    validated = _bot(site, city, "faq", "validate", "--quick")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    checked = _bot(site, city, "config", "check")
    assert checked.returncode == 0, checked.stderr
    assert 'city_name = "Musterstadt"' in checked.stdout and "demo city shipped" not in checked.stderr  # the city's own copy


def test_the_wheel_runs_from_an_empty_folder_until_stopped(installed_wheel: Path, empty_folder: Path) -> None:
    # No chat channel and no terminal: the operations server, the back-office API and reminders,
    # with the SQLite database created under ./data.
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=empty_folder, env=_environment(installed_wheel, BUERGERBOT_HTTP__PORT="0"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "running:" in line or "the bot stopped" in line:
                break
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "running:" in log and "demo city shipped" in log and (empty_folder / "data" / "buergerbot.db").is_file()
