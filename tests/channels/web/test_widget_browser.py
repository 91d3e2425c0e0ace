"""The widget in a real headless Chromium (Debian's, driven by Playwright): a whole conversation on a
city page with a strict policy, reconnecting mid-answer, the HTTP fallback, right-to-left,
keyboard-only use, zoom, reduced motion, and axe-core (vendored by axe-playwright-python)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bot.channels.web import WebChannel
from bot.core.dialogue import Dialogue
from bot.core.models import Incoming, Reply
from bot.core.ports import MemoryFeedbackLog
from tests.channels.web.browser import CHROMIUM, CHROMIUM_ARGS, Served
from tests.channels.web.conftest import tiny_dialogue

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")

if CHROMIUM.exists():
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

FORM_URL = "https://musterstadt.example/online/personalausweis"
FEES = """\
entries:
  - id: gebuehren-ausweise
    kind: faq
    de:
      title: Gebühren für Ausweise
      questions: [Gebühren Ausweise Tabelle, Was kosten Ausweis und Pass, Preisliste Ausweisdokumente]
      answer: |
        Die Gebühren:

        | Dokument | Gebühr |
        |---|---|
        | Personalausweis | 37,00 € |
        | Reisepass | 70,00 € |
    en:
      title: Fees for identity documents
      questions: [fees identity documents table, what do id card and passport cost, price list id documents]
      answer: |
        The fees:

        | Document | Fee |
        |---|---|
        | Identity card | €37.00 |
        | Passport | €70.00 |
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def feedback_log() -> MemoryFeedbackLog:
    return MemoryFeedbackLog()


@pytest.fixture
def kb_dialogue(tiny_kb: Path, feedback_log: MemoryFeedbackLog) -> Dialogue:
    (tiny_kb / "fees.yaml").write_text(FEES, encoding="utf-8")
    return tiny_dialogue(tiny_kb, feedback_log)


@pytest.fixture
def serve(kb_dialogue: Dialogue) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def make(handle: Callable[[Incoming], list[Reply]] | None = None, page_lang: str = "de", page_extra: str = "", **settings: object) -> Served:
        from bot.channels.web import WebSettings

        channel = WebChannel(WebSettings(port=0, poll_seconds=2.0, **settings), {"buerger": handle or kb_dialogue.handle})  # type: ignore[arg-type]
        served = Served(channel, page_lang, page_extra)
        started.append(served)
        return served

    yield make
    for served in started:
        served.close()


