"""The channel registry: a channel is one module, and the rest of the bot asks the registry about it.

The proof: a fourth channel, written as one file in tmp_path, registers itself on import; the
settings accept its profile section, the config check names its secret, the back-office links
and the OpenAPI document include its deep link, the metrics declare its series, and the runtime
builds and runs it for its profile, answering from the knowledge, with no other edit anywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bot.channels.registry import channel_kind, channel_kinds, deep_links, unregister
from bot.config import load_settings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.ops.config_check import check_secrets, secret_names
from bot.ops.metrics import Metrics
from bot.runtime import run_channels
from bot.storage.stores import Storage
from bot.web.openapi import openapi_document
from bot.wiring import build_channels

PIGEON_CHANNEL = '''
"""Carrier pigeons as a chat channel: everything the bot needs to know about it, in one module."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.channels.registry import ChannelKind, DeepLink, register
from bot.core.models import Incoming

DELIVERED = []  # (loft, the replies' texts), as the pigeons carried them home


class PigeonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loft: str
    key_env: str = "PIGEON_KEY"


class PigeonChannel:
    def __init__(self, loft, profile, handle):
        self.loft, self.profile, self.handle = loft, profile, handle

    async def start(self):
        incoming = Incoming("pigeon", "roof-3", "Personalausweis beantragen", profile=self.profile)
        DELIVERED.append((self.loft, [reply.text for reply in self.handle(incoming)]))

    async def stop(self):
        DELIVERED.append((self.loft, "stopped"))


class PigeonLink(DeepLink):
    channel: Literal["pigeon"] = "pigeon"
    loft: str

    def instruction(self):
        return self.loft


class PigeonKind(ChannelKind):
    name = "pigeon"
    config_model = PigeonConfig
    delivers_reminders = True
    link_model = PigeonLink

    def secret_names(self, profile, section):
        return [section.key_env]

    def deep_link(self, profile, section, token):
        return PigeonLink(profile=profile.name, loft=f"{section.loft}#{token}")

    def build(self, wanted):
        return [PigeonChannel(wanted.section.loft, wanted.profile.name, wanted.context.handle)]


CHANNEL = register(PigeonKind())
'''


@pytest.fixture
def pigeon(tmp_path: Path) -> Iterator[ModuleType]:
    """The fourth channel, imported from its one file as a plugin would be."""
    path = tmp_path / "pigeon_channel.py"
    path.write_text(PIGEON_CHANNEL, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("pigeon_channel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pigeon_channel"] = module
    spec.loader.exec_module(module)
    yield module
    unregister("pigeon")
    del sys.modules["pigeon_channel"]


def pigeon_settings(tmp_path: Path, tiny_kb: Path, section: str = 'loft = "rathaus"') -> Path:
    config = tmp_path / "buergerbot.toml"
    config.write_text(f'knowledge_dirs = ["{tiny_kb}"]\nhttp.enabled = false\n\n[[profiles]]\nname = "buerger"\n\n[profiles.pigeon]\n{section}\n',
                      encoding="utf-8")
    return config


def test_the_built_in_channels_are_registry_entries() -> None:
    assert [kind.name for kind in channel_kinds()][:4] == ["console", "telegram", "matrix", "web"]
    kind = channel_kind("console")
    assert kind is not None and kind.fallback


def test_a_fourth_channel_from_one_file_is_built_and_run_for_its_profile(pigeon: ModuleType, tmp_path: Path, tiny_kb: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIGEON_KEY", raising=False)
    settings, errors = load_settings(pigeon_settings(tmp_path, tiny_kb))
    assert errors == [] and settings is not None
    assert settings.profiles[0].channels["pigeon"] == pigeon.PigeonConfig(loft="rathaus")

    assert "PIGEON_KEY" in secret_names(settings)
    assert "profile buerger: pigeon secret missing (set PIGEON_KEY)" in check_secrets(settings).errors
    monkeypatch.setenv("PIGEON_KEY", "feathers-and-seeds")
    assert not any("pigeon" in error for error in check_secrets(settings).errors)

    assert [link.model_dump() for link in deep_links(settings, "TOKEN")] == [{"channel": "pigeon", "profile": "buerger", "loft": "rathaus#TOKEN"}]
    schemas = openapi_document("/api/v1", ["de"])["components"]["schemas"]
    assert {"$ref": "#/components/schemas/PigeonLink"} in schemas["CreatedAppointment"]["properties"]["links"]["items"]["oneOf"]

    metrics = Metrics()
    live = LiveKnowledge([tiny_kb])
    channels = build_channels(settings, live, Storage(MemoryUserStates(), MemoryUnansweredLog()), metrics)
    assert [type(channel).__name__ for channel in channels] == ["PigeonChannel"]
    assert 'buergerbot_reminders_sent_total{channel="pigeon"} 0.0' in metrics.exposition()[0].decode()

    async def main() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(run_channels(settings, live, channels, stop=stop))
        while not pigeon.DELIVERED:
            await asyncio.sleep(0.01)
        stop.set()
        await runner

    asyncio.run(main())
    [(loft, texts), stopped] = pigeon.DELIVERED
    assert loft == "rathaus" and any("Antwort zu personalausweis" in text for text in texts)
    assert stopped == ("rathaus", "stopped")


def test_a_registered_channel_section_is_checked_against_its_model(pigeon: ModuleType, tmp_path: Path, tiny_kb: Path) -> None:
    settings, errors = load_settings(pigeon_settings(tmp_path, tiny_kb, 'loft = "rathaus"\nwings = 2'))
    assert settings is None
    assert errors == [f"{tmp_path / 'buergerbot.toml'}: profiles.0.channels: pigeon.wings: unknown key (check the spelling)"]


def test_an_unregistered_section_is_an_unknown_key(tmp_path: Path, tiny_kb: Path) -> None:
    settings, errors = load_settings(pigeon_settings(tmp_path, tiny_kb))
    assert settings is None
    assert errors == [f"{tmp_path / 'buergerbot.toml'}: profiles.0.pigeon: unknown key (check the spelling)"]
