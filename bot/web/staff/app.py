"""The staff dashboard: an aiohttp sub-application the operations server mounts under /staff/.

Pages show the staff reports of bot.reports (unanswered questions, usage, feedback, stale entries)
and the live knowledge's last validation; the reports' own functions do the work in the process's
pool (bot.blocking), so the chat channels sharing the event loop never wait for the database or
the matcher.

Signing in: per-person accounts (``buergerbot staff add``) with argon2 password hashes, a random
session id in an HttpOnly, SameSite=Strict cookie (Secure over TLS), stored only as its hash, with
an idle and an absolute expiry. Every form carries a CSRF token; wrong passwords are limited per
name and per address. Viewers see everything; only editors download entry templates.

Or signed in by the city's reverse proxy (``[dashboard.proxy_auth]``, bot.web.staff.security.ProxySignIn):
the proxy's header names the person on each request and the configuration gives the role; a
cookie then holds only the secret of that person's CSRF tokens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from sqlalchemy import Engine

from bot.blocking import run_blocking
from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.core.matching.normalise import fold
from bot.handover.drafts import Draft, waiting_drafts
from bot.reports import feedback as feedback_report
from bot.reports import stale as stale_report
from bot.reports import unanswered as unanswered_report
from bot.reports import usage as usage_report
from bot.reports.links import LinkCheck, check_links
from bot.reports.since import parse_since
from bot.reports.template import render as render_template
from bot.reports.template import slug_problem
from bot.storage.staff import Account, StaffAccounts
from bot.web.staff import charts
from bot.web.staff.security import (
    HEADERS,
    LOGIN_COOKIE,
    PROXY_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Origin,
    ProxySignIn,
    csrf_token,
    same_token,
    set_cookie,
)
from bot.web.staff.texts import LANGUAGES, TEXTS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LinkChecker = Callable[[list[str], float], Awaitable[Mapping[str, LinkCheck]]]
LANG_COOKIE = "buergerbot_staff_lang"
MAX_TEMPLATE_QUESTIONS = 20
MAX_QUESTION_CHARS = 300
LINK_BATCH = 16  # links checked at once; what finished before the time limit is shown


async def _check_links(urls: list[str], timeout: float) -> Mapping[str, LinkCheck]:
    return await check_links(urls, timeout=timeout, concurrency=LINK_BATCH)


# The live knowledge once loaded: `buergerbot run` serves HTTP while it still loads (None).
KnowledgeSource = Callable[[], LiveKnowledge | None]


@dataclass
class _State:
    accounts: StaffAccounts
    engine: Engine
    knowledge: KnowledgeSource
    settings: Settings
    clock: Callable[[], dt.datetime]
    prefix: str
    origin: Origin
    limiter: LoginLimiter
    links: LinkChecker
    templates: jinja2.Environment
    proxy: ProxySignIn
    link_check: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def live(self) -> LiveKnowledge:
        """The knowledge the bot answers from; while it still loads, pages that need it say so."""
        live = self.knowledge()
        if live is None:
            raise web.HTTPServiceUnavailable(text="Bürgerbot is starting: the knowledge is still loading.", headers={"Retry-After": "5"})
        return live


STATE = web.AppKey("staff", _State)
USER = web.RequestKey("staff_user", Account)
SESSION = web.RequestKey("staff_session", str)
LANG = web.RequestKey("staff_lang", str)
VIA_PROXY = web.RequestKey("staff_via_proxy", bool)  # signed in by the reverse proxy, not with a password


def create_staff_app(engine: Engine, settings: Settings, knowledge: KnowledgeSource, clock: Callable[[], dt.datetime], prefix: str = "/staff/",
                     accounts: StaffAccounts | None = None, links: LinkChecker = _check_links,
                     limiter: LoginLimiter | None = None) -> web.Application:
    config = settings.dashboard
    state = _State(
        accounts=accounts or StaffAccounts(engine), engine=engine, knowledge=knowledge, settings=settings, clock=clock, prefix=prefix,
        origin=Origin(config.trusted_proxies, config.secure_cookies == "always"),
        limiter=limiter or LoginLimiter(config.login_attempts, 4 * config.login_attempts), links=links,
        templates=jinja2.Environment(loader=jinja2.PackageLoader("bot.web.staff", "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True),
        proxy=ProxySignIn(config.proxy_auth),
    )
    app = web.Application(middlewares=[_guard, _who, _signed_in, _csrf], client_max_size=64 * 1024)
    app[STATE] = state
    app.router.add_get("/", _overview)
    app.router.add_get("/login", _login_form)
    app.router.add_post("/login", _login)
    app.router.add_post("/logout", _logout)
    app.router.add_get("/unanswered", _unanswered)
    app.router.add_post("/unanswered/template", _template)
    app.router.add_get("/usage", _usage)
    app.router.add_get("/feedback", _feedback)
    app.router.add_get("/stale", _stale)
    app.router.add_post("/stale", _stale_with_links)
    app.router.add_get("/validation", _validation)
    app.router.add_static("/static/", Path(__file__).with_name("static"), append_version=False)
    return app


def install_staff(engine: Engine, settings: Settings, knowledge: KnowledgeSource, clock: Callable[[], dt.datetime], app: web.Application) -> None:
    """Mount the dashboard under /staff/ on the operations server (an extension of bot.web.server)."""

    async def to_slash(request: web.Request) -> web.StreamResponse:
        return _redirect("/staff/")

    app.router.add_get("/staff", to_slash)  # before the sub-app, which would answer /staff itself with 404
    app.add_subapp("/staff/", create_staff_app(engine, settings, knowledge, clock))


# --- middlewares ------------------------------------------------------------------------------


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer, aiohttp's own refusals included; never a traceback."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        keep = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "location", "retry-after")}
        response = web.Response(status=exc.status, text=f"{exc.status} {exc.reason}", headers=keep)
    except Exception:
        log.exception("staff dashboard: %s %s failed", request.method, request.path)
        response = web.Response(status=500, text="500 Internal Server Error")
    response.headers.update(HEADERS)
    return response


@web.middleware
async def _who(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The page language, and the signed-in account if the session cookie names a live session."""
    state = request.app[STATE]
    chosen = request.query.get("lang")
    request[LANG] = _language(request, chosen)
    proxied = state.proxy.user(request)
    proxy_secret: str | None = None
    session_id = request.cookies.get(SESSION_COOKIE)
    if proxied is not None:
        if proxied.role is None:
            log.info("staff dashboard: the proxy's user has no role here", extra={"staff_account": proxied.name[:64]})
            return _message(request, 403, "error", "proxy_no_role")
        request[USER] = Account(proxied.name, proxied.role, state.clock())
        request[VIA_PROXY] = True
        kept = request.cookies.get(PROXY_COOKIE, "")
        request[SESSION] = kept if len(kept) >= 32 else (proxy_secret := secrets.token_urlsafe(32))
    elif session_id:
        config = state.settings.dashboard
        session = await run_blocking(state.accounts.session, session_id, state.clock(),
                                          dt.timedelta(minutes=config.session_idle_minutes), dt.timedelta(hours=config.session_hours))
        if session is not None:
            request[USER] = session.account
            request[SESSION] = session_id
    response = await handler(request)
    if chosen in LANGUAGES:
        set_cookie(response, request, state.origin, LANG_COOKIE, chosen, state.prefix, max_age=365 * 24 * 3600)
    if proxy_secret is not None:
        set_cookie(response, request, state.origin, PROXY_COOKIE, proxy_secret, state.prefix)
    return response


