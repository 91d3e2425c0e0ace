"""The staff dashboard: signing in, every page, roles, cookies, CSRF and the limit on wrong passwords."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.ops.metrics import Metrics
from bot.reports.links import LinkCheck
from bot.storage.tables import StaffAccountRow, StaffSessionRow
from bot.web.server import create_app
from bot.web.staff.app import install_staff, staff_extension
from bot.web.staff.security import LOGIN_COOKIE, SESSION_COOKIE, LoginLimiter
from bot.web.staff.texts import TEXTS
from tests.web.staff.conftest import PAGES, PASSWORD, Dashboard, Page

HEADINGS = {"": "Übersicht", "unanswered": "Unbeantwortete Fragen", "usage": "Nutzung", "feedback": "Bewertungen",
            "stale": "Veraltete Einträge und Links", "validation": "Prüfung der Wissensdateien"}


def session_cookie_line(page: Page) -> str:
    lines = [c for c in page.cookies if c.startswith(f"{SESSION_COOKIE}=")]
    assert len(lines) == 1, page.cookies
    return lines[0]


def test_every_page_sends_a_visitor_without_a_session_to_the_sign_in_form(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    for page in PAGES:
        reply = browser.get(f"/staff/{page}")
        assert reply.status == 303 and reply.headers["Location"] == f"/staff/login?next=%2Fstaff%2F{page}"
    form = browser.get("/staff/login")
    assert form.status == 200 and '<label for="password">Passwort</label>' in form.text
    # Anything but a page view is refused outright, with or without a form token.
    assert browser.post("/staff/unanswered/template", {"csrf": form.csrf, "id": "vollmond"}).status == 401
    assert browser.post("/staff/stale", {}).status == 401


def test_an_editor_signs_in_and_sees_every_page_with_the_reports(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    signed_in = browser.sign_in("erika", next_path="/staff/feedback")
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/staff/feedback"
    pages = {page: browser.get(f"/staff/{page}") for page in PAGES}
    for page, reply in pages.items():
        assert reply.status == 200, page
        assert f"<h1>{HEADINGS[page]}</h1>" in reply.text
        assert "erika" in reply.text and "Abmelden" in reply.text
    unanswered = pages["unanswered"].text
    assert "4 Fragen in 3 Gruppen" in unanswered and "Wann ist Vollmond?" in unanswered and "When is the full moon?" in unanswered
    assert "Vorlage für neuen Eintrag herunterladen" in unanswered
    usage = pages["usage"].text
    assert '<svg class="chart" id="chart-channels" role="img" aria-labelledby="chart-channels-title chart-channels-desc"' in usage
    assert "3 Fragen von " in usage and "<th scope=\"row\">22.11.</th><td>0</td><td>1</td><td>1</td>" in usage  # matrix, telegram, total
    assert "<th scope=\"row\">23.11.</th><td>1</td><td>1</td><td>2</td>" in usage
    assert 'id="chart-profiles"' in usage and "<caption>Fragen nach Profil</caption>" in usage
    assert "<th scope=\"col\">buerger</th><th scope=\"col\">welcome</th>" in usage
    assert "Im Zeitraum: 2 Antworten, 1 ohne Antwort (33%)" in usage
    feedback = pages["feedback"].text
    assert feedback.index("sperrmuell") < feedback.index("personalausweis") and "„Abholtermine fehlen“" in feedback
    stale = pages["stale"].text
    assert "sperrmuell" in stale and "Prüfung überfällig" in stale and "Team Abfall" in stale and "Links wurden nicht geprüft." in stale
    assert "Keine Fehler und keine Warnungen." in pages["validation"].text


def test_what_citizens_wrote_is_shown_as_text_never_as_markup(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    page = browser.get("/staff/unanswered").text
    assert "<script>" not in page and html.escape("<script>alert(1)</script> Hundesteuer?", quote=False) in page


def test_every_answer_carries_a_strict_content_security_policy(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    for reply in (browser.get("/staff/login"), browser.get("/staff/"), browser.get("/staff/nothing-here")):
        assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src 'self'")
        assert reply.headers["X-Frame-Options"] == "DENY" and reply.headers["Cache-Control"] == "no-store"
    assert browser.get("/staff/static/staff.css").status == 200  # the one style sheet, from the dashboard itself


def test_the_session_cookie_is_httponly_and_samesite_strict_and_secure_only_over_tls(dashboard: Dashboard) -> None:
    plain = session_cookie_line(dashboard.open().sign_in("erika"))
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Path=/staff/" in plain and "Secure" not in plain
    behind_proxy = session_cookie_line(dashboard.open().sign_in("erika", headers={"X-Forwarded-Proto": "https"}))
    assert "Secure" in behind_proxy and "HttpOnly" in behind_proxy and "SameSite=Strict" in behind_proxy
    # The header counts only from a trusted proxy: anyone could send it.
    untrusted = session_cookie_line(dashboard.open(trusted_proxies=[]).sign_in("erika", headers={"X-Forwarded-Proto": "https"}))
    assert "Secure" not in untrusted
    # "always" for a proxy that does not say: even the sign-in form's cookie is Secure, so plain HTTP cannot sign in.
    form = dashboard.open(secure_cookies="always").get("/staff/login")
    assert [c for c in form.cookies if c.startswith(f"{LOGIN_COOKIE}=") and "Secure" in c and "HttpOnly" in c]


def test_passwords_and_session_ids_are_stored_only_as_hashes(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    session_id = browser.cookie(SESSION_COOKIE)
    assert session_id and len(session_id) >= 40
    with Session(dashboard.engine) as s:
        hashes = s.scalars(select(StaffAccountRow.password_hash)).all()
        stored_ids = s.scalars(select(StaffSessionRow.id_hash)).all()
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert len(stored_ids) == 1 and session_id not in stored_ids[0]


def test_a_viewer_reads_every_page_but_cannot_download_templates(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("viktor")
    page = browser.get("/staff/unanswered")
    assert page.status == 200 and "Vorlage für neuen Eintrag herunterladen" not in page.text
    assert "Vorlagen kann nur die Redaktion herunterladen." in page.text
    refused = browser.post("/staff/unanswered/template", {"csrf": page.csrf, "id": "vollmond", "q_de": "Wann ist Vollmond?"})
    assert refused.status == 403 and "Content-Disposition" not in refused.headers


def test_an_editor_downloads_a_faq_new_template_holding_the_questions(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    page = browser.get("/staff/unanswered")
    assert 'name="id" value="wann-ist-vollmond"' in page.text
    form = [("csrf", page.csrf), ("id", "vollmond"), ("q_de", "Wann ist Vollmond?"), ("q_de", 'wann ist "vollmond": heute?'),
            ("q_en", "When is the full moon?")]
    download = browser.post("/staff/unanswered/template", form)
    assert download.status == 200 and download.headers["Content-Disposition"] == 'attachment; filename="vollmond.yaml"'
    entry = yaml.safe_load(download.text)["entries"][0]
    assert entry["id"] == "vollmond" and entry["kind"] == "faq"
    assert entry["de"]["questions"] == ["Wann ist Vollmond?", 'wann ist "vollmond": heute?']
    assert entry["en"]["questions"] == ["When is the full moon?"]
    assert entry["de"]["title"].startswith("<<")  # the rest is still to fill in, so it cannot go live half-written
    bad = browser.post("/staff/unanswered/template", {"csrf": page.csrf, "id": "Voll Mond"})
    assert bad.status == 400 and "is not a valid id" in html.unescape(bad.text)
    taken = browser.post("/staff/unanswered/template", {"csrf": page.csrf, "id": "sperrmuell"})
    assert taken.status == 409 and "schon vergeben" in taken.text


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    page = browser.get("/staff/unanswered")
    for data in ({"id": "vollmond"}, {"csrf": "x" * 64, "id": "vollmond"}, {"csrf": "", "id": "vollmond"}):
        refused = browser.post("/staff/unanswered/template", data)
        assert refused.status == 403 and "Das Formular ist abgelaufen" in refused.text
    assert browser.post("/staff/logout", {}).status == 403
    assert browser.get("/staff/usage").status == 200  # still signed in: the sign-out form without its token did nothing
    assert browser.post("/staff/unanswered/template", {"csrf": page.csrf, "id": "vollmond"}).status == 200
    # The token belongs to the session: another person's page does not carry it.
    other = dashboard.open()
    other.sign_in("viktor")
    assert other.post("/staff/logout", {"csrf": page.csrf}).status == 403


def test_the_sign_in_form_needs_its_own_token(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    form = browser.get("/staff/login")
    assert browser.cookie(LOGIN_COOKIE) == form.csrf
    assert browser.post("/staff/login", {"name": "erika", "password": PASSWORD}).status == 403
    assert browser.post("/staff/login", {"csrf": "forged", "name": "erika", "password": PASSWORD}).status == 403
    assert browser.post("/staff/login", {"csrf": form.csrf, "name": "erika", "password": PASSWORD}).status == 303


def test_signing_out_ends_the_session_on_the_server(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    old_id = browser.cookie(SESSION_COOKIE)
    page = browser.get("/staff/")
    out = browser.post("/staff/logout", {"csrf": page.csrf})
    assert out.status == 303 and out.headers["Location"] == "/staff/login"
    replay = browser.get("/staff/usage", cookies={SESSION_COOKIE: old_id or ""})
    assert replay.status == 303 and replay.headers["Location"].startswith("/staff/login")


def test_a_session_ends_after_an_idle_hour_and_a_removed_account_is_signed_out(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    dashboard.clock.now += dt.timedelta(minutes=50)
    assert browser.get("/staff/").status == 200  # used within the hour: the hour starts again
    dashboard.clock.now += dt.timedelta(minutes=50)
    assert browser.get("/staff/").status == 200
    dashboard.clock.now += dt.timedelta(minutes=61)
    assert browser.get("/staff/").status == 303
    browser.sign_in("erika")
    assert browser.get("/staff/").status == 200
    assert dashboard.accounts.remove("erika")
    assert browser.get("/staff/").status == 303


def test_wrong_passwords_are_limited_per_name_and_the_right_one_waits_too(dashboard: Dashboard) -> None:
    now = [0.0]
    limiter = LoginLimiter(per_name=5, per_address=20, clock=lambda: now[0])
    browser = dashboard.open(limiter=limiter)
    for _ in range(5):
        wrong = browser.sign_in("erika", "falsch-falsch-falsch")
        assert wrong.status == 401 and "Benutzername oder Passwort ist falsch." in wrong.text
    limited = browser.sign_in("erika")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 800 and "Zu viele Fehlversuche" in limited.text
    assert browser.cookie(SESSION_COOKIE) is None
    assert browser.sign_in("viktor").status == 303  # another name from the same address is not locked out
    browser = dashboard.open(limiter=limiter)
    now[0] += 901
    assert browser.sign_in("erika").status == 303


def test_wrong_passwords_are_limited_per_address_across_names(dashboard: Dashboard) -> None:
    browser = dashboard.open(limiter=LoginLimiter(per_name=50, per_address=3, clock=lambda: 0.0))
    for name in ("a", "b", "c"):
        assert browser.sign_in(name, "falsch-falsch-falsch").status == 401
    assert browser.sign_in("erika").status == 429


def test_an_unknown_name_is_answered_like_a_wrong_password(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    unknown, wrong = browser.sign_in("niemand"), browser.sign_in("erika", "falsch-falsch-falsch")
    assert unknown.status == wrong.status == 401
    assert "Benutzername oder Passwort ist falsch." in unknown.text and "Benutzername oder Passwort ist falsch." in wrong.text


def test_after_signing_in_the_dashboard_never_sends_anyone_elsewhere(dashboard: Dashboard) -> None:
    for target in ("https://evil.example/", "//evil.example/staff/", "/elsewhere", "/staff/\\evil"):
        reply = dashboard.open().sign_in("erika", next_path=target)
        assert reply.status == 303 and reply.headers["Location"] == "/staff/", target


def test_the_link_check_runs_on_demand_and_shows_broken_links(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("viktor")
    page = browser.get("/staff/stale")
    checked = browser.post("/staff/stale", {"csrf": page.csrf})
    assert checked.status == 200 and "1 Links geprüft, 1 defekt." in checked.text
    assert "defekter Link" in checked.text and "https://city.example/sperrmuell" in checked.text


def test_the_link_check_stops_at_its_time_limit(dashboard: Dashboard) -> None:
    async def slow(urls: list[str], timeout: float) -> dict[str, LinkCheck]:
        await asyncio.sleep(30)
        return {}

    browser = dashboard.open(links=slow, link_check_seconds=1)
    browser.sign_in("erika")
    page = browser.get("/staff/stale")
    checked = browser.post("/staff/stale", {"csrf": page.csrf})
    assert checked.status == 200 and "nach 1 Sekunden abgebrochen" in checked.text


def test_the_validation_page_names_file_and_line_of_each_problem(dashboard: Dashboard) -> None:
    broken = dashboard.kb / "kaputt.yaml"
    broken.write_text("entries:\n  - id: kaputt\n    kind: faq\n", encoding="utf-8")
    assert dashboard.live.refresh() is False  # refused: the last good knowledge stays live
    browser = dashboard.open()
    browser.sign_in("viktor")
    page = browser.get("/staff/validation").text
    assert "2 Einträge geladen: " in page and "Solange Fehler bestehen" in page
    assert f"<code>{broken}:2</code>" in page


def test_english_is_one_click_away_and_kept(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    browser.sign_in("erika")
    english = browser.get("/staff/usage?lang=en")
    assert '<html lang="en">' in english.text and "<h1>Usage</h1>" in english.text and "Questions by channel" in english.text
    assert '<html lang="en">' in browser.get("/staff/feedback").text
    assert "<h1>Bewertungen</h1>" in browser.get("/staff/feedback?lang=de").text
    first_visit = dashboard.open().get("/staff/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "<label for=\"password\">Password</label>" in first_visit.text


def test_both_languages_have_every_text() -> None:
    assert set(TEXTS["de"]) == set(TEXTS["en"])
    assert all(TEXTS["de"].values()) and all(TEXTS["en"].values())


def test_the_operations_server_serves_the_dashboard_under_staff(dashboard: Dashboard) -> None:
    settings = Settings(knowledge_dirs=[dashboard.kb], database_url=str(dashboard.engine.url))
    app = create_app(Metrics(), {}, extensions=[lambda app: install_staff(dashboard.engine, settings, lambda: dashboard.live, dashboard.clock, app)])
    loop = asyncio.new_event_loop()
    client = TestClient(TestServer(app), loop=loop)
    loop.run_until_complete(client.start_server())

    async def status(path: str) -> tuple[int, str]:
        async with client.get(path, allow_redirects=False) as response:
            return response.status, response.headers.get("Location", "")

    try:
        assert loop.run_until_complete(status("/staff")) == (303, "/staff/")
        assert loop.run_until_complete(status("/staff/")) == (303, "/staff/login?next=%2Fstaff%2F")
        assert loop.run_until_complete(status("/staff/login"))[0] == 200
        assert loop.run_until_complete(status("/healthz"))[0] == 200
    finally:
        loop.run_until_complete(client.close())
        loop.close()



def test_the_dashboard_can_be_turned_off(dashboard: Dashboard) -> None:
    on = Settings(knowledge_dirs=[dashboard.kb], database_url=str(dashboard.engine.url))
    off = on.model_copy(update={"dashboard": on.dashboard.model_copy(update={"enabled": False})})
    assert len(staff_extension(dashboard.engine, on, lambda: dashboard.live, dashboard.clock)) == 1
    assert staff_extension(dashboard.engine, off, lambda: dashboard.live, dashboard.clock) == []


def test_the_unanswered_page_shows_the_drafts_waiting_and_the_group_one_answers(dashboard: Dashboard, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.handover.core import draft_entry

    monkeypatch.chdir(tmp_path)  # the default drafts folder, faq-drafts/, is found from the working directory
    (tmp_path / "faq-drafts").mkdir()
    (tmp_path / "faq-drafts" / "h-00003.yaml").write_text(draft_entry("H-00003", "de", "Wann ist Vollmond?", ["Am 4. Dezember."]),
                                                          encoding="utf-8")
    browser = dashboard.open()
    browser.sign_in("viktor")
    page = browser.get("/staff/unanswered").text
    assert "<dt>Entwurf wartet auf Prüfung</dt><dd><code>faq-drafts/h-00003.yaml</code></dd>" in page
    assert "Entwürfe aus Übergaben, die auf Prüfung warten (1)" in page and "<li><code>faq-drafts/h-00003.yaml</code> – „Wann ist Vollmond?“</li>" in page
