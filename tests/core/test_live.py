from __future__ import annotations

import os
from pathlib import Path

import pytest

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
