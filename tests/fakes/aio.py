"""Async helpers shared by tests that run real clients against fake or real servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def reap_tasks() -> None:
    """Cancel and await the tasks a failed test left behind.

    An exception "never retrieved" is logged with a traceback when its task is garbage collected;
    if that happens inside an ``ast.parse`` (pytest's assertion rewriting), CPython 3.11.7 fails
    with "SystemError: AST constructor recursion depth mismatch" and pytest aborts.
    """
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1, for servers a test must know the port of in advance."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 30.0, every: float = 0.05) -> None:
    """Wait until ``condition()`` is true; TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(every)
