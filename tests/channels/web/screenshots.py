"""Screenshots of the web chat for the README: ``python -m tests.channels.web.screenshots DIR``.

Serves the Musterstadt knowledge as shipped (``faq/``, ``intents/``, words alone for speed) through
the web channel and photographs, in Debian's headless Chromium: the widget on a city page, closed
and open with an answer, and the full chat page in English.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bot.channels.web import WebChannel, WebSettings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUsageLog, MemoryUserStates
from tests.channels.web.browser import CHROMIUM, CHROMIUM_ARGS, Served
from tests.conftest import REPO


def _ask(page: Page, question: str, answers: int) -> None:
    page.locator("#input").fill(question)
    page.locator("#input").press("Enter")
    page.locator(".msg.bot").nth(answers - 1).wait_for()
    page.wait_for_timeout(300)  # the entry animation


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    live = LiveKnowledge([REPO / "faq", REPO / "intents"])
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(), usage=MemoryUsageLog())
    served = Served(WebChannel(WebSettings(port=0), {"buerger": dialogue.handle}))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(served.page_url)
            page.get_by_role("button", name="Chat öffnen").wait_for()
            page.screenshot(path=out / "web-widget-closed.png")
            page.get_by_role("button", name="Chat öffnen").click()
            page.locator(".msg.bot").first.wait_for()
            _ask(page, "Perso verlängern", 2)
            page.screenshot(path=out / "web-widget-open.png")
            full = browser.new_page(viewport={"width": 900, "height": 760})
            full.goto(served.widget_origin + "/chat?lang=en")
            full.locator(".msg.bot").first.wait_for()
            _ask(full, "When is the citizens' office open?", 2)
            full.screenshot(path=out / "web-chat-page.png")
            browser.close()
    finally:
        served.close()
    for name in ("web-widget-closed.png", "web-widget-open.png", "web-chat-page.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
