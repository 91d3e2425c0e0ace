"""The APScheduler service runs delivery rounds on its own and stops cleanly."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.core.models import ChatRef, NoticeKind
from bot.ops.logs import configure_logging
from bot.reminders.queue import Due, enqueue
from bot.reminders.service import ReminderService
from bot.reminders.worker import ReminderWorker
from tests.reminders.helpers import POLICY, RecordingDeliverer, plain_render


def now() -> dt.datetime:
    # The latest noon that has passed: outside the quiet hours, and never in the future, since
    # APScheduler starts the first round at this time on the real clock.
    real = dt.datetime.now(POLICY.zone)
    noon = real.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon <= real else noon - dt.timedelta(days=1)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_service_delivers_due_rows_by_itself_and_stops(engine: Engine) -> None:
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


def test_scheduler_rounds_log_nothing_at_info_but_its_errors_still_show(engine: Engine, log_stream: io.StringIO) -> None:
    configure_logging("text", logging.INFO, stream=log_stream)
    worker = ReminderWorker(engine, {("telegram", "default"): RecordingDeliverer()}, plain_render, POLICY, now)

    async def scenario() -> None:
        service = ReminderService(worker, now, poll_seconds=0.05)
        await service.start()
        await asyncio.sleep(0.5)  # several delivery rounds
        await service.stop()

    asyncio.run(scenario())
    logging.getLogger("apscheduler.executors.default").error("Job %r raised an exception", "deliver")
    lines = log_stream.getvalue().splitlines()
    assert [line for line in lines if line.startswith("INFO apscheduler")] == []
    # Stopping lets the round in flight finish instead of cancelling it (which APScheduler logs as an error).
    assert [line for line in lines if line.startswith("ERROR")] == ["ERROR apscheduler.executors.default: Job 'deliver' raised an exception"]
    assert any("reminder service started" in line for line in lines)  # our own INFO lines stay
