"""`buergerbot init DIR`: a copy of the demo city to adapt, never written over a city's files."""

from __future__ import annotations

import filecmp
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.demo import SETTINGS_FILE, demo_folder


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """main() sets up process-wide logging; later tests get the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_init_copies_the_demo_settings_and_knowledge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buergerbot.toml").write_text("not = [toml", encoding="utf-8")  # a broken config here does not stop init
    assert main(["init", "stadt"]) == 0
    assert "created stadt/buergerbot.toml" in capsys.readouterr().out
    source = demo_folder()
    assert source is not None
    for name in ("faq", "intents"):
        compared = filecmp.dircmp(source / name, tmp_path / "stadt" / name)
        assert not compared.left_only and not compared.right_only and not compared.diff_files
    settings, errors = load_settings(tmp_path / "stadt" / "buergerbot.toml")
    assert errors == [] and settings is not None and settings.city_name == "Musterstadt"
    assert (tmp_path / "stadt" / "buergerbot.toml").read_text(encoding="utf-8") == SETTINGS_FILE.read_text(encoding="utf-8")


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "faq").mkdir()
    assert main(["init", str(tmp_path)]) == 1
    assert f"nothing written: {tmp_path / 'faq'}" in capsys.readouterr().err
    assert not (tmp_path / "buergerbot.toml").exists() and not (tmp_path / "intents").exists()


def test_faq_new_does_not_write_into_the_shipped_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no config, no knowledge here: the bot answers from the demo
    monkeypatch.delenv("BUERGERBOT_CONFIG", raising=False)
    assert main(["faq", "new", "hundesteuer-anmelden"]) == 2
    assert "buergerbot init DIR" in capsys.readouterr().err
    source = demo_folder()
    assert source is not None and not (source / "faq" / "hundesteuer-anmelden.yaml").exists()
