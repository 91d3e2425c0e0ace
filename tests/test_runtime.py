"""Profiles from the configuration: one process, several faces of the bot."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest

from bot.app import Storage, build_dialogue
from bot.config import Settings, load_settings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.credentials import MissingSecret
from bot.runtime import build_channels
from tests.conftest import REPO
from tests.fakes.aio import reap_tasks
from tests.fakes.telegram_api import FakeBotApi

CITIZENS, WELCOME = "111:CITIZENS", "222:WELCOME"
MEMORY = Storage(MemoryUserStates(), MemoryUnansweredLog())


def test_example_config_is_valid() -> None:
    settings, errors = load_settings(REPO / "buergerbot.example.toml")
    assert errors == [] and settings is not None
    assert [p.name for p in settings.profiles] == ["buerger", "welcome"]
    welcome = settings.profiles[1]
    assert welcome.default_language == "en" and welcome.preferred_tags == ["welcome"]


def test_welcome_profile_settings_reach_the_dialogue(tiny_kb: Path) -> None:
    data = tomllib.loads((REPO / "buergerbot.example.toml").read_text(encoding="utf-8"))
    settings = Settings(**{**data, "knowledge_dirs": [tiny_kb]})
    live = LiveKnowledge([tiny_kb])
    d = build_dialogue(settings, live, MEMORY, settings.profiles[1]).settings
    assert d.default_language == "en"
    assert d.preferred_tags == frozenset({"welcome"})
    assert d.greeting is not None and d.greeting["en"].startswith("Welcome to Musterstadt!")
    assert d.popular[0] == "welcome-center"
    assert d.use_language_hint is False


def test_missing_token_is_reported(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUERGERBOT_TELEGRAM_TOKEN", raising=False)
    settings = Settings(profiles=[{"name": "buerger", "telegram": {}}])  # type: ignore[list-item]
    with pytest.raises(MissingSecret, match="BUERGERBOT_TELEGRAM_TOKEN"):
        build_channels(settings, LiveKnowledge([tiny_kb]), MEMORY)


def test_two_profiles_in_one_process(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")

    async def main() -> None:
        async with FakeBotApi(CITIZENS) as citizens, FakeBotApi(WELCOME) as welcome:
            monkeypatch.setenv("TOKEN_A", CITIZENS)
            monkeypatch.setenv("TOKEN_B", WELCOME)
            settings = Settings(knowledge_dirs=[tiny_kb], profiles=[  # type: ignore[list-item]
                {"name": "buerger", "telegram": {"token_env": "TOKEN_A", "base_url": citizens.base_url}},
                {"name": "welcome", "default_language": "en", "use_client_language": False, "greeting": {"en": "Welcome, newcomer!", "de": "Willkommen!"},
                 "telegram": {"token_env": "TOKEN_B", "base_url": welcome.base_url}},
            ])
            channels = build_channels(settings, LiveKnowledge([tiny_kb]), MEMORY)
            for c in channels:
                await c.start()
            try:
                citizens.push_message(1, "/start")
                welcome.push_message(1, "/start")
                [a] = await citizens.wait_for(1, chat_id=1)
                [b] = await welcome.wait_for(1, chat_id=1)
            finally:
                for c in channels:
                    await c.stop()
                await reap_tasks()
        assert a["text"].startswith("Antwort zu begruessung.")
        assert b["text"].startswith("Welcome, newcomer!")

    asyncio.run(main())
