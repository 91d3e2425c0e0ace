"""A write-through cache in front of a chat-state store, which also carries the chats through an
outage of the store.

Most messages neither read a changed state nor change it (a question, an answer), so the database
is touched only on a chat's first message in this process and when its durable state (the
language choice) changes; offered choices live here only, so a restart forgets them.
It assumes one process answers a given chat with a given profile, as one Telegram poller or one
Matrix sync loop does. Forgetting a chat clears this process's cache and the store; a worker that
serves another profile keeps what it cached of that chat until it evicts it or restarts.

While the store fails, questions are still answered: a chat not cached yet starts from an empty
state, and language choices wait here. The store is tried again every ``retry_seconds`` (not on
every message: each try may wait for a connection timeout); once it answers, the waiting choices
are written and the states guessed during the outage are read from it afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.core.models import CONTEXT_PREFIX, ChatRef, UserState
from bot.core.ports import UserStateStore

log = logging.getLogger(__name__)

_Chat = tuple[str, str]  # (channel, chat id)
_Key = tuple[str, str, str]  # (channel, chat id, profile)
_Frozen = tuple[str | None, tuple[str, ...], tuple[tuple[str, str], ...]]
# What a store that is away raises: the database's errors, and the OS's (a file or socket gone).
_OUTAGE = (SQLAlchemyError, OSError)


def _freeze(state: UserState) -> _Frozen:
    return state.language, tuple(state.pending_choices), tuple(sorted(state.extra.items()))


def _durable(frozen: _Frozen) -> tuple[object, ...]:
    """What must reach the store: everything except the offered choices and the conversation's
    context, which change with nearly every message and live in memory only (a write per message
    would put the database on every answer's path)."""
    return frozen[0], tuple(item for item in frozen[2] if not item[0].startswith(CONTEXT_PREFIX))


def _thaw(frozen: _Frozen) -> UserState:
    return UserState(language=frozen[0], pending_choices=frozen[1], extra=dict(frozen[2]))


def _key(chat: ChatRef) -> _Key:
    return chat.channel, chat.chat_id, chat.profile


class CachedUserStates:
    """See the module docstring. Dialogue turns of different chats use it from the threads of the
    process's pool (bot.blocking) at once: the cache is changed under a lock, the store is asked
    outside it (a slow store must not hold up the chats it is not asked about), and one thread at
    a time tries the store again during an outage. Turns of one chat come one after the other."""

    def __init__(
        self, inner: UserStateStore, max_chats: int = 100_000, retry_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._max = max_chats
        self._lock = threading.Lock()  # guards the fields below
        # By chat, then profile: forgetting a chat drops its state with every profile at once.
        self._cache: OrderedDict[_Chat, dict[str, _Frozen]] = OrderedDict()
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._down = False  # the store failed and has not answered since
        self._retry_at = 0.0
        self._unsaved: dict[_Key, tuple[ChatRef, UserState]] = {}  # durable changes the store has not taken yet
        self._guessed: set[_Key] = set()  # states started empty because the store could not be read
        self._retrying = threading.Lock()  # held by the thread trying the store again

    def load(self, chat: ChatRef) -> UserState:
        self._retry(chat)
        with self._lock:
            frozen = self._cached(chat)
        if frozen is None:
            frozen = _freeze(self._load_stored(chat))
            with self._lock:
                self._remember(chat, frozen)
        return _thaw(frozen)

    def save(self, chat: ChatRef, state: UserState) -> None:
        frozen = _freeze(state)
        with self._lock:
            cached = self._cached(chat)
        if cached == frozen:
            return
        if cached is None or _durable(cached) != _durable(frozen):
            self._store(chat, state)
        with self._lock:
            self._remember(chat, frozen)

    def export(self, chat: ChatRef) -> dict[str, UserState]:
        self._retry(chat)
        states = self._inner.export(chat)  # raises while the store is away: an export must be complete
        # Offered choices exist only here, and the cache is as new as the store or newer.
        with self._lock:
            cached = list(self._cache.get((chat.channel, chat.chat_id), {}).items())
        states.update((profile, _thaw(frozen)) for profile, frozen in cached)
        return states

    def forget(self, chat: ChatRef) -> None:
        self._retry(chat)
        self._inner.forget(chat)  # raises while the store is away: "deleted" must be true when said
        with self._lock:
            self._cache.pop((chat.channel, chat.chat_id), None)
            for key in [k for k in self._unsaved if k[:2] == (chat.channel, chat.chat_id)]:
                del self._unsaved[key]
            self._guessed = {k for k in self._guessed if k[:2] != (chat.channel, chat.chat_id)}

    def _load_stored(self, chat: ChatRef) -> UserState:
        with self._lock:
            waiting = self._unsaved.get(_key(chat))
            down = self._down
        if waiting is not None:  # evicted from the cache during the outage: the choice is still here
            return waiting[1]
        if not down:
            try:
                return self._inner.load(chat)
            except _OUTAGE as exc:
                self._failed(exc)
        with self._lock:
            self._guessed.add(_key(chat))
        return UserState()

    def _store(self, chat: ChatRef, state: UserState) -> None:
        key = _key(chat)
        with self._lock:
            self._guessed.discard(key)  # the person's own choice wins over whatever the store holds
            down = self._down
        if not down:
            try:
                self._inner.save(chat, state)
                return
            except _OUTAGE as exc:
                self._failed(exc)
        with self._lock:
            self._unsaved[key] = (chat, state)

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self._retry_at = self._clock() + self._retry_seconds
        if first:
            log.error("chat state store unavailable (%s): chat states are kept in memory until it is back", type(exc).__name__)

    def _retry(self, chat: ChatRef) -> None:
        """During an outage, at most every ``retry_seconds``: write what waits, or read ``chat``'s
        state to see whether the store answers again."""
        if not self._down or self._clock() < self._retry_at:
            return
        if not self._retrying.acquire(blocking=False):
            return  # another thread is trying right now
        try:
            self._retry_now(chat)
        finally:
            self._retrying.release()

    def _retry_now(self, chat: ChatRef) -> None:
        with self._lock:
            if not self._down or self._clock() < self._retry_at:
                return
            waiting = list(self._unsaved.items())
        written = 0
        try:
            for key, pending in waiting:
                self._inner.save(*pending)
                with self._lock:
                    if self._unsaved.get(key) is pending:  # not changed again meanwhile
                        del self._unsaved[key]
                written += 1
            if not written:
                stored = self._inner.load(chat)
        except _OUTAGE:
            with self._lock:
                self._retry_at = self._clock() + self._retry_seconds
            return
        with self._lock:
            self._down = False
            # Started empty during the outage: read again on their next message.
            for channel, chat_id, profile in self._guessed:
                profiles = self._cache.get((channel, chat_id))
                if profiles is not None:
                    profiles.pop(profile, None)
            self._guessed.clear()
            if not written and self._cached(chat) is None:
                self._remember(chat, _freeze(stored))
        log.warning("chat state store is back: %d chat states changed during the outage written", written)

    def _cached(self, chat: ChatRef) -> _Frozen | None:
        profiles = self._cache.get((chat.channel, chat.chat_id))
        if profiles is None:
            return None
        self._cache.move_to_end((chat.channel, chat.chat_id))
        return profiles.get(chat.profile)

    def _remember(self, chat: ChatRef, frozen: _Frozen) -> None:
        key = (chat.channel, chat.chat_id)
        self._cache.setdefault(key, {})[chat.profile] = frozen
        self._cache.move_to_end(key)
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
