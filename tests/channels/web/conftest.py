"""The web channel over a real dialogue of the tiny knowledge base, on a free port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.channels.web import WebChannel, WebSettings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply
from bot.core.ports import FeedbackLog, MemoryUnansweredLog, MemoryUsageLog, MemoryUserStates
from tests.conftest import MONDAY_10

Handle = Callable[[Incoming], list[Reply]]
TABLE_ANSWER = "Öffnungszeiten:\n\n| Tag | Zeit |\n|---|---|\n| Montag | 08:00–16:00 |\n| Freitag | <b>08:00</b>–12:00 |"


def tiny_dialogue(kb: Path, votes: FeedbackLog | None = None) -> Dialogue:
    live = LiveKnowledge([kb])
    return Dialogue(
        knowledge=lambda: live.snapshot,
        states=MemoryUserStates(),
        unanswered=MemoryUnansweredLog(),
        settings=DialogueSettings(popular=("personalausweis", "sperrmuell")),
        clock=lambda: MONDAY_10.replace(tzinfo=dt.UTC),
        usage=MemoryUsageLog(),
        feedback=votes,
    )


@pytest.fixture
def dialogue(tiny_kb: Path) -> Dialogue:
    return tiny_dialogue(tiny_kb)


@pytest.fixture
def make_channel(dialogue: Dialogue) -> Callable[..., WebChannel]:
    def make(handle: Handle | None = None, **settings: object) -> WebChannel:
        defaults: dict[str, object] = {"port": 0, "poll_seconds": 2.0}
        return WebChannel(WebSettings(**{**defaults, **settings}), {"buerger": handle or dialogue.handle})  # type: ignore[arg-type]

    return make
