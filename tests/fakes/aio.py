"""Async helpers shared by tests that run real clients against fake or real servers."""

from __future__ import annotations

import asyncio


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
