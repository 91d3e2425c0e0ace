"""Settings that cannot work are refused at load time, with the dotted path of the setting."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.core.schedule import QuietHours, ReminderPolicy
from bot.demo import DEMO_NOTICE, demo_knowledge, uses_demo_knowledge
from bot.ops.config_check import check_config


def load_config(tmp_path: Path, toml: str) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml, encoding="utf-8")
    return cfg


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
    ("holiday_country = 'DE'\nholiday_region = 'XY'", "holiday_region: unknown subdivision 'XY' of DE"),
    ("holiday_region = 'NW'", "holiday_region: needs holiday_country"),
    ("holiday_country = 'Atlantis'", "holiday_country: no public holidays known for 'Atlantis'"),
    ("database_url = 'my database'", "database_url: not a database URL"),
    ("log_format = 'xml'", "log_format: Input should be 'auto', 'text' or 'json'"),
    ("[http]\nport = 70000", "http.port: Input should be less than or equal to 65535"),
    ("colour = 'red'", "colour: unknown key (check the spelling)"),
    ("default_language = 'fr'", "default_language: 'fr' is not one of languages ['de', 'en']"),
    ("[[profiles]]\nname = 'a'\n[[profiles]]\nname = 'a'", "profile names must be unique: a more than once"),
    ("[reminders]\nquiet_hours = [21, '08:00']", "reminders.quiet_hours.0: not a time of day like 21:00"),
    ("[reminders.office_offsets]\nbuergerbuero = ['1d', 'soon']", "reminders.office_offsets.buergerbuero.1: not an offset like 1d"),
])
def test_bad_values_are_named(tmp_path: Path, toml: str, expected: str) -> None:
    errors = load(tmp_path, toml)
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'c.toml'}: {expected}"), errors


def test_the_reminder_policy_is_built_once_from_the_reminders_table(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("timezone = 'Europe/Vienna'\n[reminders]\noffsets = ['2d']\nquiet_hours = ['22:30', '07:00']\n"
                   "waste_evening = '19:15'\n[reminders.office_offsets]\nstandesamt = ['3d', '1h']\n", encoding="utf-8")
    settings, errors = load_settings(cfg)
    assert errors == [] and settings is not None
    policy = settings.reminder_policy()
    assert policy.zone == ZoneInfo("Europe/Vienna")
    assert policy.offsets_for("standesamt") == ("3d", "1h") and policy.offsets_for("buergerbuero") == ("2d",)
    assert policy.quiet == QuietHours(dt.time(22, 30), dt.time(7, 0)) and policy.waste_evening == dt.time(19, 15)
    # Shown back as it is written in the file.
    assert settings.model_dump(mode="json")["reminders"]["quiet_hours"] == ["22:30", "07:00"]


def test_the_configuration_defaults_are_the_policy_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings, errors = load_settings()
    assert errors == [] and settings is not None
    assert settings.reminder_policy() == replace(ReminderPolicy(), zone=ZoneInfo(settings.timezone))


def test_a_named_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    assert load_settings(missing) == (None, [f"{missing}: no such file"])
    monkeypatch.setenv("BUERGERBOT_CONFIG", str(missing))
    assert load_settings()[1] == [f"{missing}: no such file"]


def test_no_file_at_all_means_the_demo_city_with_its_shipped_knowledge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUERGERBOT_CONFIG", raising=False)
    settings, errors = load_settings()
    assert errors == [] and settings is not None
    assert (settings.city_name, settings.holiday_country, settings.holiday_region) == ("Musterstadt", "DE", "NW")
    shipped = demo_knowledge()
    assert shipped is not None and settings.knowledge_dirs == shipped and uses_demo_knowledge(settings.knowledge_dirs)
    assert settings.reminders.waste_dir == shipped[0] / "waste" and any(settings.reminders.waste_dir.glob("*.ics"))
    assert any(DEMO_NOTICE in w for w in check_config(settings).warnings)


def test_the_demo_settings_read_knowledge_folders_of_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "faq").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BUERGERBOT_CONFIG", raising=False)
    settings, errors = load_settings()
    assert errors == [] and settings is not None and settings.knowledge_dirs == [Path("faq"), Path("intents")]
    assert not uses_demo_knowledge(settings.knowledge_dirs)


def test_a_city_config_never_falls_back_to_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings, errors = load_settings(load_config(tmp_path, "timezone = 'Europe/Vienna'"))
    assert errors == [] and settings is not None and settings.knowledge_dirs == [Path("faq"), Path("intents")]
    # Nothing of the demo city in the code's defaults: no name, no holidays, no menu, no phone office.
    assert (settings.city_name, settings.holiday_country, settings.popular, settings.phone_office) == ("", None, [], "")
