"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright; no browser
download): axe-core finds no serious or critical accessibility violation on any page, the strict
Content-Security-Policy blocks nothing the pages need, sign-in works by keyboard alone, and every
page is readable with JavaScript turned off.

axe-core is the copy vendored in the axe-playwright-python package (PyPI), loaded from disk.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.web.staff.conftest import PAGES, PASSWORD, Dashboard

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    for module in ("playwright", "axe_playwright_python"):
        if importlib.util.find_spec(module) is None:
            return f"the Python package {module} is not installed (pip install playwright axe-playwright-python; no 'playwright install')"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def _axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


class LiveServer:
    """The dashboard on a real port, its event loop in a thread (Playwright's sync API keeps the test's)."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dashboard server", daemon=True)
        self.thread.start()
        self.runner = web.AppRunner(app)
        self._run(self.runner.setup())
        self._run(web.TCPSite(self.runner, "127.0.0.1", 0).start())
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self._run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def server(dashboard: Dashboard) -> Iterator[LiveServer]:
    live = LiveServer(dashboard.app())
    yield live
    live.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in_by_keyboard(page: Any, base: str, name: str = "erika") -> None:
    page.goto(f"{base}/staff/login")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.get_by_label("Benutzername").focus()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/staff/"


def test_axe_finds_no_serious_or_critical_violation_on_any_page(chromium: Any, server: LiveServer) -> None:
    # axe is injected as a script, which the pages' own CSP would (rightly) refuse: only here is it bypassed.
    context = chromium.new_context(bypass_csp=True, locale="de-DE")
    page = context.new_page()
    axe = _axe_source()
    checked = {}
    page.goto(f"{server.url}/staff/login")
    checked["login"] = _violations(page, axe)
    sign_in_by_keyboard(page, server.url)
    for name in PAGES:
        for lang in ("de", "en"):
            page.goto(f"{server.url}/staff/{name}?lang={lang}")
            page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # the tables behind the charts too
            checked[f"{name or 'overview'} ({lang})"] = _violations(page, axe)
    page.goto(f"{server.url}/staff/stale?lang=de")
    with page.expect_navigation():
        page.get_by_role("button", name="Links jetzt prüfen (bis zu 30 Sekunden)").click()
    assert "1 Links geprüft, 1 defekt." in page.content()
    checked["stale after the link check"] = _violations(page, axe)
    context.close()
    serious = {name: found for name, found in checked.items() if found}
    assert serious == {}, serious
    assert len(checked) == 2 + 2 * len(PAGES)


def _violations(page: Any, axe: str) -> list[str]:
    page.add_script_tag(content=axe)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_the_content_security_policy_blocks_nothing_the_pages_use(chromium: Any, server: LiveServer) -> None:
    context = chromium.new_context(locale="de-DE")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    # ERR_ABORTED: a request still running when the test moves on to the next page (the icon), not a refusal.
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}: {request.failure}")
            if request.failure != "net::ERR_ABORTED" else None)
    sign_in_by_keyboard(page, server.url)
    for name in PAGES:
        page.goto(f"{server.url}/staff/{name}")
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")  # the style sheet applied
    context.close()
    assert problems == []


def test_every_page_works_without_javascript(chromium: Any, server: LiveServer) -> None:
    context = chromium.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    page.goto(f"{server.url}/staff/login")
    page.get_by_label("Benutzername").fill("viktor")
    page.get_by_label("Passwort").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Anmelden").click()
    page.goto(f"{server.url}/staff/usage")
    chart = page.get_by_role("img", name="Fragen nach Kanal")
    assert chart.is_visible() and chart.get_attribute("aria-labelledby") == "chart-channels-title chart-channels-desc"
    page.get_by_text("Werte als Tabelle: Fragen nach Kanal").click()
    assert page.get_by_role("table", name="Fragen nach Kanal").is_visible()
    page.get_by_label("Zeitraum").select_option("7d")
    with page.expect_navigation():
        page.get_by_role("button", name="Anzeigen").click()
    assert page.url.endswith("/staff/usage?since=7d")
    context.close()
