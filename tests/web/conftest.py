"""The back-office API mounted under /api/v1 of a test server, driven synchronously from tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

from bot.config import Settings
from bot.web.backoffice import create_backoffice_app
from tests.reminders.conftest import OFFICES, TOKENS, Clock, clock, settings  # noqa: F401  (fixtures)

PREFIX = "/api/v1"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or the text when it is not JSON


class Api:
    """A running test server with the sub-app mounted like the operations server does; one event loop per test."""

    def __init__(self, app: web.Application) -> None:
        root = web.Application()
        root.add_subapp(PREFIX, app)
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.client = TestClient(TestServer(root), loop=self.loop)
        self.loop.run_until_complete(self.client.start_server())

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = TOKENS["termine"], key: str | None = None,
                data: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        return self.loop.run_until_complete(self.send(method, path, body, token=token, key=key, data=data, headers=headers))

    async def send(self, method: str, path: str, body: Any = None, *, token: str | None = TOKENS["termine"], key: str | None = None,
                   data: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            all_headers["Idempotency-Key"] = key
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        async with self.client.request(method, PREFIX + path, data=data, headers=all_headers) as response:
            text = await response.text()
            try:
                parsed: Any = json.loads(text)
            except ValueError:
                parsed = text
            return Reply(response.status, dict(response.headers), parsed)

    def parallel(self, *calls: Callable[[], Any]) -> list[Reply]:
        async def run_all() -> list[Reply]:
            return list(await asyncio.gather(*(call() for call in calls)))

        return self.loop.run_until_complete(run_all())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture
def make_api(engine: Engine, settings: Settings, clock: Clock) -> Iterator[Callable[..., Api]]:  # noqa: F811  (pytest fixtures)
    made: list[Api] = []

    def make(known_offices: Callable[[], Collection[str]] = lambda: OFFICES, **overrides: Any) -> Api:
        api = Api(create_backoffice_app(engine, settings.model_copy(update=overrides), known_offices, clock))
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
