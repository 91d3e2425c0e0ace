"""Settings that cannot work are refused at load time, with the dotted path of the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings


def load(tmp_path: Path, toml: str) -> list[str]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml, encoding="utf-8")
    settings, errors = load_settings(cfg)
    assert (settings is None) == bool(errors)
    return errors


def test_defaults_and_http_section(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[http]\nport = 9100\nlisten = '0.0.0.0'\n", encoding="utf-8")
    settings, errors = load_settings(cfg)
    assert errors == [] and settings is not None
    assert (settings.http.enabled, settings.http.listen, settings.http.port) == (True, "0.0.0.0", 9100)
    assert settings.log_format == "auto"


@pytest.mark.parametrize(("toml", "expected"), [
    ("timezone = 'Mars/Olympus'", "timezone: unknown time zone 'Mars/Olympus'"),
    ("holiday_region = 'XY'", "holiday_region: unknown German state 'XY'"),
    ("database_url = 'my database'", "database_url: not a database URL"),
    ("log_format = 'xml'", "log_format: Input should be 'auto', 'text' or 'json'"),
    ("[http]\nport = 70000", "http.port: Input should be less than or equal to 65535"),
    ("colour = 'red'", "colour: unknown key (check the spelling)"),
    ("default_language = 'fr'", "default_language: 'fr' is not one of languages ['de', 'en']"),
    ("[[profiles]]\nname = 'a'\n[[profiles]]\nname = 'a'", "profile names must be unique: a more than once"),
])
def test_bad_values_are_named(tmp_path: Path, toml: str, expected: str) -> None:
    errors = load(tmp_path, toml)
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'c.toml'}: {expected}"), errors


def test_a_named_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    assert load_settings(missing) == (None, [f"{missing}: no such file"])
    monkeypatch.setenv("BUERGERBOT_CONFIG", str(missing))
    assert load_settings()[1] == [f"{missing}: no such file"]


def test_no_file_at_all_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUERGERBOT_CONFIG", raising=False)
    settings, errors = load_settings()
    assert errors == [] and settings is not None
