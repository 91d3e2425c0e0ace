"""The effective configuration shows no secret; ids the knowledge does not know are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.ops.config_check import check_config, effective_lines

SECRET = "123456:very-secret-token"


def test_secrets_are_shown_as_set_or_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    settings = Settings.model_validate({"profiles": [{"name": "buerger", "telegram": {"token_env": "MY_TOKEN", "webhook_secret_env": "NOT_SET_ANYWHERE"}}]})
    lines = effective_lines(settings, environ={})
    assert 'profiles[0].telegram.token_env = "MY_TOKEN"  # set' in lines
    assert 'profiles[0].telegram.webhook_secret_env = "NOT_SET_ANYWHERE"  # unset' in lines
    assert not any(SECRET in line for line in lines)


def test_database_password_is_masked_and_env_overrides_are_marked() -> None:
    settings = Settings(database_url="postgresql://bot:hunter2@db.example/bot")
    env = {"BUERGERBOT_DATABASE_URL": "postgresql://bot:hunter2@db.example/bot", "BUERGERBOT_MATCHING__THRESHOLD": "0.5"}
    lines = effective_lines(settings, environ=env)
    assert 'database_url = "postgresql://bot:***@db.example/bot"  # from BUERGERBOT_DATABASE_URL' in lines
    assert any(line.startswith("matching.threshold = ") and line.endswith("# from BUERGERBOT_MATCHING__THRESHOLD") for line in lines)
    assert not any("hunter2" in line for line in lines)


def test_lines_are_dotted_keys_with_toml_values() -> None:
    lines = effective_lines(Settings(), environ={})
    assert 'http.listen = "127.0.0.1"' in lines and "http.port = 8080" in lines and "http.enabled = true" in lines
    assert 'knowledge_dirs = ["faq", "intents"]' in lines


def test_unknown_offices_are_errors(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "k")
    settings = Settings(knowledge_dirs=[tiny_kb], popular=["personalausweis", "gibt-es-nicht"], phone_office="rathaus",
                        reminders={"office_offsets": {"buergerbuero": ["2d"], "kfz-stelle": ["1d"]}})  # type: ignore[arg-type]
    findings = check_config(settings)
    assert any(e.startswith("reminders.office_offsets: 'kfz-stelle' is not an office") for e in findings.errors)
    assert not any("'buergerbuero'" in e for e in findings.errors)
    assert any(e.startswith("phone_office: 'rathaus'") for e in findings.errors)
    assert any("popular: no entry 'gibt-es-nicht'" in n for n in findings.notes)


def test_clean_configuration(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "k")
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "ab" * 32)
    findings = check_config(Settings(knowledge_dirs=[tiny_kb], popular=["personalausweis"]))
    assert findings.errors == [] and findings.notes == []


def test_broken_knowledge_is_an_error(tiny_kb: Path) -> None:
    (tiny_kb / "broken.yaml").write_text("entries: [\n", encoding="utf-8")
    findings = check_config(Settings(knowledge_dirs=[tiny_kb]))
    assert any("errors in the knowledge files (buergerbot faq validate lists them)" in e for e in findings.errors)
