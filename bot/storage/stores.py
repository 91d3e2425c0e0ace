"""The stores behind the core's ports, as one bundle the composition root (bot.wiring) opens and
the runtime, the channels and the reminder services are handed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.ports import FeedbackLog, HandoverDesk, NoFeedbackLog, NoUsageLog, ReminderBook, UnansweredLog, UsageLog, UserStateStore

if TYPE_CHECKING:  # the database parts load when a command opens it: `buergerbot ask` never does
    from sqlalchemy import Engine


@dataclass(frozen=True)
class Storage:
    states: UserStateStore
    unanswered: UnansweredLog
    usage: UsageLog = field(default_factory=NoUsageLog)
    engine: Engine | None = None  # None for storage kept in memory
    book: ReminderBook | None = None  # None: no reminders here (the dialogue says so)
    feedback: FeedbackLog = field(default_factory=NoFeedbackLog)  # the channels' 👍/👎 on answers
    handover: HandoverDesk | None = None  # None: no person of the team answers in the chat (bot/handover)

    def close(self) -> None:
        """Write what is still buffered (unanswered questions, usage events, votes); call once on shutdown."""
        self.unanswered.close()
        self.usage.close()
        self.feedback.close()
