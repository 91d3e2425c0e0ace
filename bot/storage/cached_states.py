"""A write-through cache in front of a chat-state store.

Most messages neither read a changed state nor change it (a question, an answer), so the database
is touched only on a chat's first message in this process and when its durable state (the
language choice) changes; offered choices live here only, so a restart forgets them.
It assumes one process answers a given chat with a given profile, as one Telegram poller or one
Matrix sync loop does. Forgetting a chat clears this process's cache and the store; a worker that
serves another profile keeps what it cached of that chat until it evicts it or restarts.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.core.models import ChatRef, UserState
from bot.core.ports import UserStateStore

_Chat = tuple[str, str]  # (channel, chat id)
_Frozen = tuple[str | None, tuple[str, ...], tuple[tuple[str, str], ...]]


def _freeze(state: UserState) -> _Frozen:
    return state.language, tuple(state.pending_choices), tuple(sorted(state.extra.items()))


def _durable(frozen: _Frozen) -> tuple[object, ...]:
    """What must reach the store: everything except the offered choices (memory only)."""
    return frozen[0], frozen[2]


def _thaw(frozen: _Frozen) -> UserState:
    return UserState(language=frozen[0], pending_choices=frozen[1], extra=dict(frozen[2]))


class CachedUserStates:
    def __init__(self, inner: UserStateStore, max_chats: int = 100_000) -> None:
        self._inner = inner
        self._max = max_chats
        # By chat, then profile: forgetting a chat drops its state with every profile at once.
        self._cache: OrderedDict[_Chat, dict[str, _Frozen]] = OrderedDict()

    def load(self, chat: ChatRef) -> UserState:
        frozen = self._cached(chat)
        if frozen is None:
            frozen = _freeze(self._inner.load(chat))
            self._remember(chat, frozen)
        return _thaw(frozen)

    def save(self, chat: ChatRef, state: UserState) -> None:
        frozen = _freeze(state)
        cached = self._cached(chat)
        if cached == frozen:
            return
        if cached is None or _durable(cached) != _durable(frozen):
            self._inner.save(chat, state)
        self._remember(chat, frozen)

    def export(self, chat: ChatRef) -> dict[str, UserState]:
        states = self._inner.export(chat)
        # Offered choices exist only here, and the cache is as new as the store or newer.
        states.update((profile, _thaw(frozen)) for profile, frozen in self._cache.get((chat.channel, chat.chat_id), {}).items())
        return states

    def forget(self, chat: ChatRef) -> None:
        self._inner.forget(chat)
        self._cache.pop((chat.channel, chat.chat_id), None)

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
