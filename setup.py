"""What goes into the wheel: the packages, their data files, and the demo city's knowledge.

The rest of the build is in pyproject.toml; this file only because the demo knowledge needs a
mapping pyproject.toml cannot express. faq/ and intents/ stay at the repository root, the one copy
that `make run`, the tests and the image read; the wheel carries them, every subfolder included,
as bot/demo/faq and bot/demo/intents, so an installed bot answers from an empty folder (bot.demo).
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
KNOWLEDGE_FILES = ["*.yaml", "*.ics"]  # entries, offices, synonyms, intents; waste calendars

folders = [folder.relative_to(HERE) for top in ("faq", "intents") for folder in [HERE / top, *sorted((HERE / top).rglob("*"))] if folder.is_dir()]
demo_knowledge = {"bot.demo." + ".".join(folder.parts): folder.as_posix() for folder in folders}

setup(
    # Namespace discovery: the data folders (migrations, static, templates) are packages of their own.
    packages=[*find_namespace_packages(include=["bot", "bot.*"], exclude=["*.__pycache__"]), *demo_knowledge],
    package_dir=demo_knowledge,
    package_data={
        "bot.demo": ["buergerbot.toml"],
        "bot.storage": ["migrations/env.py", "migrations/*.mako", "migrations/versions/*.py"],
        "bot.channels.web": ["static/*"],
        "bot.locales": ["*.yaml"],  # the message catalogues (bot/core/texts.py)
        "bot.web.staff": ["templates/*.html", "static/*.css", "static/*.svg"],
        **dict.fromkeys(demo_knowledge, KNOWLEDGE_FILES),
    },
)
