"""Signing in through the city's reverse proxy: the user header counts only from the configured
proxy addresses, the role comes from the configuration, and forms keep their CSRF protection."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import DashboardConfig
from bot.web.staff.security import PROXY_COOKIE, SESSION_COOKIE
from tests.web.staff.conftest import PAGES, Dashboard

# The test client connects from 127.0.0.1.
FROM_HERE = {"enabled": True, "proxies": ["127.0.0.1/32"], "editors": ["group:redaktion"], "viewers": ["viktor", "group:presse"]}


def test_the_proxys_user_sees_every_page_with_the_role_of_their_group(dashboard: Dashboard) -> None:
    browser = dashboard.open(proxy_auth=FROM_HERE)
    headers = {"X-Forwarded-User": "anna.schmidt", "X-Forwarded-Groups": "alle, redaktion"}
    for page_name in PAGES:
        page = browser.get(f"/staff/{page_name}", headers=headers)
        assert page.status == 200, page_name
        assert "<strong>anna.schmidt</strong> (Redaktion)" in page.text
    assert ">Abmelden<" not in page.text  # signing out is the proxy's business
    assert browser.cookie(SESSION_COOKIE) is None  # no password session is made
    # Forms keep their CSRF protection, with a token bound to a cookie of this browser.
    unanswered = browser.get("/staff/unanswered", headers=headers)
    form = {"csrf": unanswered.csrf, "id": "vollmond", "q_de": "Wann ist Vollmond?"}
    assert browser.post("/staff/unanswered/template", form, headers=headers).status == 200
    assert browser.post("/staff/unanswered/template", {**form, "csrf": "forged"}, headers=headers).status == 403
    proxy_cookie = browser.cookie(PROXY_COOKIE)
    assert proxy_cookie is not None and len(proxy_cookie) >= 32


def test_a_viewer_by_name_or_group_cannot_download_templates(dashboard: Dashboard) -> None:
    browser = dashboard.open(proxy_auth=FROM_HERE)
    for headers in ({"X-Forwarded-User": "viktor"}, {"X-Forwarded-User": "paul", "X-Forwarded-Groups": "presse"}):
        page = browser.get("/staff/unanswered", headers=headers)
        assert page.status == 200 and "(Lesezugriff)" in page.text
        refused = browser.post("/staff/unanswered/template", {"csrf": page.csrf, "id": "vollmond"}, headers=headers)
        assert refused.status == 403


def test_a_signed_in_person_without_a_role_is_refused(dashboard: Dashboard) -> None:
    browser = dashboard.open(proxy_auth=FROM_HERE)
    page = browser.get("/staff/", headers={"X-Forwarded-User": "max", "X-Forwarded-Groups": "kantine"})
    assert page.status == 403 and "keine Rolle" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-User": "anna.schmidt", "X-Forwarded-Groups": "redaktion"},
    # Naming the proxy as the client does not make the request come from it.
    {"X-Forwarded-User": "anna.schmidt", "X-Forwarded-Groups": "redaktion", "X-Forwarded-For": "10.0.0.5"},
])
def test_the_header_from_an_address_that_is_not_the_proxy_is_refused(dashboard: Dashboard, headers: dict[str, str]) -> None:
    browser = dashboard.open(proxy_auth={**FROM_HERE, "proxies": ["10.0.0.5"]}, trusted_proxies=["10.0.0.5"])
    page = browser.get("/staff/usage", headers=headers)
    assert page.status == 303 and page.headers["Location"].startswith("/staff/login")
    assert browser.post("/staff/unanswered/template", {"csrf": "x", "id": "vollmond"}, headers=headers).status == 401


def test_without_proxy_sign_in_the_header_means_nothing(dashboard: Dashboard) -> None:
    browser = dashboard.open()
    page = browser.get("/staff/", headers={"X-Forwarded-User": "erika", "X-Forwarded-Groups": "redaktion"})
    assert page.status == 303 and page.headers["Location"].startswith("/staff/login")


def test_password_accounts_still_sign_in_beside_the_proxy(dashboard: Dashboard) -> None:
    browser = dashboard.open(proxy_auth=FROM_HERE)
    assert browser.sign_in("erika").status == 303
    page = browser.get("/staff/")
    assert page.status == 200 and "<strong>erika</strong>" in page.text and ">Abmelden<" in page.text


def test_proxy_sign_in_needs_the_proxy_and_at_least_one_role() -> None:
    with pytest.raises(ValidationError, match="proxies"):
        DashboardConfig.model_validate({"proxy_auth": {"enabled": True, "editors": ["anna"]}})
    with pytest.raises(ValidationError, match="editors or viewers"):
        DashboardConfig.model_validate({"proxy_auth": {"enabled": True, "proxies": ["10.0.0.5"]}})
    with pytest.raises(ValidationError, match="not an IP address"):
        DashboardConfig.model_validate({"proxy_auth": {"enabled": True, "proxies": ["proxy.city"], "editors": ["anna"]}})
    with pytest.raises(ValidationError, match="every address"):
        DashboardConfig.model_validate({"proxy_auth": {"enabled": True, "proxies": ["0.0.0.0/0"], "editors": ["anna"]}})
