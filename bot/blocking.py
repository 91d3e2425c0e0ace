"""The one boundary between the event loop and blocking work: a bounded thread pool per process.

Everything that may wait for the database (a dialogue turn: chat states, the reminder book,
deleting a chat's data; a back-office request; the reminder jobs; claiming Telegram updates) runs
through :func:`run_blocking` or :class:`ChatTurns`, never inline on the event loop. A slow or
unreachable database then stalls only the turns that wait for it, not every chat of the process.

Why threads and not SQLAlchemy's asyncio engine: the dialogue is synchronous, pure-Python CPU work
of about a millisecond, and it reads the database rarely (chat states are cached, logs are written
in batches by their own threads). An asyncio engine would turn every port of the core and every
flow into coroutines, for no gain on the turns that never touch the database. Measured with
``benchmarks/telegram_throughput.py`` (ours against a bare python-telegram-bot echo bot in the
same run), a turn in this pool costs no throughput against the inline call; see
``docs/measurements.md``.

* One pool for the process (:func:`shared_pool`), sized ``POOL_THREADS``: bounded, so a database
  that hangs cannot make the process start a thread per waiting message; large enough that one
  hanging chat leaves threads for the others. Above the database's connection pool, threads would
  only wait for a connection.
* :class:`ChatTurns` keeps each chat in order: two messages of one chat are answered (and their
  replies sent) one after the other, in the order they came; different chats run in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from bot.core.models import Incoming, Reply

Handle = Callable[[Incoming], Sequence[Reply]]
P = ParamSpec("P")
T = TypeVar("T")

POOL_THREADS = 8  # SQLAlchemy's default connection pool holds 5 + 10 overflow connections

_shared: ThreadPoolExecutor | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ThreadPoolExecutor:
    """The process's pool for blocking work, made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="blocking")
        return _shared


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``func(*args, **kwargs)`` in the process's pool, awaited without blocking the event loop."""
    loop = asyncio.get_running_loop()
    call = functools.partial(func, *args, **kwargs) if kwargs else functools.partial(func, *args)
    return await loop.run_in_executor(shared_pool(), call)


class _Queue:
    """The lock of one chat, and how many turns hold or wait for it (dropped at zero)."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class ChatTurns:
    """A synchronous dialogue ``handle`` behind the boundary, as the adapters call it.

    ``await turns.answer(incoming)`` runs one turn in the pool. ``async with turns.in_order(key)``
    holds a chat's place: the turn and the sending of its replies go inside, so the next message
    of that chat waits for both (asyncio's lock wakes its waiters in the order they came).
    """

    def __init__(self, handle: Handle, pool: ThreadPoolExecutor | None = None) -> None:
        self._handle = handle
        self._pool = pool
        self._chats: dict[Hashable, _Queue] = {}

    @contextlib.asynccontextmanager
    async def in_order(self, chat: Hashable) -> AsyncIterator[None]:
        queue = self._chats.get(chat)
        if queue is None:
            queue = self._chats[chat] = _Queue()
        queue.users += 1
        try:
            async with queue.lock:
                yield
        finally:
            queue.users -= 1
            if queue.users == 0:
                del self._chats[chat]

    async def answer(self, incoming: Incoming) -> Sequence[Reply]:
        """The dialogue's replies to ``incoming``, computed in the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool or shared_pool(), self._handle, incoming)

    @property
    def chats_waiting(self) -> int:
        """Chats with a turn running or waiting (for tests and stop)."""
        return len(self._chats)


def chat_key(incoming: Incoming) -> tuple[str, str, str]:
    """What keeps turns in order: one chat of one channel and profile."""
    return incoming.channel, incoming.chat_id, incoming.profile