def _language(request: web.Request, chosen: str | None) -> str:
    if chosen in LANGUAGES:
        return chosen
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return LANGUAGES[0]


@web.middleware
async def _signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages need a signed-in account: a page view is sent to the sign-in form, anything else refused."""
    if USER in request or request.match_info.handler in (_login_form, _login) or request.match_info.http_exception is not None \
            or request.path.startswith(request.app[STATE].prefix + "static/"):
        return await handler(request)
    if request.method == "GET":
        return _redirect(f"{request.app[STATE].prefix}login?next={quote(request.path_qs, safe='')}")
    return _message(request, 401, "login_title", "form_expired")


@web.middleware
async def _csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every POST carries the form's token: the session's, or before signing in the sign-in form's cookie."""
    if request.method != "POST":
        return await handler(request)
    form = await request.post()
    expected = csrf_token(request[SESSION]) if SESSION in request else request.cookies.get(LOGIN_COOKIE, "")
    if not same_token(form.get("csrf"), expected):
        return _message(request, 403, "error", "form_expired")
    return await handler(request)


# --- helpers ----------------------------------------------------------------------------------


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _safe_next(request: web.Request, target: str | None) -> str:
    """Only a path inside the dashboard: never another site (an open redirect)."""
    prefix = request.app[STATE].prefix
    if target and target.startswith(prefix) and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return prefix


