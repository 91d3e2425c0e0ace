"""A write-through cache in front of a chat-state store.

Most messages neither read a changed state nor change it (a question, an answer), so the database
is touched only on a chat's first message in this process and when its durable state (the
language choice) changes; offered choices live here only, so a restart forgets them.
It assumes one process answers a given chat, as one Telegram poller or one Matrix sync loop does.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.core.models import UserState
from bot.core.ports import UserStateStore

_Key = tuple[str, str]
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
        self._cache: OrderedDict[_Key, _Frozen] = OrderedDict()

    def load(self, channel: str, chat_id: str) -> UserState:
        key = (channel, chat_id)
        frozen = self._cache.get(key)
        if frozen is None:
            frozen = _freeze(self._inner.load(channel, chat_id))
            self._remember(key, frozen)
        else:
            self._cache.move_to_end(key)
        return _thaw(frozen)

    def save(self, channel: str, chat_id: str, state: UserState) -> None:
        key = (channel, chat_id)
        frozen = _freeze(state)
        cached = self._cache.get(key)
        if cached == frozen:
            return
        if cached is None or _durable(cached) != _durable(frozen):
            self._inner.save(channel, chat_id, state)
        self._remember(key, frozen)

    def delete(self, channel: str, chat_id: str) -> None:
        self._inner.delete(channel, chat_id)
        self._cache.pop((channel, chat_id), None)

    def _remember(self, key: _Key, frozen: _Frozen) -> None:
        self._cache[key] = frozen
        self._cache.move_to_end(key)
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
