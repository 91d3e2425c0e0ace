"""The web chat's sessions, apart from any HTTP library: what makes reconnecting safe.

Every answer the server sends is one *item* with a sequence number, kept in the session's bounded
outbox; a page that reconnects says the last number it saw and gets what came after, and drops
numbers it has seen (a resend). Every message of the page carries a client id; a message whose
id the session has seen is not answered again, so a page that resends after a lost connection gets
one answer, never two.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Item = dict[str, Any]
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SEEN_KEEP = 512  # client ids remembered per session: far more than one page resends at once


class RateLimit:
    """At most ``per_minute`` events per key in any minute-long burst (a token bucket), for at most
    ``max_keys`` keys (the least recently used is forgotten)."""

    def __init__(self, per_minute: int, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * self.per_minute / 60.0)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed


@dataclass
class Session:
    profile: str
    session_id: str
    outbox_size: int
    next_seq: int = 1
    outbox: deque[Item] = field(default_factory=deque)
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    language: str | None = None  # of the last answer, for the limit replies
    last_active: float = 0.0
    connection: object | None = None  # the page's current WebSocket, if any
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def seen_before(self, client_id: str) -> bool:
        """Whether a message with this client id was taken already (and note it if not)."""
        if client_id in self.seen:
            return True
        self.seen[client_id] = None
        if len(self.seen) > _SEEN_KEEP:
            self.seen.popitem(last=False)
        return False

    def push(self, item: Item) -> Item:
        """Number the item and keep it for a reconnecting page; wakes waiting polls."""
        item = {"seq": self.next_seq, **item}
        self.next_seq += 1
        self.outbox.append(item)
        while len(self.outbox) > self.outbox_size:
            self.outbox.popleft()
        self.changed.set()
        self.changed = asyncio.Event()
        return item

    def after(self, seq: int) -> list[Item]:
        """The kept items after sequence number ``seq``, oldest first."""
        return [item for item in self.outbox if item["seq"] > seq]


class Sessions:
    """The open sessions by profile and session id: bounded in number, and dropped when idle."""

    def __init__(self, outbox_size: int, max_sessions: int, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.outbox_size = outbox_size
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._open: OrderedDict[tuple[str, str], Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def find(self, profile: str, session_id: str) -> Session | None:
        """The open session, marked as used now; None if there is none (or it was idle too long)."""
        key = (profile, session_id)
        now = self.clock()
        session = self._open.pop(key, None)
        if session is None or now - session.last_active > self.idle_seconds:
            return None
        session.last_active = now
        self._open[key] = session
        return session

    def open(self, profile: str, session_id: str) -> Session:
        """A new session under this id (one kept under it is replaced)."""
        session = Session(profile, session_id, self.outbox_size, last_active=self.clock())
        self._open.pop((profile, session_id), None)
        self._open[(profile, session_id)] = session
        while len(self._open) > self.max_sessions:
            self._open.popitem(last=False)
        return session

    def expire(self) -> int:
        """Drop sessions idle for longer than the limit; returns how many."""
        now = self.clock()
        stale = [key for key, s in self._open.items() if now - s.last_active > self.idle_seconds and s.connection is None]
        for key in stale:
            del self._open[key]
        return len(stale)