def _t(request: web.Request) -> dict[str, str]:
    return TEXTS[request[LANG]]


def _when(request: web.Request, at: dt.datetime) -> str:
    local = at.astimezone(request.app[STATE].zone)
    return f"{local:%d.%m.%Y %H:%M}" if request[LANG] == "de" else f"{local:%Y-%m-%d %H:%M}"


def _render(request: web.Request, template: str, title_key: str, status: int = 200, **context: Any) -> web.Response:
    state = request.app[STATE]
    t = _t(request)
    prefix = state.prefix
    nav = [(prefix, t["overview"])] + [(f"{prefix}{page}", t[page]) for page in ("unanswered", "usage", "feedback", "stale", "validation")]
    html = state.templates.get_template(template).render(
        t=t, lang=request[LANG], user=request.get(USER), csrf=csrf_token(request[SESSION]) if SESSION in request else "",
        root=prefix, nav=nav, current=request.path, title=t[title_key], when=lambda at: _when(request, at),
        is_editor=request.get(USER) is not None and request[USER].role == "editor", via_proxy=request.get(VIA_PROXY, False), **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _message(request: web.Request, status: int, title_key: str, message_key: str, **values: Any) -> web.Response:
    return _render(request, "message.html", title_key, status=status, message=_t(request)[message_key].format(**values))


_PERIODS = ("24h", "7d", "30d", "90d", "52w")


def _period(request: web.Request, default: str) -> tuple[str, dt.timedelta, str | None]:
    """The chosen report window (one of the offered ones), and a note when the request named another."""
    asked = request.query.get("since", default)
    if asked in _PERIODS:
        return asked, parse_since(asked), None
    return default, parse_since(default), _t(request)["bad_period"].format(default=_t(request)[f"since_{default}"])


def _titles(state: _State, lang: str) -> Callable[[str], str]:
    entries = state.live.snapshot.knowledge.entries

    def title(entry_id: str) -> str:
        entry = entries.get(entry_id)
        if entry is None:
            return ""
        text = entry.texts.get(lang) or next(iter(entry.texts.values()))
        return text.title

    return title


# --- signing in and out -----------------------------------------------------------------------


async def _login_form(request: web.Request) -> web.StreamResponse:
    target = _safe_next(request, request.query.get("next"))
    if USER in request:
        return _redirect(target)
    return _login_page(request, target)


def _login_page(request: web.Request, target: str, status: int = 200, error: str | None = None,
                name: str = "", retry_after: float | None = None) -> web.Response:
    state = request.app[STATE]
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", "login_title", status=status, login_csrf=token, next=target, error=error, name=name)
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after) + 1)
    set_cookie(response, request, state.origin, LOGIN_COOKIE, token, state.prefix, max_age=3600)
    return response


