from __future__ import annotations

import gc
import os
import tracemalloc
from pathlib import Path

import pytest

from bot.core.knowledge import KnowledgeLimits
from bot.core.live import InvalidKnowledge, LiveKnowledge
from tests.conftest import entry_yaml


def touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_reload_picks_up_new_entry(tiny_kb: Path) -> None:
    live = LiveKnowledge([tiny_kb])
    assert live.refresh() is False
    (tiny_kb / "new.yaml").write_text(
        "entries:\n" + entry_yaml("hundesteuer", ["Hundesteuer anmelden", "Hund anmelden Steuer", "Steuer für meinen Hund"], ["dog tax", "register my dog for tax", "tax for my dog"]),
        encoding="utf-8",
    )
    assert live.refresh() is True
    best = live.snapshot.matcher.match("Hundesteuer anmelden").best
    assert best is not None and best.entry_id == "hundesteuer"


def test_broken_file_keeps_last_good_knowledge(tiny_kb: Path, caplog: pytest.LogCaptureFixture) -> None:
    live = LiveKnowledge([tiny_kb])
    before = live.snapshot
    path = tiny_kb / "entries.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  - id: [broken\n", encoding="utf-8")
    touch_later(path)
    assert live.refresh() is False
    assert live.snapshot is before
    assert live.failed_reloads == 1
    assert any("entries.yaml:" in r.getMessage() for r in caplog.records)
    assert any(p.path.endswith("entries.yaml") for p in live.last_problems)


def test_start_refuses_invalid_knowledge(tiny_kb: Path) -> None:
    (tiny_kb / "bad.yaml").write_text("entries:\n  - id: Bad Id\n", encoding="utf-8")
    with pytest.raises(InvalidKnowledge) as info:
        LiveKnowledge([tiny_kb])
    assert any(p.path.endswith("bad.yaml") and p.line == 2 for p in info.value.problems)


def test_a_refused_file_leaves_the_last_good_knowledge_and_its_memory_is_returned(tiny_kb: Path) -> None:
    live = LiveKnowledge([tiny_kb], limits=KnowledgeLimits(max_file_bytes=512 * 1024))
    before = live.snapshot
    # Parsed in full (below the size limit), then refused for the alias on its last line.
    path = tiny_kb / "off-topic.yaml"
    path.write_text("off_topic:\n  de:\n" + "".join(f"    - Wie wird das Wetter am Tag {i}?\n" for i in range(12_000)) + "  en: &x [a]\n  fr: *x\n", encoding="utf-8")
    gc.collect()
    tracemalloc.start()
    try:
        assert live.refresh() is False
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert live.snapshot is before and live.failed_reloads == 1
    assert [str(p) for p in live.last_problems] == [f"{path}:12004: YAML aliases (*name) are not allowed in knowledge files; write the text out in full"]
    assert peak > path.stat().st_size  # the document was read and composed …
    assert kept < peak / 20, (kept, peak)  # … and none of it is held after the refusal


def test_a_file_full_of_errors_logs_a_few_of_them(tiny_kb: Path, caplog: pytest.LogCaptureFixture) -> None:
    live = LiveKnowledge([tiny_kb])
    (tiny_kb / "off-topic.yaml").write_text("off_topic:\n  de:\n" + "    - 42\n" * 5000, encoding="utf-8")
    assert live.refresh() is False
    assert sum(1 for p in live.last_problems if p.severity == "error") == 5000
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.core.live"]
    assert len(lines) == 21
    assert lines[-1] == "knowledge files have errors; the last good knowledge stays live (4980 more: buergerbot faq validate lists them)"
