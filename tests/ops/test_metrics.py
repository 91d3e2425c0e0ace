"""Messages, replies, answers and fallbacks are counted around the dialogue, per channel and profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.core.models import Incoming, Reply
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.ops.metrics import Metrics
from bot.storage.stores import Storage
from bot.wiring import build_dialogue


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def counted_dialogue(tiny_kb: Path, metrics: Metrics, profile: str = "buerger"):  # type: ignore[no-untyped-def]
    unanswered = MemoryUnansweredLog()
    storage = Storage(MemoryUserStates(), metrics.count_unanswered(unanswered, profile))
    dialogue = build_dialogue(Settings(knowledge_dirs=[tiny_kb]), LiveKnowledge([tiny_kb]), storage)
    return metrics.observe(dialogue.handle, profile), unanswered


def test_answers_and_fallbacks_are_counted(tiny_kb: Path) -> None:
    metrics = Metrics()
    handle, unanswered = counted_dialogue(tiny_kb, metrics)
    assert handle(Incoming("telegram", "1", "Personalausweis beantragen"))[0].entry_id == "personalausweis"
    handle(Incoming("telegram", "1", "Wer hat gestern das Spiel gewonnen?"))
    handle(Incoming("matrix", "!r", "Sperrmüll anmelden"))
    labels = {"channel": "telegram", "profile": "buerger"}
    assert sample(metrics, "buergerbot_messages_received_total", **labels) == 2
    assert sample(metrics, "buergerbot_answered_total", **labels) == 1
    assert sample(metrics, "buergerbot_unanswered_total", **labels) == 1 == len(unanswered.records)
    assert sample(metrics, "buergerbot_replies_total", **labels) == 2
    assert sample(metrics, "buergerbot_handle_seconds_count", **labels) == 2
    assert sample(metrics, "buergerbot_answered_total", channel="matrix", profile="buerger") == 1


def test_the_counted_unanswered_log_passes_the_chat_on_for_deleting(tiny_kb: Path) -> None:
    handle, unanswered = counted_dialogue(tiny_kb, Metrics())
    handle(Incoming("telegram", "1", "Wer hat gestern das Spiel gewonnen?"))
    handle(Incoming("telegram", "2", "Wer hat gestern das Spiel gewonnen?"))
    handle(Incoming("telegram", "1", "", command="loeschen"))
    handle(Incoming("telegram", "1", "1"))
    assert len(unanswered.records) == 1


def test_a_failing_handle_is_counted_and_raised() -> None:
    metrics = Metrics()

    def broken(msg: Incoming) -> list[Reply]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        metrics.observe(broken, "welcome")(Incoming("telegram", "1", "x"))
    assert sample(metrics, "buergerbot_handle_failures_total", channel="telegram", profile="welcome") == 1
    assert sample(metrics, "buergerbot_messages_received_total", channel="telegram", profile="welcome") == 1


def test_each_metrics_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.reminders_sent.labels(channel="telegram").inc()
    a.knowledge_reloads.inc()
    assert sample(a, "buergerbot_reminders_sent_total", channel="telegram") == 1
    assert sample(b, "buergerbot_reminders_sent_total", channel="telegram") == 0
    assert sample(b, "buergerbot_knowledge_reloads_total") == 0


def test_exposition_is_prometheus_text() -> None:
    metrics = Metrics()
    metrics.reminders_dropped.labels(channel="matrix").inc(3)
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert 'buergerbot_reminders_dropped_total{channel="matrix"} 3.0' in text
    assert "# TYPE buergerbot_handle_seconds histogram" in text
    assert "process_resident_memory_bytes" in text  # the process collector is registered too
    body, content_type = metrics.exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.decode().endswith("# EOF\n")


def test_configured_channels_are_exported_at_zero_from_start_up(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.wiring import build_channels

    monkeypatch.setenv("TG_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.setenv("MX_PASSWORD", "not-used-here")
    settings = Settings(knowledge_dirs=[tiny_kb], data_dir=tmp_path, profiles=[  # type: ignore[list-item]
        {"name": "buerger", "telegram": {"token_env": "TG_TOKEN"}},
        {"name": "welcome", "matrix": {"homeserver": "https://matrix.example", "user_id": "@bot:matrix.example", "password_env": "MX_PASSWORD"}},
    ])
    metrics = Metrics()
    build_channels(settings, LiveKnowledge([tiny_kb]), Storage(MemoryUserStates(), MemoryUnansweredLog()), metrics)
    text = metrics.exposition()[0].decode()
    for channel, profile in (("telegram", "buerger"), ("matrix", "welcome")):
        labels = f'{{channel="{channel}",profile="{profile}"}}'
        for name in ("messages_received_total", "replies_total", "answered_total", "unanswered_total", "handle_failures_total",
                     "handle_seconds_count"):
            assert f"buergerbot_{name}{labels} 0.0" in text
        for name in ("due", "sent", "failed", "dropped"):
            assert f'buergerbot_reminders_{name}_total{{channel="{channel}"}} 0.0' in text
    assert 'channel="matrix",profile="buerger"' not in text  # only accounts that exist


def test_a_reminder_worker_declares_reminder_series_only() -> None:
    metrics = Metrics()
    metrics.declare(Settings(profiles=[{"name": "buerger", "telegram": {}}]), messages=False)  # type: ignore[list-item]
    text = metrics.exposition()[0].decode()
    assert 'buergerbot_reminders_sent_total{channel="telegram"} 0.0' in text
    assert "buergerbot_messages_received_total{" not in text
