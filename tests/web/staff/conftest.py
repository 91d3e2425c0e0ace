"""The staff dashboard mounted under /staff/ like the operations server does, on a tiny knowledge
base and a SQLite database with a few unanswered questions, usage events and votes; driven
synchronously with aiohttp's client (its cookie jar plays the browser)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import Engine

from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.core.ports import AnswerFeedback
from bot.reports.links import LinkCheck
from bot.storage.database import make_engine, migrate
from bot.storage.feedback import SqlFeedbackLog
from bot.storage.staff import StaffAccounts
from bot.storage.unanswered import SqlUnansweredLog
from bot.storage.usage import SqlUsageLog
from bot.web.staff.app import LinkChecker, create_staff_app
from bot.web.staff.security import LoginLimiter
from tests.conftest import TINY_OFFICES, TINY_SYNONYMS, entry_yaml

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
PASSWORD = "richtig-langes-passwort"
PAGES = ("", "unanswered", "usage", "feedback", "stale", "validation")
# Cheap parameters for the tests' many sign-ins; production uses argon2-cffi's defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def knowledge(root: Path) -> Path:
    root.mkdir()
    (root / "offices.yaml").write_text(TINY_OFFICES, encoding="utf-8")
    (root / "synonyms.yaml").write_text(TINY_SYNONYMS, encoding="utf-8")
    entries = [
        entry_yaml("personalausweis", ["Personalausweis beantragen", "perso verlängern", "neuer Ausweis"],
                   ["apply for identity card", "renew id card", "new identity card"], "    last_reviewed: 2026-10-01\n"),
        entry_yaml("sperrmuell", ["Sperrmüll anmelden", "Sperrmüll abholen lassen", "alte Möbel entsorgen"],
                   ["bulky waste collection", "get rid of old furniture", "bulky waste pickup"],
                   "    owner: Team Abfall\n    last_reviewed: 2024-01-10\n    links:\n      - kind: form\n"
                   "        url: https://city.example/sperrmuell\n        label: {de: Formular, en: Form}\n"),
    ]
    (root / "entries.yaml").write_text("entries:\n" + "".join(entries), encoding="utf-8")
    return root


def seed(engine: Engine) -> None:
    unanswered = SqlUnansweredLog(engine)
    for text, lang in [("Wann ist Vollmond?", "de"), ("wann ist vollmond", "de"), ("When is the full moon?", "en"),
                       ("<script>alert(1)</script> Hundesteuer?", "de")]:
        unanswered.record(text, lang, "telegram", NOW - dt.timedelta(hours=3))
    unanswered.close()
    usage = SqlUsageLog(engine)
    usage.record("answer", ("sperrmuell",), "telegram", "de", NOW - dt.timedelta(days=1, hours=2), "buerger")
    usage.record("answer", ("sperrmuell",), "matrix", "en", NOW - dt.timedelta(hours=1), "welcome")
    usage.record("out_of_scope", (), "telegram", "de", NOW - dt.timedelta(hours=1), "buerger")
    usage.close()
    votes = SqlFeedbackLog(engine)
    votes.record(AnswerFeedback("sperrmuell", "de", "web", "buerger", "down", NOW - dt.timedelta(hours=2), "Abholtermine fehlen"))
    votes.record(AnswerFeedback("personalausweis", "de", "web", "buerger", "up", NOW - dt.timedelta(hours=2)))
    votes.close()


@dataclass(frozen=True)
class Page:
    status: int
    headers: Mapping[str, str]
    cookies: list[str]  # the Set-Cookie header lines
    text: str

    @property
    def csrf(self) -> str:
        found = CSRF_FIELD.search(self.text)
        assert found, "no CSRF field on the page"
        return found.group(1)


class Browser:
    """One client with its own cookie jar against the dashboard, on its own event loop."""

    def __init__(self, root: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = TestClient(TestServer(root), loop=self.loop)
        self.loop.run_until_complete(self.client.start_server())

    def get(self, path: str, **kwargs: Any) -> Page:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: Mapping[str, Any] | list[tuple[str, str]], **kwargs: Any) -> Page:
        return self.request("POST", path, data=data, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Page:
        async def go() -> Page:
            kwargs.setdefault("allow_redirects", False)
            async with self.client.request(method, path, **kwargs) as response:
                return Page(response.status, dict(response.headers), response.headers.getall("Set-Cookie", []), await response.text())

        return self.loop.run_until_complete(go())

    def sign_in(self, name: str, password: str = PASSWORD, next_path: str = "/staff/", **kwargs: Any) -> Page:
        form = self.get("/staff/login")
        return self.post("/staff/login", {"csrf": form.csrf, "name": name, "password": password, "next": next_path}, **kwargs)

    def cookie(self, name: str) -> str | None:
        for morsel in self.client.session.cookie_jar:
            if morsel.key == name:
                return morsel.value
        return None

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Dashboard:
    engine: Engine
    accounts: StaffAccounts
    live: LiveKnowledge
    kb: Path
    clock: Clock
    app: Callable[..., web.Application]  # the dashboard mounted at /staff/ of a root application
    open: Callable[..., Browser]


async def no_links(urls: list[str], timeout: float) -> dict[str, LinkCheck]:
    return {url: LinkCheck(url, 404, "HTTP 404") for url in urls}


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    seed(engine)
    kb = knowledge(tmp_path / "kb")
    live = LiveKnowledge([kb])
    accounts = StaffAccounts(engine, FAST_HASHER)
    accounts.add("erika", PASSWORD, "editor", NOW)
    accounts.add("viktor", PASSWORD, "viewer", NOW)
    clock = Clock()
    browsers: list[Browser] = []

    def app(links: LinkChecker = no_links, limiter: LoginLimiter | None = None, **dashboard_settings: Any) -> web.Application:
        settings = Settings(knowledge_dirs=[kb], database_url=str(engine.url), dashboard=dashboard_settings)
        root = web.Application()
        root.add_subapp("/staff/", create_staff_app(engine, settings, lambda: live, clock, accounts=accounts, links=links, limiter=limiter))
        return root

    def open_browser(links: LinkChecker = no_links, limiter: LoginLimiter | None = None, **dashboard_settings: Any) -> Browser:
        browser = Browser(app(links, limiter, **dashboard_settings))
        browsers.append(browser)
        return browser

    yield Dashboard(engine, accounts, live, kb, clock, app, open_browser)
    for browser in browsers:
        browser.close()
    engine.dispose()
