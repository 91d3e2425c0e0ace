"""The one boundary between the event loop and blocking work: a bounded thread pool per process.

Everything that may wait for the database runs through :func:`run_blocking` or
:class:`ChatTurns`, never inline on the event loop: a dialogue turn (chat states, the reminder
book, deleting a chat's data) for the Telegram, Matrix and web chat adapters; claiming Telegram
updates and the shared flood budget; the back-office API and the staff pages; the reminder
worker's statements and jobs. A slow or unreachable database then holds up only the turns that
wait for it, not every chat of the process.

Why a thread pool and not SQLAlchemy's asyncio engine: the dialogue is synchronous Python, about a
millisecond of CPU a turn, and most turns never reach the database (chat states are cached, the
logs are written behind). An asyncio engine would make every port of the core and every flow a
coroutine, and still leave the matcher's CPU time on the event loop. Measured with
``benchmarks/telegram_throughput.py`` (against a bare python-telegram-bot echo bot in the same
run), the turn in the pool answers at least as many messages a second as the inline turn did: the
event loop's socket work and a turn in another thread overlap, as both release the GIL in their
system calls. Rerun the benchmark to check this on other hardware.

* One pool for the process (:func:`shared_pool`), ``POOL_THREADS`` threads: bounded, so a database
  that hangs cannot make the process start a thread per waiting message, and enough that one
  hanging chat leaves threads for the others. More threads than the database's connection pool
  would only wait for a connection.
* :class:`ChatTurns` keeps each chat in order: two messages of one chat are answered (and their
  replies sent) one after the other, in the order they came; different chats run in parallel.
* The unanswered-question, usage and feedback logs keep their own writer threads
  (bot.storage.buffered): they are not a way to leave the event loop (the loop never calls them)
  but a write-behind buffer that turns a row per message into one statement per batch.
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

    async def answer(self, incoming: Incoming, then: Callable[[Sequence[Reply]], None] | None = None) -> Sequence[Reply]:
        """The dialogue's replies to ``incoming``, computed in the pool; ``then(replies)`` runs right
        after in the same pool call (blocking work that must precede the sending, without a second
        trip through the pool)."""
        loop = asyncio.get_running_loop()
        if then is None:
            return await loop.run_in_executor(self._pool or shared_pool(), self._handle, incoming)
        return await loop.run_in_executor(self._pool or shared_pool(), _answer_then, self._handle, incoming, then)

    @property
    def chats_waiting(self) -> int:
        """Chats with a turn running or waiting (for tests and stop)."""
        return len(self._chats)


def _answer_then(handle: Handle, incoming: Incoming, then: Callable[[Sequence[Reply]], None]) -> Sequence[Reply]:
    replies = handle(incoming)
    then(replies)
    return replies


def chat_key(incoming: Incoming) -> tuple[str, str, str]:
    """What keeps turns in order: one chat of one channel and profile."""
    return incoming.channel, incoming.chat_id, incoming.profile
