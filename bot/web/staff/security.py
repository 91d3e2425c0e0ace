"""The dashboard's protections that do not depend on a page: where a request came from, whether it
arrived over TLS, cookies, CSRF tokens, the limit on wrong passwords, and who the city's reverse
proxy says signed in."""

from __future__ import annotations

import collections
import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.config import ProxyAuthConfig
from bot.storage.staff import Role

log = logging.getLogger(__name__)

SESSION_COOKIE = "buergerbot_staff"
LOGIN_COOKIE = "buergerbot_staff_login"  # the sign-in form's CSRF token, before there is a session
PROXY_COOKIE = "buergerbot_staff_proxy"  # for people the proxy signed in: only the secret their forms' CSRF tokens derive from
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # reports hold citizens' questions: not for shared caches or the back button after sign-out
    "Cross-Origin-Opener-Policy": "same-origin",
}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _peer_in(request: web.BaseRequest, networks: Sequence[Network]) -> bool:
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(peer in net for net in networks)


@dataclass(frozen=True)
class ProxyUser:
    name: str
    role: Role | None  # None: the proxy vouches for the person, but the configuration gives them no role


class ProxySignIn:
    """Who the city's reverse proxy says signed in (``[dashboard.proxy_auth]``). The header counts
    only on a request whose peer is one of the configured proxy addresses: from anywhere else it is
    ignored and logged, as it would let anybody name any user."""

    def __init__(self, config: ProxyAuthConfig) -> None:
        self._config = config
        self._proxies: tuple[Network, ...] = tuple(ipaddress.ip_network(p, strict=False) for p in config.proxies)
        self._editors = frozenset(config.editors)
        self._viewers = frozenset(config.viewers)

    def user(self, request: web.BaseRequest) -> ProxyUser | None:
        """The person the proxy names, with their role; None when the request names nobody (or
        proxy sign-in is off, or the request does not come from the proxy)."""
        config = self._config
        if not config.enabled:
            return None
        named = request.headers.get(config.user_header)
        if named is None:
            return None
        if not _peer_in(request, self._proxies):
            log.warning("staff dashboard: %s from an address that is not a configured proxy ignored", config.user_header)
            return None
        name = named.strip()
        if not name or len(name) > 128 or not name.isprintable():
            return None
        groups = {g.strip() for g in request.headers.get(config.groups_header, "").split(",") if g.strip()} if config.groups_header else set()
        keys = {name} | {f"group:{g}" for g in groups}
        role: Role | None = "editor" if keys & self._editors else "viewer" if keys & self._viewers else None
        return ProxyUser(name, role)


class Origin:
    """Who sent a request and how, believing X-Forwarded-* only from the configured proxies."""

    def __init__(self, trusted_proxies: Sequence[str], always_secure: bool) -> None:
        self._trusted: tuple[Network, ...] = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._always_secure = always_secure

    def _from_proxy(self, request: web.BaseRequest) -> bool:
        return _peer_in(request, self._trusted)

    def over_tls(self, request: web.BaseRequest) -> bool:
        if self._always_secure or request.secure:
            return True
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https" and self._from_proxy(request)

    def address(self, request: web.BaseRequest) -> str:
        """The client's address: the one the trusted proxy saw (the last X-Forwarded-For hop), else the peer's."""
        if self._from_proxy(request):
            hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
            if hops:
                return hops[-1]
        return request.remote or "unknown"


def set_cookie(response: web.StreamResponse, request: web.BaseRequest, origin: Origin, name: str, value: str, path: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=path, httponly=True, samesite="Strict", secure=origin.over_tls(request), max_age=max_age)


def csrf_token(session_id: str) -> str:
    """The forms' token for a session: derived from the session id, so nothing more is stored, and
    only a page that can read the session's own responses can know it."""
    return hmac.new(session_id.encode(), b"buergerbot staff form", hashlib.sha256).hexdigest()


def same_token(sent: object, expected: str) -> bool:
    return isinstance(sent, str) and bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


class LoginLimiter:
    """Wrong passwords per account name and per client address within a sliding window.

    Counted in memory: each process counts its own attempts, so with several processes behind one
    address the limit applies per process. Beyond ``max_keys`` the oldest counters are dropped, so
    a flood of made-up names cannot use up memory.
    """

    def __init__(self, per_name: int, per_address: int, window_seconds: float = 900.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self._limits = {"name": per_name, "address": per_address}
        self._window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._failures: collections.OrderedDict[tuple[str, str], collections.deque[float]] = collections.OrderedDict()

    def retry_after(self, name: str, address: str) -> float | None:
        """Seconds until another attempt is allowed, or None when it is allowed now."""
        now = self._clock()
        waits = []
        for key in (("name", name.lower()), ("address", address)):
            times = self._recent(key, now)
            if len(times) >= self._limits[key[0]]:
                waits.append(times[0] + self._window - now)
        return max(waits) if waits else None

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        for key in (("name", name.lower()), ("address", address)):
            self._recent(key, now).append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, name: str) -> None:
        self._failures.pop(("name", name.lower()), None)

    def _recent(self, key: tuple[str, str], now: float) -> collections.deque[float]:
        times = self._failures.setdefault(key, collections.deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times
