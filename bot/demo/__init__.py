"""The demo city Musterstadt, shipped with the package: its settings and its knowledge.

``buergerbot.toml`` here holds everything city-specific the bot needs besides the knowledge (the
city's name, holidays, menu topics, the phone office); the code's defaults are neutral. The
knowledge folders (``faq/``, ``intents/``) live once, at the repository root; the wheel carries
them here (setup.py), so an installed bot answers from an empty folder. A city starts its own with
``buergerbot init DIR``, which copies both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SETTINGS_FILE = Path(__file__).with_name("buergerbot.toml")
KNOWLEDGE_FOLDERS = ("faq", "intents")


DEMO_NOTICE = ("no buergerbot.toml and no knowledge folders here: answering as the demo city shipped with the package; "
               "`buergerbot init DIR` writes its settings and knowledge to DIR as a starting point for your city")


class StarterExists(Exception):
    """``init`` would overwrite a file or folder that is already there."""


def demo_folder() -> Path | None:
    """The folder holding the demo knowledge folders: this package in an installed wheel, the
    repository root in a source checkout (where setup.py maps them from); None if neither has them."""
    package = Path(__file__).resolve().parent
    for folder in (package, package.parent.parent):
        if all((folder / name).is_dir() for name in KNOWLEDGE_FOLDERS):
            return folder
    return None


def demo_knowledge() -> list[Path] | None:
    """The demo knowledge folders, as absolute paths; None if they are not installed."""
    folder = demo_folder()
    return None if folder is None else [folder / name for name in KNOWLEDGE_FOLDERS]


def uses_demo_knowledge(knowledge_dirs: list[Path]) -> bool:
    """Whether the bot reads the shipped demo knowledge (bot.config falls back to it) rather than
    folders of the city's own, which are configured relative to where the bot starts or absolute
    elsewhere."""
    shipped = demo_knowledge()
    return shipped is not None and knowledge_dirs == shipped


def write_starter(target: Path) -> list[Path]:
    """Copy the demo city into ``target``: buergerbot.toml and the knowledge folders, to edit.

    Nothing is overwritten: if any of them exists, StarterExists names it and nothing is written.
    """
    source = demo_folder()
    if source is None:
        raise FileNotFoundError("the demo knowledge is not installed with this package (faq/ and intents/ are missing)")
    written = [target / SETTINGS_FILE.name, *(target / name for name in KNOWLEDGE_FOLDERS)]
    there = [path for path in written if path.exists()]
    if there:
        raise StarterExists(", ".join(map(str, there)))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SETTINGS_FILE, written[0])
    # Only the knowledge: the wheel's package folders may hold an __init__.py or bytecode.
    keep_out = shutil.ignore_patterns("*.py", "*.pyc", "__pycache__")
    for name in KNOWLEDGE_FOLDERS:
        shutil.copytree(source / name, target / name, ignore=keep_out)
    return written
