"""The CLI contracts other tools rely on (ask --json, eval --json, faq validate exit codes)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """main() sets up process-wide logging; later tests get the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json(tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--faq-dir", str(tiny_kb), "--json", "Perso beantragen")
    assert code == 0
    obj = json.loads(out)
    assert obj["id"] == "personalausweis"
    assert obj["language"] == "de"
    assert 0.5 <= obj["score"] <= 1.0
    assert "Antwort zu personalausweis." in obj["answer"]
    assert "https://musterstadt.example/online/personalausweis" in obj["answer"]


def test_ask_json_out_of_scope(tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--faq-dir", str(tiny_kb), "--lang", "en", "--json", "Who won the match yesterday?")
    obj = json.loads(out)
    assert code == 0 and obj["id"] is None and obj["language"] == "en"
    assert "reliable answer" in obj["answer"]


def test_eval_json_and_table(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "eval.jsonl"
    rows = [
        {"text": "Perso beantragen", "expect": "personalausweis"},
        {"text": "Sperrgut abholen", "expect": "sperrmuell"},
        {"text": "Wer hat gestern gewonnen?", "expect": None},
        {"text": "Wohnsitz abmelden", "expect": "sperrmuell"},  # a deliberate miss
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "eval", str(data), "--faq-dir", str(tiny_kb), "--json")
    obj = json.loads(out)
    assert code == 0
    assert obj["n"] == 4
    assert obj["in_scope_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert obj["oos_recall"] == 1.0
    assert obj["false_rejection_rate"] == 0.0
    assert obj["ms_per_query"] > 0
    code, out, _ = run(capsys, "eval", str(data), "--faq-dir", str(tiny_kb))
    assert "1 misses" in out and "Wohnsitz abmelden" in out


def test_eval_reports_bad_line(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "eval.jsonl"
    data.write_text('{"text": "a", "expect": null}\nnot json\n', encoding="utf-8")
    code, _, err = run(capsys, "eval", str(data), "--faq-dir", str(tiny_kb))
    assert code == 2 and f"{data}:2:" in err


def test_validate_exit_codes(tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 0 and out == ""
    (tiny_kb / "broken.yaml").write_text("entries:\n  - id: ok-id\n    kind: faq\n    colour: red\n", encoding="utf-8")
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 1
    assert f"{tiny_kb / 'broken.yaml'}:4: 'ok-id': colour: unknown field (check the spelling)" in out.splitlines()


def test_broken_knowledge_refuses_to_start(tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_kb / "broken.yaml").write_text("entries: [\n", encoding="utf-8")
    code, _, err = run(capsys, "ask", "--faq-dir", str(tiny_kb), "x")
    assert code == 1 and "broken.yaml:" in err


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'red'\n[matching]\nthreshold = 'high'\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(cfg), "ask", "x")
    assert code == 2 and "colour" in err and "matching.threshold" in err


def test_console_chat_via_module(tiny_kb: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BUERGERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--faq-dir", str(tiny_kb)],
        input="Hallo\n1\nEnglish please\nbook a bulky waste collection\n",
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Häufig gefragt:" in out and "1. Titel personalausweis" in out
    assert "Antwort zu personalausweis." in out
    assert "I will answer in English" in out
    assert "Answer about sperrmuell." in out
    # The language choice outlives the process: a second session answers in English at once.
    again = subprocess.run([sys.executable, "-m", "bot", "chat", "--faq-dir", str(tiny_kb)], input="Sperrmüll\n",
                           capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert "Answer about sperrmuell." in again.stdout


def test_config_check_clean_and_masked(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\npopular = ['personalausweis']\n"
                   "[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TG_TOKEN'\n", encoding="utf-8")
    monkeypatch.setenv("TG_TOKEN", "42:do-not-print-me")
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "cd" * 32)
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "pseudonym-key")
    code, out, err = run(capsys, "config", "check", "--config", str(cfg))
    assert code == 0, err
    assert 'profiles[0].telegram.token_env = "TG_TOKEN"  # set' in out.splitlines()
    assert "do-not-print-me" not in out + err and "cd" * 32 not in out + err
    assert err.strip().endswith("0 errors, 0 notes")


def test_config_check_lists_every_error(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\n"
                   "[reminders.office_offsets]\nkfz-stelle = ['1d']\n"
                   "[[backoffice_clients]]\nname = 'crm'\ntoken_env = 'CRM_TOKEN'\n"
                   "[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TG_TOKEN'\nwebhook_url = 'https://bot.musterstadt.example/tg'\n",
                   encoding="utf-8")
    for name in ("TG_TOKEN", "CRM_TOKEN", "BUERGERBOT_LINK_KEYS", "BUERGERBOT_TELEGRAM_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "config", "check", "--config", str(cfg))
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2
    assert [e.split(":")[1].strip() for e in errors] == ["profile buerger", "back-office client crm", "reminders", "reminders.office_offsets"]
    monkeypatch.setenv("TG_TOKEN", "1:x")
    code, _, err = run(capsys, "config", "check", "--config", str(cfg))
    assert "webhook secret missing (set BUERGERBOT_TELEGRAM_WEBHOOK_SECRET; webhook_url is set)" in err


def test_config_check_of_a_file_that_does_not_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("colour = 'red'\n[matching]\nthreshold = 'high'\n", encoding="utf-8")
    code, out, err = run(capsys, "config", "check", "--config", str(cfg))
    assert code == 2 and out == ""
    assert f"error: {cfg}: colour: unknown key (check the spelling)" in err.splitlines()
    assert any(line.startswith(f"error: {cfg}: matching.threshold: ") for line in err.splitlines())


def test_run_refuses_missing_secrets_and_unknown_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TG_TOKEN'\n", encoding="utf-8")
    monkeypatch.delenv("TG_TOKEN", raising=False)
    code, _, err = run(capsys, "--config", str(cfg), "run")
    assert code == 2 and "config: profile buerger: telegram token missing (set TG_TOKEN)" in err
    code, _, err = run(capsys, "--config", str(cfg), "run", "--profile", "welcome")
    assert code == 2 and "config: no profile welcome (configured: buerger)" in err


def test_run_that_cannot_start_says_why_in_one_line(tmp_path: Path, tiny_kb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg.write_text(f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\ndatabase_url = {json.dumps(f'sqlite:///{tmp_path}/bot.db')}\n"
                       f"[http]\nport = {port}\n[[profiles]]\nname = 'buerger'\n[profiles.telegram]\ntoken_env = 'TG_TOKEN'\n", encoding="utf-8")
        monkeypatch.setenv("TG_TOKEN", "1:never-used")
        monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "ef" * 32)
        code, _, err = run(capsys, "--config", str(cfg), "--log-format", "text", "run")
    assert code == 1
    assert "ERROR bot.cli: the bot stopped: OSError:" in err and "address already in use" in err
    assert "Traceback" not in err
