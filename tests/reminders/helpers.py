"""Doubles and builders shared by the reminder tests."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.core.models import Notice, Reply
from bot.core.ports import DeliveryFailed
from bot.core.schedule import ReminderPolicy
from tests.fakes.clock import Clock

__all__ = ["BERLIN", "POLICY", "Clock", "RecordingDeliverer", "at", "plain_render"]

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = ReminderPolicy(zone=BERLIN)


def at(day: str, hm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hm}").replace(tzinfo=BERLIN)


def plain_render(notice: Notice) -> Reply:
    return Reply(f"{notice.kind.value} {sorted(notice.params.items())}", language=notice.language)


class RecordingDeliverer:
    """A channel that records what it was asked to send; ``fail`` makes the next sends fail."""

    def __init__(self, idempotent: bool = False) -> None:
        self.idempotent = idempotent
        self.sent: list[tuple[str, str, str]] = []
        self.fail: list[DeliveryFailed] = []

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((chat_id, reply.text, key))
