"""The reminder jobs on an APScheduler clock: deliver what is due, top up waste reminders, purge old rows.

The jobs are few and fixed; the reminders themselves are rows (see worker.py), so any number of
processes can run this service against one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.blocking import run_blocking
from bot.reminders.worker import ReminderWorker

log = logging.getLogger(__name__)


class ReminderService:
    def __init__(
        self, worker: ReminderWorker, clock: Callable[[], dt.datetime], poll_seconds: float = 5.0,
        top_up: Callable[[], int] | None = None,
    ) -> None:
        self.worker = worker
        self._clock = clock
        self._poll = poll_seconds
        self._top_up = top_up
        self._stopping = asyncio.Event()
        self._busy = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        now = self._clock()
        scheduler = AsyncIOScheduler(timezone=now.tzinfo or dt.UTC)
        # coalesce + one instance: a slow round is never overtaken by the next one piling up.
        scheduler.add_job(self.deliver_due, "interval", seconds=self._poll, next_run_time=now, coalesce=True, max_instances=1, id="deliver")
        if self._top_up is not None:
            scheduler.add_job(self._run_top_up, "interval", hours=1, next_run_time=now, coalesce=True, max_instances=1, id="waste")
        scheduler.add_job(self._purge, "cron", hour=3, minute=17, coalesce=True, max_instances=1, id="purge")
        scheduler.start()
        self._scheduler = scheduler
        log.info("reminder service started (worker %s)", self.worker.worker_id)

    async def stop(self) -> None:
        """No new rounds; the round in flight finishes its batch, so nothing stays half-sent."""
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.pause()
        # The scheduler's shutdown cancels the jobs still running, and a cancelled round could leave
        # rows marked sending: wait for the round in flight, and let rounds dispatched just before the
        # pause run (they return at once) and be reported done, before shutting it down.
        for _ in range(2):
            await asyncio.sleep(0)
        async with self._busy:
            pass
        for _ in range(2):
            await asyncio.sleep(0)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)

    async def deliver_due(self) -> int:
        if self._stopping.is_set():
            return 0
        async with self._busy:
            try:
                return await self.worker.drain(self._stopping)
            except Exception:  # the database may be away for a moment; the next round tries again
                log.exception("reminder delivery round failed")
                return 0

    async def _run_top_up(self) -> None:
        assert self._top_up is not None
        try:
            added = await run_blocking(self._top_up)
            if added:
                log.info("queued %d waste collection reminders", added)
        except Exception:
            log.exception("waste reminder top-up failed")

    async def _purge(self) -> None:
        try:
            await run_blocking(self.worker.purge_finished, self._clock())
        except Exception:
            log.exception("purging finished reminders failed")