class Watched:
    """A page with its console errors (a policy violation is one) collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def open_page(browser: Browser, url: str, **context: Any) -> Watched:
    ctx = browser.new_context(**context)
    ctx.route("https://musterstadt.example/**", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                         body="<!doctype html><title>Formular</title><p>Formular"))
    return Watched(ctx.new_page())


def bot_messages(page: Page) -> Any:
    return page.locator(".msg.bot")


def ask(page: Page, question: str) -> None:
    page.locator("#input").fill(question)
    page.locator("#input").press("Enter")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    script = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    page.evaluate(script)
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_a_whole_conversation_in_the_widget_on_a_city_page(browser: Browser, serve: Callable[..., Served],
                                                           feedback_log: MemoryFeedbackLog) -> None:
    served = serve(allowed_origins=())
    watched = open_page(browser, served.page_url)
    page = watched.page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    greeting = bot_messages(page).first
    expect(greeting).to_contain_text("Häufig gefragt")
    expect(page.locator("#input")).to_be_focused()
    # A question with a form link: the link is a button-like anchor that opens the form.
    ask(page, "Personalausweis beantragen")
    expect(bot_messages(page)).to_have_count(2)
    answer = bot_messages(page).nth(1)
    expect(answer).to_contain_text("Antwort zu personalausweis")
    form = answer.get_by_role("link", name="Termin buchen")
    expect(form).to_have_attribute("href", FORM_URL)
    with page.expect_popup() as popup:
        form.click()
    assert popup.value.url == FORM_URL
    popup.value.close()
    # A choice button sends its payload; the choice appears as what the citizen said.
    greeting.get_by_role("button", name="Titel sperrmuell").click()
    expect(bot_messages(page)).to_have_count(3)
    expect(bot_messages(page).nth(2)).to_contain_text("Antwort zu sperrmuell")
    expect(page.locator(".msg.user").last).to_contain_text("Titel sperrmuell")
    # Each answer can be rated: 👎, then "what was missing?" answered in a sentence.
    votes = bot_messages(page).nth(2).get_by_role("group", name="War diese Antwort hilfreich?")
    down = votes.get_by_role("button", name="Nicht hilfreich")
    expect(down).to_have_attribute("aria-pressed", "false")
    down.click()
    expect(bot_messages(page)).to_have_count(4)
    expect(bot_messages(page).nth(3)).to_contain_text("Was hat Ihnen an der Antwort gefehlt?")
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(votes.get_by_role("button", name="Hilfreich", exact=True)).to_have_attribute("aria-disabled", "true")
    votes.get_by_role("button", name="Hilfreich", exact=True).click(force=True)  # one vote per answer: nothing is sent
    ask(page, "Die Abholtermine fehlen")
    expect(bot_messages(page)).to_have_count(5)
    expect(bot_messages(page).nth(4)).to_contain_text("ohne Bezug zu diesem Chat")
    assert [(v.entry_id, v.vote) for v in feedback_log.records] == [("sperrmuell", "down"), ("sperrmuell", "note")]
    assert bot_messages(page).first.locator(".votes").count() == 0  # a menu is nothing to rate
    # A table in the answer is a table, with column headers.
    ask(page, "Preisliste Ausweisdokumente")
    expect(bot_messages(page)).to_have_count(6)
    table = bot_messages(page).nth(5).locator("table")
    expect(table.locator("th")).to_have_text(["Dokument", "Gebühr"])
    expect(table.locator("tbody tr")).to_have_count(2)
    # Whatever a person types is shown as text, never as markup.
    ask(page, "<img src=x onerror=alert(1)> <b>fett</b>")
    expect(page.locator(".msg.user").last).to_contain_text("<b>fett</b>")
    assert page.locator(".msg img, .msg.user b").count() == 0
    assert page.context.cookies() == []
    session = page.evaluate("sessionStorage.getItem('buergerbot-session-buerger')")
    assert isinstance(session, str) and len(session) == 32
    assert watched.errors == [], watched.errors  # no policy violation, no script error


def test_an_answer_lost_with_the_connection_comes_once_after_reconnecting(browser: Browser, serve: Callable[..., Served],
                                                                          kb_dialogue: Dialogue) -> None:
    served: Served

    def cutting(msg: Incoming) -> list[Reply]:
        replies = kb_dialogue.handle(msg)
        if "Sperrmüll" in msg.text:
            served.proxy.cut()  # the connection drops while this answer is on its way
        return replies

    served = serve(cutting)
    page = open_page(browser, served.page_url).page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    expect(bot_messages(page)).to_have_count(1)
    ask(page, "Sperrmüll anmelden")
    expect(bot_messages(page)).to_have_count(2)
    expect(bot_messages(page).nth(1)).to_contain_text("Antwort zu sperrmuell")
    assert served.call(lambda: served.proxy.websockets_opened) >= 2
    ask(page, "Wohnsitz anmelden")
    expect(bot_messages(page)).to_have_count(3)
    page.wait_for_timeout(500)  # a doubled answer would arrive within this
    expect(bot_messages(page)).to_have_count(3)
    expect(page.locator(".msg.user")).to_have_count(2)
    # A reload of the tab shows the conversation again (the same session, from the outbox).
    page.reload()
    page.get_by_role("button", name="Chat öffnen").click()
    expect(bot_messages(page)).to_have_count(3)
    expect(page.locator(".msg.user")).to_have_count(2)


def test_without_websockets_the_chat_works_over_http(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve()
    served.proxy.refuse_websockets = True
    page = open_page(browser, served.page_url).page
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    expect(bot_messages(page)).to_have_count(1)
    ask(page, "Sperrmüll anmelden")
    expect(bot_messages(page)).to_have_count(2)
    expect(bot_messages(page).nth(1)).to_contain_text("Antwort zu sperrmuell")
    assert any(url.endswith("/api/message") for url in posts)


def test_right_to_left(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve()
    watched = open_page(browser, served.page_url)
    page = watched.page
    page.goto(served.widget_origin + "/chat?profile=buerger&lang=ar")
    expect(bot_messages(page)).to_have_count(1)
    assert page.locator("main").evaluate("el => getComputedStyle(el).direction") == "rtl"
    ask(page, "أريد تجديد بطاقة الهوية")
    expect(bot_messages(page)).to_have_count(2)
    said = page.locator(".msg.user p").last
    assert said.evaluate("el => getComputedStyle(el).direction") == "rtl"
    # A German answer inside the right-to-left page still reads left to right.
    assert bot_messages(page).nth(1).locator("p").first.evaluate("el => getComputedStyle(el).direction") == "ltr"
    assert watched.errors == [], watched.errors  # the chat page's own policy lets its script, style and socket through
    assert axe_violations(page) == []


def test_keyboard_only(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve()
    page = open_page(browser, served.page_url).page
    page.goto(served.page_url)
    launcher = page.get_by_role("button", name="Chat öffnen")
    expect(launcher).to_be_visible()
    page.keyboard.press("Tab")
    expect(launcher).to_be_focused()
    assert launcher.evaluate("el => getComputedStyle(el).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("#input")).to_be_focused()
    expect(bot_messages(page)).to_have_count(1)
    page.keyboard.type("Personalausweis beantragen")
    page.keyboard.press("Enter")
    expect(bot_messages(page)).to_have_count(2)
    # Shift+Tab goes back through the answers: the form link, then the greeting's choices.
    focused = []
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
        focused.append(page.evaluate("document.activeElement.shadowRoot.activeElement.textContent"))
        if focused[-1] == "Titel sperrmuell":
            break
    assert any(text.startswith("Termin buchen") for text in focused)
    assert focused[-1] == "Titel sperrmuell"
    page.keyboard.press("Enter")
    expect(bot_messages(page)).to_have_count(3)
    expect(bot_messages(page).nth(2)).to_contain_text("Antwort zu sperrmuell")
    page.keyboard.press("Escape")
    expect(launcher).to_be_focused()
    expect(page.locator("#panel")).to_be_hidden()


def test_new_messages_are_announced_and_the_panel_fits_at_200_percent_zoom(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve()
    # 200 % zoom of a 1280 × 800 window: the same CSS pixels as a 640 × 400 viewport.
    page = open_page(browser, served.page_url, viewport={"width": 640, "height": 400}, reduced_motion="reduce").page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log.locator(".msg.bot")).to_have_count(1)
    box = page.locator("#panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 640 and box["y"] + box["height"] <= 400
    assert page.locator("#input").is_visible() and page.get_by_role("button", name="Senden").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 640
    assert bot_messages(page).first.evaluate("el => getComputedStyle(el).animationName") == "none"


def test_axe_finds_nothing_serious_on_the_widget_and_the_chat_page(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve()
    page = open_page(browser, served.page_url).page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    ask(page, "Personalausweis beantragen")
    ask(page, "Preisliste Ausweisdokumente")
    expect(bot_messages(page)).to_have_count(3)
    expect(page.locator("table")).to_have_count(1)
    assert axe_violations(page) == []
    full = open_page(browser, served.page_url).page
    full.goto(served.widget_origin + "/chat?lang=en")  # no profile named: the server's first
    expect(bot_messages(full)).to_have_count(1)
    ask(full, "when is the town hall open")
    expect(bot_messages(full)).to_have_count(2)
    assert axe_violations(full) == []


def test_a_session_the_server_forgot_goes_on_without_a_second_greeting(browser: Browser, serve: Callable[..., Served]) -> None:
    served = serve(session_idle_seconds=1.0)
    page = open_page(browser, served.page_url).page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    ask(page, "Personalausweis beantragen")
    expect(bot_messages(page)).to_have_count(2)
    page.wait_for_timeout(1500)  # idle past the limit: the server drops the session on the next hello
    served.call(served.proxy.cut)
    ask(page, "Sperrmüll anmelden")
    expect(bot_messages(page)).to_have_count(3)
    expect(bot_messages(page).nth(2)).to_contain_text("Antwort zu sperrmuell")
    expect(page.locator(".msg.bot", has_text="Häufig gefragt")).to_have_count(1)


def test_an_answer_is_rated_with_the_keyboard(browser: Browser, serve: Callable[..., Served], feedback_log: MemoryFeedbackLog) -> None:
    served = serve()
    page = open_page(browser, served.page_url).page
    page.goto(served.page_url)
    page.get_by_role("button", name="Chat öffnen").click()
    expect(bot_messages(page)).to_have_count(1)
    ask(page, "Sperrmüll anmelden")
    expect(bot_messages(page)).to_have_count(2)
    page.keyboard.press("Shift+Tab")  # from the input back to the answer's last button
    focused = "document.activeElement.shadowRoot.activeElement"
    assert page.evaluate(f"{focused}.textContent") == "👎 Nicht hilfreich"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(f"{focused}.textContent") == "👍 Hilfreich"
    assert page.evaluate(f"getComputedStyle({focused}).outlineStyle") != "none"
    page.keyboard.press("Space")
    expect(bot_messages(page)).to_have_count(3)
    expect(bot_messages(page).nth(2)).to_contain_text("Danke für Ihre Rückmeldung!")
    assert page.evaluate(f"{focused}.getAttribute('aria-pressed')") == "true"  # focus stays on the pressed button
    assert [(v.entry_id, v.vote) for v in feedback_log.records] == [("sperrmuell", "up")]
