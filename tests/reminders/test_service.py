"""The APScheduler service runs delivery rounds on its own and stops cleanly."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine

from bot.core.models import ChatRef, NoticeKind
from bot.reminders.queue import Due, enqueue
from bot.reminders.service import ReminderService
from bot.reminders.worker import ReminderWorker
from tests.reminders.helpers import POLICY, RecordingDeliverer, plain_render


def test_the_service_delivers_due_rows_by_itself_and_stops(engine: Engine) -> None:
    def now() -> dt.datetime:
        # The latest noon that has passed: outside the quiet hours, and never in the future, since
        # APScheduler starts the first round at this time on the real clock.
        real = dt.datetime.now(POLICY.zone)
        noon = real.replace(hour=12, minute=0, second=0, microsecond=0)
        return noon if noon <= real else noon - dt.timedelta(days=1)

    channel = RecordingDeliverer()
    worker = ReminderWorker(engine, {("telegram", "default"): channel}, plain_render, POLICY, now)
    with engine.begin() as conn:
        enqueue(conn, [Due(f"k{i}", "s", ChatRef("telegram", str(i)), "de", NoticeKind.CASE_STATUS, {}, now() - dt.timedelta(minutes=1)) for i in range(5)])

    async def scenario() -> None:
        service = ReminderService(worker, now, poll_seconds=0.2)
        await service.start()
        for _ in range(50):
            if len(channel.sent) == 5:
                break
            await asyncio.sleep(0.1)
        await service.stop()
        assert await service.deliver_due() == 0  # stopped means stopped

    asyncio.run(scenario())
    assert sorted(chat for chat, _, _ in channel.sent) == ["0", "1", "2", "3", "4"]
