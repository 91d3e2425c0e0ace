"""Schemathesis: requests generated from the OpenAPI description, sent to the running sub-app (SQLite).

Every answer must be one the description promises (status, content type, schema, headers), no
request may cause a server error, and requests the schema forbids must be refused. (Requests the
schema allows may still be refused: a past starts_at or an unknown office id.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from bot.config import BackofficeClient, ProfileConfig, Settings, TelegramConfig
from bot.storage.database import make_engine, migrate
from bot.web.backoffice import create_backoffice_app
from bot.web.openapi import openapi_document
from tests.reminders.conftest import LINK_KEY, NOW, OFFICES, TOKENS, Clock

PREFIX = "/api/v1"
schema = schemathesis.openapi.from_dict(openapi_document(PREFIX, ["de", "en"]))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BUERGERBOT_LINK_KEYS", LINK_KEY)
        env.setenv("TEST_BACKOFFICE_TERMINE", TOKENS["termine"])
        cfg = Settings(profiles=[ProfileConfig(name="buerger", telegram=TelegramConfig(username="MusterstadtBot"))],
                       backoffice_clients=[BackofficeClient(name="termine", token_env="TEST_BACKOFFICE_TERMINE")])
        engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'bot.db'}")
        migrate(engine)
        root = web.Application()
        root.add_subapp(PREFIX, create_backoffice_app(engine, cfg, lambda: OFFICES, Clock(NOW)))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(root)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}{PREFIX}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()
    engine.dispose()


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))  # the same cases in every run
def test_api_keeps_its_description(case: schemathesis.Case, base_url: str) -> None:
    # Schema-valid is not always acceptable: a starts_at in the past or an unknown office id is refused (400).
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {TOKENS['termine']}"},
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])
