"""Secrets come from the environment variables the configuration names, checked in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.entries.matrix import matrix_secrets
from bot.channels.entries.telegram import telegram_secrets
from bot.config import BackofficeClient, MatrixConfig, ProfileConfig, Settings, TelegramConfig
from bot.credentials import MissingSecret, backoffice_token, log_pseudonym_key, secret
from bot.ops.config_check import check_secrets
from bot.reminders.link_keys import link_keys, parse_link_keys

KEY_A, KEY_B = "aa" * 32, "0b" * 40


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BUERGERBOT_TELEGRAM_TOKEN", "BUERGERBOT_TELEGRAM_WEBHOOK_SECRET", "BUERGERBOT_MATRIX_PASSWORD",
                 "BUERGERBOT_MATRIX_ACCESS_TOKEN", "BUERGERBOT_LINK_KEYS", "BUERGERBOT_LOG_PSEUDONYM_KEY", "CRM_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def profile(**channels: object) -> ProfileConfig:
    return ProfileConfig.model_validate({"name": "buerger", **channels})


def test_telegram_token_and_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    t = TelegramConfig()
    with pytest.raises(MissingSecret, match="profile buerger: telegram token missing \\(set BUERGERBOT_TELEGRAM_TOKEN\\)"):
        telegram_secrets(profile(), t)
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN", "1:abc")
    assert telegram_secrets(profile(), t).token == "1:abc"
    assert telegram_secrets(profile(), t).webhook_secret is None  # polling needs none, even if the variable is set
    hooked = TelegramConfig(webhook_url="https://bot.musterstadt.example/telegram")
    with pytest.raises(MissingSecret, match="BUERGERBOT_TELEGRAM_WEBHOOK_SECRET"):
        telegram_secrets(profile(), hooked)
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_WEBHOOK_SECRET", "s3cret")
    assert telegram_secrets(profile(), hooked).webhook_secret == "s3cret"


def test_empty_variable_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN", "")
    with pytest.raises(MissingSecret):
        telegram_secrets(profile(), TelegramConfig())


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BUERGERBOT_TELEGRAM_TOKEN", raising=False)
    (tmp_path / "token").write_text("123:FROM-FILE\n", encoding="utf-8")
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN_FILE", str(tmp_path / "token"))
    assert secret("BUERGERBOT_TELEGRAM_TOKEN") == "123:FROM-FILE"
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN", "123:FROM-ENV")
    assert secret("BUERGERBOT_TELEGRAM_TOKEN") == "123:FROM-ENV"  # the variable itself wins
    monkeypatch.delenv("BUERGERBOT_TELEGRAM_TOKEN")
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(MissingSecret, match="BUERGERBOT_TELEGRAM_TOKEN_FILE: cannot read"):
        secret("BUERGERBOT_TELEGRAM_TOKEN")


def test_matrix_needs_a_password_or_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    m = MatrixConfig(homeserver="https://matrix.example", user_id="@bot:matrix.example")
    with pytest.raises(MissingSecret, match="BUERGERBOT_MATRIX_PASSWORD or BUERGERBOT_MATRIX_ACCESS_TOKEN"):
        matrix_secrets(profile(), m)
    monkeypatch.setenv("BUERGERBOT_MATRIX_ACCESS_TOKEN", "syt_x")
    assert matrix_secrets(profile(), m).access_token == "syt_x"
    unnamed = MatrixConfig(homeserver="https://matrix.example", user_id="@bot:matrix.example", password_env=None, access_token_env=None)
    with pytest.raises(MissingSecret, match="password_env or access_token_env in the config"):
        matrix_secrets(profile(), unnamed)


def test_backoffice_token(monkeypatch: pytest.MonkeyPatch) -> None:
    client = BackofficeClient(name="crm", token_env="CRM_TOKEN")
    with pytest.raises(MissingSecret, match="back-office client crm: bearer token missing \\(set CRM_TOKEN\\)"):
        backoffice_token(client)
    monkeypatch.setenv("CRM_TOKEN", "t0ken")
    assert backoffice_token(client) == "t0ken"


def test_link_keys_parse() -> None:
    assert parse_link_keys(f"{KEY_A}, {KEY_B}") == [bytes.fromhex(KEY_A), bytes.fromhex(KEY_B)]
    with pytest.raises(ValueError, match="key 2 is not hexadecimal"):
        parse_link_keys(f"{KEY_A},not-hex")
    with pytest.raises(ValueError, match="key 1 has 16 bytes; at least 32"):
        parse_link_keys("ab" * 16)


def test_link_keys_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingSecret, match="set BUERGERBOT_LINK_KEYS"):
        link_keys(Settings())
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "abcd")
    with pytest.raises(MissingSecret, match="BUERGERBOT_LINK_KEYS: key 1 has 2 bytes"):
        link_keys(Settings())
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", KEY_A)
    assert link_keys(Settings()) == [bytes.fromhex(KEY_A)]


def test_check_secrets_reports_every_problem_at_once(tmp_path: Path) -> None:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path),
        "profiles": [{"name": "buerger", "telegram": {}, "matrix": {"homeserver": "https://m.example", "user_id": "@b:m.example"}}],
        "backoffice_clients": [{"name": "crm", "token_env": "CRM_TOKEN"}],
    })
    report = check_secrets(settings)
    assert len(report.errors) == 4
    assert any("telegram token" in e for e in report.errors) and any("matrix" in e for e in report.errors)
    assert any("back-office client crm" in e for e in report.errors) and any("link keys" in e for e in report.errors)
    assert any("BUERGERBOT_LOG_PSEUDONYM_KEY" in n for n in report.notes)


def test_link_keys_are_only_a_note_without_channels_or_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "k")
    report = check_secrets(Settings())
    assert report.errors == []
    assert len(report.notes) == 1 and "link keys missing" in report.notes[0]


def test_clean_when_everything_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", KEY_A)
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "k")
    report = check_secrets(Settings.model_validate({"profiles": [{"name": "buerger", "telegram": {}}]}))
    assert report.errors == [] and report.notes == []


def test_the_pseudonym_key_outlives_a_restart_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = log_pseudonym_key(settings)
    assert first is not None and len(first) == 64
    assert log_pseudonym_key(settings) == first  # the next process start
    stored = tmp_path / "data" / "pseudonym.key"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in stored.parent.iterdir()] == ["pseudonym.key"]


def test_the_configured_pseudonym_key_wins_and_nothing_is_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "configured")
    assert log_pseudonym_key(Settings(data_dir=tmp_path / "data")) == b"configured"
    assert not (tmp_path / "data").exists()


def test_without_a_writable_data_folder_the_key_is_per_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert log_pseudonym_key(Settings(data_dir=blocker / "data")) is None


def test_config_check_writes_no_pseudonym_key(tmp_path: Path) -> None:
    report = check_secrets(Settings(data_dir=tmp_path / "data"))
    assert any("pseudonym.key" in note for note in report.notes)
    assert not (tmp_path / "data").exists()
