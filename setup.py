"""The one build setting pyproject.toml cannot hold: the demo city's knowledge folders.

faq/ and intents/ stay at the repository root, the one copy that `make run`, the tests and the
image read; the wheel carries them as the package data bot/demo/faq and bot/demo/intents, so an
installed bot answers from an empty folder (bot.demo).
"""

from setuptools import find_packages, setup

DEMO_KNOWLEDGE = {"bot.demo.faq": "faq", "bot.demo.intents": "intents"}

setup(packages=[*find_packages(include=["bot", "bot.*"]), *DEMO_KNOWLEDGE], package_dir=DEMO_KNOWLEDGE)
