"""The web channel as `buergerbot run` builds it from the configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from bot.channels.web import WebChannel
from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.core.memory_book import MemoryReminderBook
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.texts import text
from bot.ops.metrics import Metrics
from bot.storage.stores import Storage
from bot.wiring import build_channels
from tests.channels.web.test_protocol import hello, text_of


def test_one_listener_serves_every_profile_on_the_web_without_reminders(tiny_kb: Path) -> None:
    settings = Settings(knowledge_dirs=[tiny_kb], web={"port": 0}, profiles=[  # type: ignore[arg-type, list-item]
        {"name": "buerger", "web": True},
        {"name": "welcome", "default_language": "en", "greeting": {"en": "Welcome, newcomer!", "de": "Willkommen!"}, "web": True},
        {"name": "intern"},
    ])
    storage = Storage(MemoryUserStates(), MemoryUnansweredLog(), book=MemoryReminderBook())
    metrics = Metrics()
    [channel] = build_channels(settings, LiveKnowledge([tiny_kb]), storage, metrics)
    assert isinstance(channel, WebChannel) and sorted(channel.handles) == ["buerger", "welcome"]

    async def main() -> tuple[str, str]:
        await channel.start()
        try:
            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{channel.server.port}"
                ws, _ = await hello(http, base, session="w" * 20)
                await ws.send_json({"type": "message", "cid": "a", "command": "start"})
                buerger = text_of(await ws.receive_json(timeout=5))
                await ws.close()
                welcome = await http.post(base + "/api/message", json={"session": "w" * 20, "profile": "welcome", "lang": "en", "cid": "a", "command": "start"})
                greeting = text_of((await welcome.json())["items"][0])
                reminder = await http.post(base + "/api/message", json={"session": "w" * 20, "profile": "welcome", "cid": "b", "text": "/termin", "after": 1})
                return buerger + "\n" + greeting, text_of((await reminder.json())["items"][0])
        finally:
            await channel.stop()

    greetings, reminder = asyncio.run(main())
    assert "Antwort zu begruessung" in greetings and "Welcome, newcomer!" in greetings
    assert reminder == text("reminders_unavailable", "en")
    exposition = metrics.exposition()[0].decode()
    assert 'buergerbot_messages_received_total{channel="web",profile="welcome"} 2.0' in exposition


def test_the_chat_may_not_share_the_operations_port() -> None:
    with pytest.raises(ValueError, match=r"web\.port: 8080 is the operations server's port"):
        Settings(http={"port": 8080}, web={"port": 8080}, profiles=[{"name": "buerger", "web": True}])  # type: ignore[arg-type, list-item]
    Settings(http={"port": 8080}, web={"port": 8081}, profiles=[{"name": "buerger", "web": True}])  # type: ignore[arg-type, list-item]


def test_config_check_notes_a_proxy_whose_clients_would_share_one_limit(tiny_kb: Path) -> None:
    from bot.ops.config_check import check_config

    def notes(**web: object) -> list[str]:
        settings = Settings(knowledge_dirs=[tiny_kb], web=web, profiles=[{"name": "buerger", "web": True}])  # type: ignore[arg-type, list-item]
        return [n for n in check_config(settings).notes if n.startswith("web:")]

    assert len(notes()) == 1 and "forwarded_for" in notes()[0]
    assert notes(forwarded_for=True) == []
    assert notes(listen="0.0.0.0") == []
