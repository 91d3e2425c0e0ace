"""The composition root (bot.wiring). `buergerbot run` with reminders: the back-office API on the
operations server creates a booking, the citizen links it with /start, and the scheduler in the
same process delivers through Telegram. `buergerbot worker`: only delivers, in the same lifecycle."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import Settings, city_clock
from bot.core.live import LiveKnowledge
from bot.core.models import ChatRef, NoticeKind
from bot.ops.metrics import Metrics
from bot.reminders.queue import Due, enqueue
from bot.runtime import run_channels
from bot.storage.tables import ReminderRow
from bot.wiring import build_channels, open_database, open_storage, reminder_parts, run_worker
from tests.fakes.aio import eventually, free_port, reap_tasks
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "555:REMIND"
CLIENT_TOKEN = "t" * 40


def test_booking_link_and_delivery_in_one_running_bot(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("REMIND_TOKEN", TOKEN)
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "ab" * 32)
    monkeypatch.setenv("TERMINE_TOKEN", CLIENT_TOKEN)
    port = free_port()

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            settings = Settings(  # type: ignore[arg-type]
                knowledge_dirs=[tiny_kb], database_url=f"sqlite:///{tmp_path / 'bot.db'}", data_dir=tmp_path,
                http={"port": port}, reminders={"poll_seconds": 0.2, "quiet_hours": ["00:00", "00:00"]},
                backoffice_clients=[{"name": "termine", "token_env": "TERMINE_TOKEN"}],
                profiles=[{"name": "buerger", "telegram": {"token_env": "REMIND_TOKEN", "base_url": fake.base_url, "username": "musterstadt_bot"}}],
            )
            live = LiveKnowledge([tiny_kb])
            storage = open_storage(settings)
            metrics = Metrics()
            channels = build_channels(settings, live, storage, metrics)
            services, extensions = reminder_parts(settings, live, storage, channels, metrics)
            stop = asyncio.Event()
            runner = asyncio.create_task(run_channels(settings, live, channels, storage=storage, metrics=metrics,
                                                      services=services, extensions=extensions, stop=stop))
            try:
                base = f"http://127.0.0.1:{port}"
                async with aiohttp.ClientSession() as http:
                    async def up() -> bool:
                        try:
                            async with http.get(f"{base}/readyz") as r:
                                return r.status == 200
                        except aiohttp.ClientError:
                            return False

                    await eventually(up)
                    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0).isoformat()
                    body = {"external_ref": "T-1", "starts_at": starts, "office": "buergerbuero", "subject": "Personalausweis", "language": "de"}
                    async with http.post(f"{base}/api/v1/appointments", json=body) as r:
                        assert r.status == 401
                    async with http.post(f"{base}/api/v1/appointments", json=body, headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}) as r:
                        assert r.status == 201
                        created = await r.json()
                    assert any(link.startswith("https://t.me/musterstadt_bot?start=") for link in str(created).split("'"))

                    fake.push_message(42, f"/start {created['token']}")
                    [confirmation] = await fake.wait_for(1, chat_id=42)
                    assert "Personalausweis" in confirmation["text"] or "Termin" in confirmation["text"]
                    with storage.engine.connect() as conn:  # type: ignore[union-attr]
                        leads = conn.execute(select(ReminderRow.kind).where(ReminderRow.chat_id == "42")).scalars().all()
                    assert leads == ["appointment", "appointment"]

                    with storage.engine.begin() as conn:  # type: ignore[union-attr]
                        enqueue(conn, [Due("case:test", "s", ChatRef("telegram", "42", "buerger"), "de", NoticeKind.CASE_STATUS,
                                           {"reference": "RP-2026-4711", "document": "reisepass", "status": "ready_for_pickup"},
                                           dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))])
                    [_, notice] = await fake.wait_for(2, chat_id=42)
                    assert "RP-2026-4711" in notice["text"]

                    async def counted() -> bool:  # once the worker has recorded the send, just after it arrived
                        async with http.get(f"{base}/metrics") as r:
                            return 'buergerbot_reminders_sent_total{channel="telegram"} 1.0' in await r.text()

                    await eventually(counted, timeout=10)
            finally:
                stop.set()
                await runner
                storage.close()
                await reap_tasks()

    asyncio.run(main())


def test_the_worker_delivers_through_the_shared_lifecycle_and_takes_no_updates(tiny_kb: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`buergerbot worker` runs in runtime.serve as `run` does: /readyz reports the knowledge, the
    database and the channels; its Telegram channel only sends (no getUpdates: `run` answers the
    chats); stopping ends the scheduler, then the channel, then HTTP."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("REMIND_TOKEN", TOKEN)
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "ab" * 32)
    port = free_port()

    async def main() -> None:
        async with FakeBotApi(TOKEN) as fake:
            settings = Settings(  # type: ignore[arg-type]
                knowledge_dirs=[tiny_kb], database_url=f"sqlite:///{tmp_path / 'bot.db'}", data_dir=tmp_path,
                http={"port": port}, reminders={"poll_seconds": 0.2, "quiet_hours": ["00:00", "00:00"]},
                profiles=[{"name": "buerger", "telegram": {"token_env": "REMIND_TOKEN", "base_url": fake.base_url}},
                          {"name": "welcome", "web": True}],
            )
            engine = open_database(settings)
            with engine.begin() as conn:
                enqueue(conn, [Due("case:worker", "s", ChatRef("telegram", "42", "buerger"), "de", NoticeKind.CASE_STATUS,
                                   {"reference": "RP-2026-4711", "document": "reisepass", "status": "ready_for_pickup"},
                                   dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))])
            stop = asyncio.Event()
            runner = asyncio.create_task(run_worker(settings, engine, city_clock(settings), stop))
            try:
                [notice] = await fake.wait_for(1, chat_id=42)
                assert "RP-2026-4711" in notice["text"]
                async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    assert r.status == 200
                    assert (await r.json())["checks"] == {"knowledge": "ok", "database": "ok", "channels": "ok"}
            finally:
                stop.set()
                await runner
                engine.dispose()
                await reap_tasks()
            assert not any(method == "getUpdates" for method, _, _ in fake.calls)
            with pytest.raises(aiohttp.ClientError):
                async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz"):
                    pass

    asyncio.run(main())


def test_the_city_catalogues_are_installed_from_the_settings(tmp_path: Path) -> None:
    from bot.core import texts
    from bot.wiring import install_catalogues

    locales = tmp_path / "locales"
    locales.mkdir()
    (locales / "uk.yaml").write_text("popular: 'Часто питають:'\n", encoding="utf-8")
    (locales / "de.yaml").write_text("popular: [kaputt\n", encoding="utf-8")  # left out, logged
    before = texts.active()
    try:
        install_catalogues(Settings(locales={"dirs": [locales], "fallbacks": {"uk": ["de"]}}))  # type: ignore[arg-type]
        assert texts.text("popular", "uk") == "Часто питають:"
        assert texts.text("did_you_mean", "uk") == "Meinten Sie …?"
        assert texts.text("popular", "de") == "Häufig gefragt:"
    finally:
        texts.install(before)
