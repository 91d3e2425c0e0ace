"""Every Prometheus metric of a bot process, defined in one place.

Each :class:`Metrics` has its own ``CollectorRegistry``: the runtime makes one per process and
hands it to whatever counts (channels' dialogue, the knowledge reload, the reminder scheduler), so
tests can run several apps side by side without shared counters or duplicate registrations.

The core knows nothing of this: messages are counted by wrapping the dialogue's ``handle``
(:meth:`Metrics.observe`) and its unanswered-questions log (:meth:`Metrics.count_unanswered`).
The series labelled by channel exist from start-up on (:meth:`Metrics.declare`): a restarted
process shows its configured channels at zero, not nothing until each channel's first message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder

from bot.channels.registry import used_by
from bot.core.models import ChatRef, Incoming, Reply
from bot.core.ports import UnansweredLog

if TYPE_CHECKING:
    from bot.config import Settings

Handle = Callable[[Incoming], Sequence[Reply]]

# The dialogue takes about a millisecond; the upper buckets catch a slow database or a stalled reload.
HANDLE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class _MessageSeries:
    """The label children of one channel and profile, bound once: ``labels()`` costs a lock and a lookup."""

    received: Counter
    replies: Counter
    answered: Counter
    failed: Counter
    seconds: Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)  # memory, CPU, open files of this process
        PlatformCollector(registry=r)
        by_chat = ["channel", "profile"]
        self.messages_received = Counter("buergerbot_messages_received", "Messages handed to the dialogue", by_chat, registry=r)
        self.replies = Counter("buergerbot_replies", "Replies the dialogue produced (before splitting into channel messages)", by_chat, registry=r)
        self.answered = Counter("buergerbot_answered", "Messages answered from a knowledge entry", by_chat, registry=r)
        self.unanswered = Counter(
            "buergerbot_unanswered", "Messages the bot could not answer: the fallback with the phone number, question noted for staff", by_chat,
            registry=r,
        )
        self.handle_failures = Counter("buergerbot_handle_failures", "Messages whose handling raised an error", by_chat, registry=r)
        self.handle_seconds = Histogram(
            "buergerbot_handle_seconds", "Time to match and answer one message, without sending", by_chat, buckets=HANDLE_BUCKETS, registry=r,
        )
        # The reminder scheduler counts with these: metrics.reminders_sent.labels(channel="telegram").inc()
        self.reminders_due = Counter("buergerbot_reminders_due", "Reminders claimed for sending", ["channel"], registry=r)
        self.reminders_sent = Counter("buergerbot_reminders_sent", "Reminders delivered", ["channel"], registry=r)
        self.reminders_failed = Counter("buergerbot_reminders_failed", "Reminder deliveries that failed (retried later)", ["channel"], registry=r)
        self.reminders_dropped = Counter(
            "buergerbot_reminders_dropped", "Reminders given up: expired, too many attempts, or the chat blocked the bot", ["channel"], registry=r,
        )
        self.knowledge_reloads = Counter("buergerbot_knowledge_reloads", "Changed knowledge files that went live", registry=r)
        self.knowledge_reload_errors = Counter(
            "buergerbot_knowledge_reload_errors", "Changed knowledge files refused for errors (the last good knowledge stays live)", registry=r,
        )
        self.knowledge_entries = Gauge("buergerbot_knowledge_entries", "Entries in the live knowledge", registry=r)

    def declare(self, settings: Settings, *, messages: bool = True) -> None:
        """Every series of the configured chat accounts at zero (a series is exported once its labels
        were used); ``messages=False`` for a process that only delivers reminders."""
        reminders = (self.reminders_due, self.reminders_sent, self.reminders_failed, self.reminders_dropped)
        for profile in settings.profiles:
            for kind, _ in used_by(profile):
                if messages:
                    self._series(kind.name, profile.name)
                    self.unanswered.labels(kind.name, profile.name)
                if kind.delivers_reminders:
                    for counter in reminders:
                        counter.labels(channel=kind.name)

    def reminder_event(self, event: str, channel: str, count: int) -> None:
        """Counts the reminder worker's events (bot.reminders.worker.Observe)."""
        counter = {
            "due": self.reminders_due, "sent": self.reminders_sent, "retried": self.reminders_failed,
            "failed": self.reminders_dropped, "dropped": self.reminders_dropped, "in_doubt": self.reminders_dropped,
        }.get(event)
        if counter is not None:
            counter.labels(channel=channel).inc(count)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric in the format the scraper's Accept header asks for (Prometheus text by
        default, OpenMetrics on request), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def observe(self, handle: Handle, profile: str) -> Handle:
        """``handle``, counting every message, its replies and how long it took."""
        series: dict[str, _MessageSeries] = {}

        def observed(msg: Incoming) -> Sequence[Reply]:
            s = series.get(msg.channel)
            if s is None:
                s = series[msg.channel] = self._series(msg.channel, profile)
            s.received.inc()
            started = perf_counter()
            try:
                replies = handle(msg)
            except Exception:
                s.failed.inc()
                raise
            s.seconds.observe(perf_counter() - started)
            s.replies.inc(len(replies))
            if any(r.entry_id for r in replies):
                s.answered.inc()
            return replies

        return observed

    def count_unanswered(self, log: UnansweredLog, profile: str) -> UnansweredLog:
        """``log``, counting what it records: the dialogue notes a question exactly when it falls back."""
        return _CountingUnansweredLog(log, self.unanswered, profile)

    def _series(self, channel: str, profile: str) -> _MessageSeries:
        return _MessageSeries(
            received=self.messages_received.labels(channel, profile),
            replies=self.replies.labels(channel, profile),
            answered=self.answered.labels(channel, profile),
            failed=self.handle_failures.labels(channel, profile),
            seconds=self.handle_seconds.labels(channel, profile),
        )


class _CountingUnansweredLog:
    def __init__(self, log: UnansweredLog, counter: Counter, profile: str) -> None:
        self._log = log
        self._counter = counter
        self._profile = profile

    def record(self, text: str, language: str, channel: str, at: dt.datetime, chat: ChatRef | None = None) -> None:
        self._counter.labels(channel, self._profile).inc()
        self._log.record(text, language, channel, at, chat)

    def forget(self, chat: ChatRef) -> None:
        self._log.forget(chat)

    def questions(self, chat: ChatRef) -> list[tuple[dt.datetime, str]]:
        return self._log.questions(chat)

    def close(self) -> None:
        self._log.close()