async def _login(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await request.post()
    name = str(form.get("name", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    target = _safe_next(request, str(form.get("next", "")))
    address = state.origin.address(request)
    wait = state.limiter.retry_after(name, address)
    if wait is not None:
        log.warning("staff sign-in refused: too many wrong passwords", extra={"staff_account": name})
        message = _t(request)["login_limited"].format(minutes=max(1, round(wait / 60)))
        return _login_page(request, target, 429, message, name, retry_after=wait)
    account = await run_blocking(state.accounts.verify, name, password)
    if account is None:
        state.limiter.failed(name, address)
        log.info("staff sign-in failed", extra={"staff_account": name})
        return _login_page(request, target, 401, _t(request)["login_failed"], name)
    state.limiter.succeeded(name)
    config = state.settings.dashboard
    session_id = await run_blocking(state.accounts.start_session, account, state.clock(), dt.timedelta(minutes=config.session_idle_minutes))
    log.info("staff signed in", extra={"staff_account": account.name})
    response = _redirect(target)
    set_cookie(response, request, state.origin, SESSION_COOKIE, session_id, state.prefix)
    response.del_cookie(LOGIN_COOKIE, path=state.prefix)
    return response


async def _logout(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    await run_blocking(state.accounts.end_session, request[SESSION])
    response = _redirect(f"{state.prefix}login")
    response.del_cookie(SESSION_COOKIE, path=state.prefix)
    return response


# --- pages ------------------------------------------------------------------------------------


async def _overview(request: web.Request) -> web.StreamResponse:
    return _render(request, "overview.html", "overview")


@dataclass(frozen=True)
class _Group:
    cluster: unanswered_report.Cluster
    examples: list[tuple[str, str]]  # (text, language)
    suggested_id: str


def _suggest_id(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", fold(text)).split()[:5]
    candidate = "-".join(words)[:60].strip("-")
    return candidate if candidate and slug_problem(candidate) is None else "neuer-eintrag"


async def _unanswered(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    period, delta, note = _period(request, "7d")
    now = state.clock()
    since = now - delta

    def work() -> tuple[list[unanswered_report.Cluster], list[Draft]]:
        clusters = unanswered_report.cluster_questions(unanswered_report.load_unanswered(state.engine, since))
        unanswered_report.add_nearest(clusters, state.live.snapshot, state.settings.matching.threshold)
        drafts = waiting_drafts(state.settings.handover.drafts_dir)
        unanswered_report.add_drafts(clusters, drafts)
        return clusters, drafts

    clusters, drafts = await run_blocking(work)
    groups = []
    for cluster in clusters:
        examples = [(text, Counter(q.language for q in cluster.questions if q.text == text).most_common(1)[0][0]) for text in cluster.examples]
        groups.append(_Group(cluster, examples, _suggest_id(cluster.examples[0])))
    return _render(request, "unanswered.html", "unanswered", groups=groups, periods=_PERIODS, period=period, note=note, since=since,
                   questions=sum(c.count for c in clusters), languages=state.settings.languages, drafts=drafts)


async def _template(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if request[USER].role != "editor":
        return _message(request, 403, "error", "template_editor_only")
    form = await request.post()
    entry_id = str(form.get("id", "")).strip()
    problem = slug_problem(entry_id)
    if problem is not None:
        return _render(request, "message.html", "error", status=400, message=_t(request)["template_bad_id"].format(problem=problem))
    taken = state.live.snapshot.knowledge.entries.get(entry_id)
    if taken is not None:
        return _render(request, "message.html", "error", status=409, message=_t(request)["template_id_used"].format(id=entry_id, source=taken.source))
    questions = {
        lang: [str(q)[:MAX_QUESTION_CHARS] for q in form.getall(f"q_{lang}", [])][:MAX_TEMPLATE_QUESTIONS]
        for lang in state.settings.languages
    }
    body = render_template(entry_id, "faq", state.settings.languages, state.clock().date(), questions)
    log.info("staff %s downloaded a template for %s", request[USER].name, entry_id)
    return web.Response(text=body, content_type="application/yaml", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{entry_id}.yaml"'})


_BUCKETS = {"24h": ("hour", 24), "7d": ("day", 7), "30d": ("day", 30), "90d": ("week", 13), "52w": ("week", 52)}


def _bucket_starts(now: dt.datetime, unit: str, count: int) -> list[dt.datetime]:
    """The starts of ``count`` calendar hours, days or weeks (Monday) in the city's time, the last one holding ``now``."""
    if unit == "hour":
        start = now.replace(minute=0, second=0, microsecond=0)
        return [start - dt.timedelta(hours=i) for i in reversed(range(count))]
    day = now.date() - dt.timedelta(days=now.weekday() if unit == "week" else 0)
    step = 7 if unit == "week" else 1
    return [dt.datetime.combine(day - dt.timedelta(days=step * i), dt.time(), now.tzinfo) for i in reversed(range(count))]


def _bucket_label(start: dt.datetime, unit: str, lang: str) -> str:
    if unit == "hour":
        return f"{start:%H}:00"
    return f"{start:%d.%m.}" if lang == "de" else f"{start:%m-%d}"


async def _usage(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    t = _t(request)
    period, _, note = _period(request, "30d")
    unit, count = _BUCKETS[period]
    now = state.clock().astimezone(state.zone)
    starts = _bucket_starts(now, unit, count)
    ends = [*starts[1:], now]

    def work() -> tuple[usage_report.UsageReport, list[usage_report.UsageReport]]:
        whole = usage_report.usage_report(state.engine, starts[0], now)
        # usage_report counts both ends of its window: each bucket stops just before the next begins
        parts = [usage_report.usage_report(state.engine, s, e - dt.timedelta(microseconds=1) if e is not now else e)
                 for s, e in zip(starts, ends, strict=True)]
        return whole, parts

    whole, parts = await run_blocking(work)
    labels = [_bucket_label(s, unit, request[LANG]) for s in starts]
    charts_out = []
    for key, attribute in (("usage_questions_by_channel", "channels"), ("usage_questions_by_language", "languages"),
                           ("usage_questions_by_profile", "profiles")):
        names = sorted(getattr(whole, attribute))
        series = {name: [getattr(p, attribute).get(name, usage_report.Totals()).questions for p in parts] for name in names}
        charts_out.append(_chart(request, key, attribute, labels, series, starts[0], now))
    totals = whole.totals
    share = f"{totals.out_of_scope_share:.0%}" if totals.out_of_scope_share is not None else "–"
    summary = t["usage_totals"].format(answers=totals.answers, out_of_scope=totals.out_of_scope, share=share, choices=totals.choices_taken)
    return _render(request, "usage.html", "usage", charts=charts_out, labels=labels, periods=_PERIODS, period=period, note=note,
                   summary=summary, top=whole.top(15), title_of=_titles(state, request[LANG]))


@dataclass(frozen=True)
class _Chart:
    heading: str
    svg: Any  # markupsafe.Markup
    legend: list[tuple[str, str, int]]
    series: dict[str, list[int]]
    totals: list[int]


def _chart(request: web.Request, key: str, chart_id: str, labels: list[str], series: dict[str, list[int]], start: dt.datetime,
           end: dt.datetime) -> _Chart:
    t = _t(request)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    grand = sum(totals)
    if grand:
        top_name, top_values = max(series.items(), key=lambda item: sum(item[1]))
        desc = t["usage_chart_desc"].format(total=grand, start=_when(request, start), end=_when(request, end), top=top_name, top_count=sum(top_values))
    else:
        desc = t["usage_chart_empty"].format(start=_when(request, start), end=_when(request, end))
    svg = charts.stacked_bars(f"chart-{chart_id}", t[key], desc, labels, series)
    return _Chart(t[key], svg, charts.legend(series), series, totals)


async def _feedback(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    period, delta, note = _period(request, "30d")
    now = state.clock()
    report = await run_blocking(feedback_report.feedback_report, state.engine, now - delta, now)
    return _render(request, "feedback.html", "feedback", report=report, periods=_PERIODS, period=period, note=note,
                   title_of=_titles(state, request[LANG]))


async def _stale(request: web.Request) -> web.StreamResponse:
    return _stale_page(request, None, None)


async def _stale_with_links(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if state.link_check.locked():
        return _stale_page(request, None, _t(request)["stale_links_busy"], status=429)
    limit = state.settings.dashboard.link_check_seconds
    urls = stale_report.all_links(state.live.snapshot.knowledge)
    results: dict[str, LinkCheck] = {}
    note = None
    async with state.link_check:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        for i in range(0, len(urls), LINK_BATCH):
            left = deadline - loop.time()
            if left <= 0.5:
                note = _t(request)["stale_links_timeout"].format(seconds=limit)
                break
            try:
                async with asyncio.timeout(left):
                    results.update(await state.links(urls[i:i + LINK_BATCH], min(10.0, left)))
            except TimeoutError:
                note = _t(request)["stale_links_timeout"].format(seconds=limit)
                break
    return _stale_page(request, results, note)


def _stale_page(request: web.Request, links: Mapping[str, LinkCheck] | None, note: str | None, status: int = 200) -> web.Response:
    state = request.app[STATE]
    kb = state.live.snapshot.knowledge
    found = stale_report.stale_entries(kb, state.clock().date(), state.settings.staff.review_after_days, links)
    broken = sum(1 for check in (links or {}).values() if not check.ok)
    return _render(request, "stale.html", "stale", status=status, found=found, entries=len(kb.entries), links=links, broken=broken, note=note,
                   limit=state.settings.dashboard.link_check_seconds)


async def _validation(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    problems = sorted(state.live.last_problems, key=lambda p: (p.severity != "error", p.path, p.line))
    errors = sum(p.severity == "error" for p in problems)
    return _render(request, "validation.html", "validation", problems=problems, errors=errors, warnings=len(problems) - errors,
                   entries=len(state.live.snapshot.knowledge.entries))


def staff_extension(engine: Engine, settings: Settings, knowledge: KnowledgeSource, clock: Callable[[], dt.datetime]) -> Sequence[Callable[[web.Application], None]]:
    """For `buergerbot run`: the dashboard on the operations server, unless turned off."""
    if not settings.dashboard.enabled:
        return []
    return [partial(install_staff, engine, settings, knowledge, clock)]
