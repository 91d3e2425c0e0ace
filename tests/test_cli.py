"""The CLI contracts other tools rely on (ask --json, eval --json, faq validate exit codes)."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.cli import main
from bot.core.models import ChatRef
from bot.core.ports import AnswerFeedback
from bot.ops.logs import pseudonym
from bot.storage.database import make_engine, migrate
from bot.storage.feedback import SqlFeedbackLog
from bot.storage.staff import StaffAccounts
from bot.storage.unanswered import SqlUnansweredLog
from bot.storage.usage import SqlUsageLog
from tests.conftest import REPO, entry_yaml


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
    assert obj["kind"] == "answer" and obj["suggested"] == []
    assert obj["language"] == "de"
    assert 0.5 <= obj["score"] <= 1.0
    assert "Antwort zu personalausweis." in obj["answer"]
    assert "https://musterstadt.example/online/personalausweis" in obj["answer"]


def test_ask_json_out_of_scope(tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "--faq-dir", str(tiny_kb), "--lang", "en", "--json", "Who won the match yesterday?")
    obj = json.loads(out)
    assert code == 0 and obj["id"] is None and obj["language"] == "en"
    assert obj["kind"] == "fallback"
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
    assert obj["suggested_recall"] == 0.0  # the one miss offered no choices
    assert obj["kinds"] == {"answer": 3, "fallback": 1}
    assert obj["ms_per_query"] > 0
    code, out, _ = run(capsys, "eval", str(data), "--faq-dir", str(tiny_kb))
    assert "1 misses" in out and "Wohnsitz abmelden" in out
    code, out, _ = run(capsys, "eval", str(data), "--faq-dir", str(tiny_kb), "--matcher", "--json")
    assert json.loads(out)["in_scope_accuracy"] == pytest.approx(2 / 3, abs=1e-3)


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


def test_validate_takes_the_configured_knowledge_limits(tiny_kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_kb / "more.yaml").write_text("entries:\n" + entry_yaml("hundesteuer", ["Hund anmelden Steuer", "Hundesteuer zahlen", "Steuer für meinen Hund"], ["dog tax", "register my dog", "tax for a dog"]), encoding="utf-8")
    code, _, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 0
    monkeypatch.setenv("BUERGERBOT_KNOWLEDGE_LIMITS__MAX_FILE_BYTES", "2048")
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 1
    assert [line for line in out.splitlines() if "larger than" in line] == [f"{tiny_kb / 'entries.yaml'}:1: file is larger than 2 KiB ({(tiny_kb / 'entries.yaml').stat().st_size / 1024:.0f} KiB); split it into smaller files"]


def test_validate_reports_the_city_message_catalogues(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    locales = tmp_path / "locales"
    locales.mkdir()
    (locales / "uk.yaml").write_text("popular: 'Часто питають:'\nfallback_phone: 'Телефон {telefon}'\n", encoding="utf-8")
    monkeypatch.setenv("BUERGERBOT_LOCALES__DIRS", json.dumps([str(locales)]))
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 0
    lines = out.splitlines()
    assert f"{locales / 'uk.yaml'}:2: warning: fallback_phone: the bot does not fill in {{telefon}} here; this text is left out" in lines
    assert any(line.startswith(f"{locales / 'uk.yaml'}:1: warning: ") and "texts missing, said in en → de instead" in line for line in lines)
    (locales / "tr.yaml").write_text("popular: [Sık\n", encoding="utf-8")
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 1 and f"{locales / 'tr.yaml'}:2: YAML syntax" in out


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
    # The language choice outlives the process: a second session answers a message without a
    # language of its own ("ok") in English at once.
    again = subprocess.run([sys.executable, "-m", "bot", "chat", "--faq-dir", str(tiny_kb)], input="ok\n",
                           capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert "There is nothing to choose or confirm right now." in again.stdout


# --- Staff reports and faq new ---


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The database the CLI opens (BUERGERBOT_DATABASE_URL), migrated, for seeding."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("BUERGERBOT_DATABASE_URL", url)
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_report_unanswered(db: Engine, tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = SqlUnansweredLog(db)
    now = dt.datetime.now(dt.UTC)
    for text in ("Wann ist Vollmond?", "wann ist der nächste Vollmond", "Personalausweis gestohlen, Anzeige?"):
        log.record(text, "de", "telegram", now - dt.timedelta(hours=2))
    log.record("Wann ist Vollmond?", "de", "telegram", now - dt.timedelta(days=8))  # outside 7d
    log.close()
    code, out, _ = run(capsys, "report", "unanswered", "--json", "--faq-dir", str(tiny_kb))
    obj = json.loads(out)
    assert code == 0 and obj["questions"] == 3
    assert [c["count"] for c in obj["clusters"]] == [2, 1]
    assert sorted(obj["clusters"][0]["examples"]) == ["Wann ist Vollmond?", "wann ist der nächste Vollmond"]
    assert obj["clusters"][1]["nearest"]["id"] == "personalausweis"
    code, out, _ = run(capsys, "report", "unanswered", "--since", "2w", "--faq-dir", str(tiny_kb))
    assert code == 0 and ": 4 in 2 groups" in out.splitlines()[0]


def test_report_unanswered_shows_no_chat_or_pseudonym(db: Engine, tiny_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = SqlUnansweredLog(db)
    log.record("Wann ist Vollmond?", "de", "telegram", dt.datetime.now(dt.UTC), ChatRef("telegram", "987654321"))
    log.close()
    for extra in (["--json"], []):
        code, out, _ = run(capsys, "report", "unanswered", "--faq-dir", str(tiny_kb), *extra)
        assert code == 0 and "Wann ist Vollmond?" in out
        assert "987654321" not in out and pseudonym("telegram", "987654321").split(":")[1] not in out


@pytest.mark.parametrize("since", ["7x", "0d", "week"])
def test_report_since_errors_exit_2(db: Engine, since: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "usage", "--since", since])
    assert exc.value.code == 2
    assert f"argument --since: {since!r}" in capsys.readouterr().err


def test_report_usage(db: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    log = SqlUsageLog(db)
    now = dt.datetime.now(dt.UTC)
    log.record("answer", ("sperrmuell",), "telegram", "de", now)
    log.record("out_of_scope", (), "matrix", "en", now)
    log.close()
    code, out, _ = run(capsys, "report", "usage", "--json", "--since", "12h")
    obj = json.loads(out)
    assert code == 0 and obj["totals"]["answers"] == 1 and obj["totals"]["out_of_scope_share"] == 0.5
    assert obj["entries"] == [{"id": "sperrmuell", "answers": 1, "channels": {"telegram": 1}, "languages": {"de": 1}, "offered": 0, "chosen": 0}]
    code, out, _ = run(capsys, "report", "usage")
    assert code == 0 and "answers: 1, out of scope: 1 (50.0% of questions)" in out


class _Site(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        self.send_response(200 if self.path == "/ok" else 404)
        self.end_headers()

    do_GET = do_HEAD  # the check asks GET when HEAD gets an error

    def log_message(self, *args: object) -> None:
        pass


def test_report_stale_with_link_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    kb = tmp_path / "kb"
    kb.mkdir()
    link = "    last_reviewed: 2100-01-01\n    links:\n      - kind: info\n        url: {}\n        label: {{de: Info, en: Info}}\n"
    (kb / "e.yaml").write_text("entries:\n" + entry_yaml("gut", ["a b c", "d e f", "g h i"], ["j k l", "m n o", "p q r"], link.format(base + "/ok"))
                               + entry_yaml("weg", ["s t u", "v w x", "y z a"], ["b c d", "e f g", "h i j"], link.format(base + "/gone")), encoding="utf-8")
    try:
        code, out, _ = run(capsys, "report", "stale", "--json", "--check-links", "--timeout", "5", "--faq-dir", str(kb))
    finally:
        server.shutdown()
    obj = json.loads(out)
    assert code == 0 and obj["links_checked"] == 2  # stale entries are a report, not a failure
    assert [(e["id"], e["problems"]) for e in obj["entries"]] == [
        ("weg", [{"reason": "broken_link", "detail": "HTTP 404", "url": base + "/gone"}])]
    code, out, _ = run(capsys, "report", "stale", "--faq-dir", str(kb))
    assert code == 0 and out.strip() == "0 of 2 entries need attention (links not checked; add --check-links)"
    (kb / "broken.yaml").write_text("entries: [\n", encoding="utf-8")
    code, _, err = run(capsys, "report", "stale", "--faq-dir", str(kb))
    assert code == 1 and "broken.yaml:" in err


@pytest.mark.parametrize("timeout", ["0", "-1", "abc", "601"])
def test_report_stale_bad_timeout(timeout: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "stale", "--timeout", timeout])
    assert exc.value.code == 2 and "is not a number of seconds" in capsys.readouterr().err


def test_report_purge(db: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    log = SqlUnansweredLog(db)
    log.record("old", "de", "telegram", dt.datetime.now(dt.UTC) - dt.timedelta(days=91))
    log.record("new", "de", "telegram", dt.datetime.now(dt.UTC))
    log.close()
    code, out, _ = run(capsys, "report", "purge")
    assert code == 0 and out.startswith("deleted 1 unanswered questions older than 90 days, 0 usage events and 0 answer votes")


def test_report_feedback(db: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    log = SqlFeedbackLog(db)
    for vote, missing in [("up", None), ("down", "Die Gebühr fehlt"), ("down", None)]:
        log.record(AnswerFeedback("personalausweis", "de", "web", "buerger", vote, now, missing))
    log.record(AnswerFeedback("sperrmuell", "en", "telegram", "buerger", "up", now))
    log.record(AnswerFeedback("sperrmuell", "de", "telegram", "buerger", "down", now - dt.timedelta(days=40)))
    log.close()
    code, out, _ = run(capsys, "report", "feedback", "--json")
    report = json.loads(out)
    assert code == 0 and (report["up"], report["down"]) == (2, 2)
    assert [(e["id"], e["up"], e["down"]) for e in report["entries"]] == [("personalausweis", 1, 2), ("sperrmuell", 1, 0)]
    assert [c["text"] for c in report["entries"][0]["comments"]] == ["Die Gebühr fehlt"]
    code, out, _ = run(capsys, "report", "feedback", "--since", "60d")
    lines = out.splitlines()
    assert code == 0 and lines[0].endswith("2 up, 3 down")
    assert "“Die Gebühr fehlt” (de, " in out and lines[3].split()[:4] == ["personalausweis", "1", "2", "33%"]


def test_staff_accounts_are_added_listed_and_removed(db: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("ein langes passwort\n"))
    code, out, _ = run(capsys, "staff", "add", "m.mustermann", "--role", "editor")
    assert code == 0 and out.startswith("added m.mustermann (editor)")
    assert StaffAccounts(db).verify("m.mustermann", "ein langes passwort") is not None  # the line ending is not part of it
    monkeypatch.setattr("sys.stdin", io.StringIO("noch ein langes passwort\n"))
    code, _, err = run(capsys, "staff", "add", "m.mustermann", "--role", "viewer")
    assert code == 1 and "exists already" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("kurz\n"))
    code, _, err = run(capsys, "staff", "add", "v.viewer", "--role", "viewer")
    assert code == 1 and "at least 12 characters" in err
    code, _, err = run(capsys, "staff", "add", "Max Mustermann", "--role", "viewer")
    assert code == 2 and "is not a valid account name" in err
    code, out, _ = run(capsys, "staff", "list", "--json")
    assert code == 0 and [(a["name"], a["role"]) for a in json.loads(out)] == [("m.mustermann", "editor")]
    code, out, _ = run(capsys, "staff", "remove", "m.mustermann")
    assert code == 0 and out.startswith("removed m.mustermann")
    code, _, err = run(capsys, "staff", "remove", "m.mustermann")
    assert code == 1 and "there is no account 'm.mustermann'" in err


def test_faq_new(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUERGERBOT_KNOWLEDGE_DIRS", json.dumps([str(tiny_kb)]))
    (tiny_kb / "services").mkdir()
    code, out, _ = run(capsys, "faq", "new", "hund-anmelden", "--kind", "service")
    created = tiny_kb / "services" / "hund-anmelden.yaml"
    assert code == 0 and created.exists() and out.startswith(f"created {created}: fill in every <<…>> placeholder")
    code, out, _ = run(capsys, "faq", "validate", "--quick")
    assert code == 1 and f"{created}:15: placeholder <<zuständiges Amt und Team / office and team responsible>> is still to be filled in" in out
    code, _, err = run(capsys, "faq", "new", "hund-anmelden")
    assert code == 1 and "already used at" in err
    code, _, err = run(capsys, "faq", "new", "Hund Anmelden")
    assert code == 2 and "is not a valid id" in err
    code, _, err = run(capsys, "faq", "new", "personalausweis", "--dir", str(tmp_path / "elsewhere"))
    assert code == 1 and "'personalausweis' is already used at" in err
    code, _, err = run(capsys, "faq", "new", "fundsachen", "--dir", str(tmp_path / "elsewhere"))
    assert code == 0 and "is not one of the knowledge folders" in err


@pytest.mark.parametrize("url", ["nonsense", "postgresql://nobody@127.0.0.1:1/x"])
def test_reports_without_a_database_exit_2(url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BUERGERBOT_DATABASE_URL", url)
    code, _, err = run(capsys, "report", "usage")
    # Not a URL at all is a configuration error; a URL nobody answers is found when the report opens it.
    assert code == 2 and ("database_url: not a database URL" in err if url == "nonsense" else err.startswith("database: cannot open database_url:"))


def import_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "import.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "bot.db"}"\n[[profiles]]\nname = "buerger"\n[profiles.telegram]\n'
                   'username = "MusterstadtBot"\n', encoding="utf-8")
    return cfg


def test_appointments_import(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "cd" * 32)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(microsecond=0).isoformat()
    data = tmp_path / "termine.csv"
    data.write_text(f"external_ref;starts_at;office;subject\nT-1;{soon};buergerbuero;Personalausweis\nT-2;{soon};rathauskeller;x\n"
                    f"T-3;{soon};;\n", encoding="utf-8-sig")
    argv = ["--config", str(import_config(tmp_path)), "appointments", "import", str(data), "--client", "termine", "--faq-dir", str(tiny_kb)]
    code, out, err = run(capsys, *argv)
    lines = out.splitlines()
    assert code == 1 and len(lines) == 3
    assert lines[0].startswith("T-1: created, token ") and "https://t.me/MusterstadtBot?start=" in lines[0]
    assert lines[1] == f"{data}:3: office: unknown office id 'rathauskeller'"
    assert lines[2].startswith("T-3: created")
    assert "2 created, 0 already there, 1 failed" in err
    code, out, _ = run(capsys, *argv, "--json")  # the same file again: nothing twice
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [(r["line"], r["status"]) for r in rows] == [(2, "exists"), (3, "error"), (4, "exists")]
    assert rows[1]["error"] == {"field": "office", "message": "office: unknown office id 'rathauskeller'"}
    assert rows[0]["links"][0]["url"].endswith(rows[0]["token"])
    data.write_text(f"external_ref,starts_at\nT-4,{soon}\n", encoding="utf-8")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and out.startswith("T-4: created")


def test_appointments_import_refusals(tiny_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = str(import_config(tmp_path))
    monkeypatch.delenv("BUERGERBOT_LINK_KEYS", raising=False)
    data = tmp_path / "t.csv"
    data.write_text("external_ref;starts_at\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", cfg, "appointments", "import", str(data), "--client", "termine", "--faq-dir", str(tiny_kb))
    assert code == 2 and "config: reminders: link keys missing (set BUERGERBOT_LINK_KEYS" in err
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "cd" * 32)
    code, _, err = run(capsys, "--config", cfg, "appointments", "import", str(data), "--client", "chat", "--faq-dir", str(tiny_kb))
    assert code == 2 and "reserved" in err
    code, _, err = run(capsys, "--config", cfg, "appointments", "import", str(tmp_path / "nope.csv"), "--client", "termine", "--faq-dir", str(tiny_kb))
    assert code == 2 and "nope.csv" in err
    data.write_text("ref;starts_at\n", encoding="utf-8")
    code, out, _ = run(capsys, "--config", cfg, "appointments", "import", str(data), "--client", "termine", "--faq-dir", str(tiny_kb))
    assert code == 1 and out.startswith(f"{data}:1: unknown column 'ref'")

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
    assert err.strip().endswith("0 errors, 0 warnings, 0 notes")


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


# --- configuration mistakes end in one clear line and exit 2, never a traceback ---


@pytest.mark.parametrize("line", ['offsets = ["3x"]', 'quiet_hours = ["25:00", "08:00"]', 'waste_evening = "abends"', "case_followup_days = 100000"])
def test_bad_reminder_settings_are_config_errors(line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "b.toml"
    config.write_text(f"[reminders]\n{line}\n", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "config", "check")
    assert code == 2 and "reminders." in err
    code, _, err = run(capsys, "--config", str(config), "run")
    assert code == 2 and err.startswith("config: ")


def test_an_environment_list_that_is_not_json_is_a_config_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BUERGERBOT_LANGUAGES", "de,en")
    code, _, err = run(capsys, "faq", "validate", "--quick")
    assert code == 2 and err.startswith("config: environment:")


def test_an_unreadable_secret_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY_FILE", str(tmp_path / "missing"))
    code, _, err = run(capsys, "config", "check")
    assert code == 2 and "BUERGERBOT_LOG_PSEUDONYM_KEY_FILE: cannot read" in err
    code, _, err = run(capsys, "faq", "validate", "--quick")
    assert code == 2 and "BUERGERBOT_LOG_PSEUDONYM_KEY_FILE: cannot read" in err


def test_retention_beyond_a_century_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BUERGERBOT_STAFF__USAGE_RETENTION_DAYS", "1000000")
    code, _, err = run(capsys, "report", "purge")
    assert code == 2 and "staff.usage_retention_days" in err


def _backoffice_config(tmp_path: Path, tiny_kb: Path, port: int = 0) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\ndatabase_url = {json.dumps(f'sqlite:///{tmp_path}/bot.db')}\n"
                   f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n[http]\nport = {port}\n"
                   "[[backoffice_clients]]\nname = 'crm'\ntoken_env = 'CRM_TOKEN'\n[[backoffice_clients]]\nname = 'erp'\ntoken_env = 'ERP_TOKEN'\n",
                   encoding="utf-8")
    return cfg


@pytest.mark.parametrize(("crm", "erp", "message"), [
    ("short", "e" * 40, "backoffice client crm: the token in CRM_TOKEN needs at least 32 characters"),
    (" " * 40, "e" * 40, "backoffice client crm: the token in CRM_TOKEN is only spaces"),
    ("s" * 40, "s" * 40, "backoffice client erp: its token is another client's too"),
])
def test_config_check_and_run_refuse_the_same_backoffice_tokens(
    crm: str, erp: str, message: str, tmp_path: Path, tiny_kb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = _backoffice_config(tmp_path, tiny_kb)
    monkeypatch.setenv("CRM_TOKEN", crm)
    monkeypatch.setenv("ERP_TOKEN", erp)
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS", "ef" * 32)
    code, _, err = run(capsys, "config", "check", "--config", str(cfg))
    assert code == 2 and f"error: {message}" in err.splitlines()
    code, _, err = run(capsys, "--config", str(cfg), "run")
    assert code == 2 and f"config: {message}" in err.splitlines()
    assert not (tmp_path / "bot.db").exists()  # refused before anything started


def test_config_check_warns_about_readable_doubled_secrets_and_unsupported_databases(
    tmp_path: Path, tiny_kb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"knowledge_dirs = [{json.dumps(str(tiny_kb))}]\ndatabase_url = 'mysql://bot@db.example/bot'\n", encoding="utf-8")
    readable, private = tmp_path / "keys", tmp_path / "pseudonym"
    readable.write_text("ab" * 32 + "\n", encoding="utf-8")
    readable.chmod(0o644)
    private.write_text("pseudonym-key\n", encoding="utf-8")
    private.chmod(0o600)
    monkeypatch.setenv("BUERGERBOT_LINK_KEYS_FILE", str(readable))
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY_FILE", str(private))
    monkeypatch.setenv("BUERGERBOT_LOG_PSEUDONYM_KEY", "also-set-directly")
    code, _, err = run(capsys, "config", "check", "--config", str(cfg))
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert code == 0, err
    assert sorted(warnings) == sorted([
        "warning: BUERGERBOT_LOG_PSEUDONYM_KEY and BUERGERBOT_LOG_PSEUDONYM_KEY_FILE are both set: "
        "BUERGERBOT_LOG_PSEUDONYM_KEY is used, the file is ignored; unset one",
        f"warning: BUERGERBOT_LINK_KEYS_FILE: {readable} is readable by every user of this machine (chmod o-r {readable})",
        "warning: database_url: 'mysql' is not supported (SQLite or PostgreSQL: sqlite:///path/bot.db, postgresql://user@host/db)",
    ])
    assert "also-set-directly" not in err and "abab" not in err


def test_validate_checks_the_drafts_folder_by_itself(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from bot.handover.core import draft_entry

    drafts = tmp_path / "faq-drafts"
    monkeypatch.setenv("BUERGERBOT_HANDOVER__DRAFTS_DIR", str(drafts))
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 0 and out == ""  # no drafts folder: nothing to say
    drafts.mkdir()
    (drafts / "h-00001.yaml").write_text(draft_entry("H-00001", "de", "Wo melde ich mein Boot an?", ["Im Hafenamt."]), encoding="utf-8")
    code, out, err = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 0  # a draft's gaps are review still to do, not a fault of the live knowledge
    assert out.splitlines()[0] == f"drafts in {drafts} (not live; a staff member moves a reviewed draft into a knowledge folder):"
    assert f"  {drafts / 'h-00001.yaml'}:6: placeholder <<Titel>> is still to be filled in" in out.splitlines()
    assert "1 drafts waiting for review" in err
    monkeypatch.setenv("BUERGERBOT_HANDOVER__DRAFTS_DIR", str(tiny_kb / "drafts"))
    (tiny_kb / "drafts").mkdir()
    code, out, _ = run(capsys, "faq", "validate", "--quick", str(tiny_kb))
    assert code == 1 and "inside the knowledge folder" in out


def test_report_unanswered_links_the_draft_that_answers_a_group(db: Engine, tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from bot.handover.core import draft_entry

    drafts = tmp_path / "faq-drafts"
    drafts.mkdir()
    (drafts / "h-00002.yaml").write_text(draft_entry("H-00002", "de", "Wann ist Vollmond?", ["Am 4. Dezember."]), encoding="utf-8")
    monkeypatch.setenv("BUERGERBOT_HANDOVER__DRAFTS_DIR", str(drafts))
    log = SqlUnansweredLog(db)
    log.record("wann ist der nächste Vollmond", "de", "telegram", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    log.close()
    code, out, _ = run(capsys, "report", "unanswered", "--json", "--faq-dir", str(tiny_kb))
    obj = json.loads(out)
    assert code == 0 and obj["clusters"][0]["drafts"] == [str(drafts / "h-00002.yaml")]
    code, out, _ = run(capsys, "report", "unanswered", "--faq-dir", str(tiny_kb))
    assert f"draft waiting for review: {drafts / 'h-00002.yaml'}" in out
