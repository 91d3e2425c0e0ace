"""`buergerbot` on the command line: run, worker, chat, ask, eval, the staff's faq tools and reports.

Every command imports what it needs when it runs: ``buergerbot worker`` needs a third of the memory
without the matcher (NumPy and SciPy) and the reports, and several run side by side; ``ask`` does
not wait for the database. The parts are built in bot.wiring.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.config import Settings, city_clock, load_settings
from bot.core.knowledge import load_knowledge
from bot.credentials import MissingSecret, log_pseudonym_key
from bot.demo import DEMO_NOTICE, StarterExists, uses_demo_knowledge, write_starter
from bot.ops.logs import configure_logging
from bot.reports.since import parse_since

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.core.live import LiveKnowledge
    from bot.core.matching.evaluation import Labelled
    from bot.reminders.csv_import import Outcome
    from bot.storage.staff import StaffAccounts

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if _command(arguments) == "worker":
        return _worker(arguments)
    parser = _parser()
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "init":  # before the settings: a broken buergerbot.toml here must not stop a new city elsewhere
        return _cmd_init(args)
    settings, errors = load_settings(args.config)
    if handler is _cmd_config_check:
        return int(_cmd_config_check(settings, errors))
    if settings is None:
        for e in errors:
            print(f"config: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        configure_logging(args.log_format or settings.log_format, logging.INFO if args.command == "run" else logging.WARNING, log_pseudonym_key(settings))
        if args.command != "run" and uses_demo_knowledge(settings.knowledge_dirs):  # `run` says so with the config check
            log.warning(DEMO_NOTICE)
        result: int = handler(args, settings)
    except MissingSecret as exc:
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return result


def _command(args: list[str]) -> str | None:
    """The subcommand: the first word that is neither an option nor the value of --config."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _worker(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="buergerbot", description="deliver due reminders only (run several against one PostgreSQL)")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("command", choices=["worker"])
    parsed = parser.parse_args(args)
    settings, errors = load_settings(parsed.config)
    if settings is None:
        for e in errors:
            print(f"config: {e}", file=sys.stderr)
        return EXIT_USAGE
    return run_worker_command(settings)


def run_worker_command(settings: Settings) -> int:
    import logging

    from bot.ops.logs import configure_logging
    from bot.wiring import open_database, run_worker

    log = logging.getLogger("bot.worker")
    try:
        configure_logging(settings.log_format, logging.INFO, log_pseudonym_key(settings))
        engine = open_database(settings)
        asyncio.run(run_worker(settings, engine, city_clock(settings)))
    except MissingSecret as exc:
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # an unreachable database, broken knowledge files: one clear line, then out
        log.error("the worker stopped: %s: %s", type(exc).__name__, exc)
        return EXIT_PROBLEMS
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="buergerbot", description="Bürgerbot: the city's chat contact point")
    p.add_argument("--config", type=Path, default=None, help="TOML config file (default: buergerbot.toml if present)")
    p.add_argument("--log-format", choices=("auto", "text", "json"), default=None,
                   help="log lines as text or one JSON object each (default: the config's log_format; auto = text in a terminal)")
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the configured channels, the HTTP server and reminders (with no chat channel: the console in a terminal)")
    run.add_argument("--profile", action="append", default=None, metavar="NAME",
                     help="serve only this profile (repeatable): one worker process per profile or group of profiles")
    run.set_defaults(handler=_cmd_run)

    init = sub.add_parser("init", help="write a starter city to DIR: buergerbot.toml and the demo knowledge (faq/, intents/), to adapt")
    init.add_argument("dir", type=Path, help="the new city's folder (created if missing; existing files are never overwritten)")
    init.set_defaults(handler=_cmd_init)

    config = sub.add_parser("config", help="tools for the configuration")
    config_sub = config.add_subparsers(dest="config_command")
    config_check = config_sub.add_parser("check", help="print the effective configuration (secrets masked) and every error; exit 2 on errors")
    config_check.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML config file")
    config_check.set_defaults(handler=_cmd_config_check)

    worker = sub.add_parser("worker", help="deliver due reminders only (run several against one PostgreSQL)")
    worker.set_defaults(handler=_cmd_worker)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    _knowledge_arg(chat)
    chat.set_defaults(handler=_cmd_chat)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=None, default=None, help="language of the question (default: detected)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _knowledge_arg(ask)
    ask.set_defaults(handler=_cmd_ask)

    ev = sub.add_parser("eval", help="measure what the dialogue replies to labelled questions (JSON lines)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--threshold", type=float, default=None)
    ev.add_argument("--matcher", action="store_true", help="score the matcher's best entry alone, without the dialogue")
    _knowledge_arg(ev)
    ev.set_defaults(handler=_cmd_eval)

    faq = sub.add_parser("faq", help="tools for the knowledge files")
    faq_sub = faq.add_subparsers(dest="faq_command")
    val = faq_sub.add_parser("validate", help="check the knowledge files; problems as path:line: message")
    val.add_argument("dirs", nargs="*", type=Path)
    val.add_argument("--quick", action="store_true", help="skip the held-out routing check (ten extra builds)")
    val.set_defaults(handler=_cmd_validate)
    new = faq_sub.add_parser("new", help="write a new entry file from a template (de and en) to fill in")
    new.add_argument("id", help="the new entry's id: lower case, '-' between words, e.g. hundesteuer-anmelden")
    new.add_argument("--dir", type=Path, default=None, help="folder for the file (default: the first knowledge folder; its services/ for --kind service)")
    new.add_argument("--kind", choices=("faq", "service"), default="faq")
    new.set_defaults(handler=_cmd_faq_new)

    report = sub.add_parser("report", help="reports for staff: unanswered questions, usage, stale entries")
    report_sub = report.add_subparsers(dest="report_command")
    un = report_sub.add_parser("unanswered", help="questions the bot could not answer, grouped by similarity")
    un.add_argument("--since", type=_since, default="7d", help="how far back: 12h, 7d, 2w (default 7d)")
    un.add_argument("--json", action="store_true")
    _knowledge_arg(un)
    un.set_defaults(handler=_cmd_report_unanswered)
    us = report_sub.add_parser("usage", help="top entries by channel and language, out-of-scope share, choices offered and taken")
    us.add_argument("--since", type=_since, default="30d", help="how far back: 12h, 7d, 2w (default 30d)")
    us.add_argument("--top", type=int, default=20, help="entries in the table (default 20; --json lists all)")
    us.add_argument("--json", action="store_true")
    us.set_defaults(handler=_cmd_report_usage)
    st = report_sub.add_parser("stale", help="entries due for review, past valid_until, or (with --check-links) with broken links")
    st.add_argument("--json", action="store_true")
    st.add_argument("--check-links", action="store_true", help="request every link (needs internet access)")
    st.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per link (default 10)")
    _knowledge_arg(st)
    st.set_defaults(handler=_cmd_report_stale)
    fb = report_sub.add_parser("feedback", help="votes on answers per entry (up, down, share, latest comments), the worst first")
    fb.add_argument("--since", type=_since, default="30d", help="how far back: 12h, 7d, 2w (default 30d)")
    fb.add_argument("--json", action="store_true")
    fb.set_defaults(handler=_cmd_report_feedback)
    pu = report_sub.add_parser("purge", help="delete unanswered questions and usage events past their retention now")
    pu.set_defaults(handler=_cmd_report_purge)

    staff = sub.add_parser("staff", help="accounts for the staff dashboard (/staff/ on the operations server)")
    staff_sub = staff.add_subparsers(dest="staff_command")
    staff_add = staff_sub.add_parser("add", help="add a person's account; the password is read from stdin (or asked for twice in a terminal)")
    staff_add.add_argument("name", help="lower-case letters, digits, '.', '_' or '-', e.g. m.mustermann")
    staff_add.add_argument("--role", choices=("editor", "viewer"), required=True, help="editor: may also download entry templates; viewer: reads only")
    staff_add.set_defaults(handler=_cmd_staff_add)
    staff_remove = staff_sub.add_parser("remove", help="delete an account and end its sessions")
    staff_remove.add_argument("name")
    staff_remove.set_defaults(handler=_cmd_staff_remove)
    staff_list = staff_sub.add_parser("list", help="the accounts with their roles")
    staff_list.add_argument("--json", action="store_true")
    staff_list.set_defaults(handler=_cmd_staff_list)

    appointments = sub.add_parser("appointments", help="appointments from the city's booking systems")
    appointments_sub = appointments.add_subparsers(dest="appointments_command")
    imp = appointments_sub.add_parser("import", help="create appointments from a CSV file; prints each one's deep link")
    imp.add_argument("file", type=Path, help="CSV (; or ,) with the columns external_ref, starts_at and optionally office, subject, language")
    imp.add_argument("--client", required=True, help="the booking system's name: external_ref is unique per client")
    imp.add_argument("--json", action="store_true", help="one JSON object per row")
    _knowledge_arg(imp)
    imp.set_defaults(handler=_cmd_appointments_import)
    return p


def _since(value: str) -> dt.timedelta:
    try:
        return parse_since(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds between 0 and 600")
    return seconds


def _knowledge_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faq-dir", type=Path, action="append", default=None, help="knowledge folder (repeatable; default: faq/ and intents/)")


def _dirs(args: argparse.Namespace, settings: Settings) -> list[Path]:
    return list(getattr(args, "faq_dir", None) or settings.knowledge_dirs)


def _live(args: argparse.Namespace, settings: Settings) -> LiveKnowledge | None:
    from bot.core.live import InvalidKnowledge
    from bot.semantic.configured import EncoderUnavailable
    from bot.wiring import live_knowledge

    try:
        return live_knowledge(settings, _dirs(args, settings))
    except EncoderUnavailable as exc:
        print(exc, file=sys.stderr)
        return None
    except InvalidKnowledge as exc:
        print("The knowledge files have errors; not starting:", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        return None


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.texts import load_catalogues
    from bot.core.validation import check
    from bot.semantic.configured import EncoderUnavailable, configured_encoder, configured_multilingual_encoder

    dirs = list(args.dirs) or list(settings.knowledge_dirs)
    try:
        encoder = configured_encoder(settings.matching.encoder)
        cross_lingual = configured_multilingual_encoder(settings.matching.multilingual_encoder)
    except EncoderUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEMS
    checked = check(
        dirs, settings.languages, held_out=not args.quick, encoder=encoder, limits=settings.knowledge_limits.limits(), cross_lingual=cross_lingual,
    )
    checked.problems += load_catalogues(settings.locales.dirs, settings.locales.fallbacks).problems
    for p in sorted(checked.problems, key=lambda p: (p.path, p.line)):
        print(p)
    errors = sum(p.severity == "error" for p in checked.problems)
    warnings = len(checked.problems) - errors
    kb = checked.knowledge
    print(f"{len(kb.entries)} entries, {len(kb.offices)} offices, {len(kb.synonyms)} synonyms: {errors} errors, {warnings} warnings", file=sys.stderr)
    return EXIT_OK if checked.ok and _validate_drafts(settings, dirs, kb.entries) else EXIT_PROBLEMS


def _validate_drafts(settings: Settings, dirs: Sequence[Path], live_ids: Iterable[str]) -> bool:
    """The hand-over's drafts folder, when it exists, checked by itself and reported apart: a
    draft's gaps are the review still to do, not a fault of the live knowledge. False only when
    the folder lies inside a knowledge folder, which would put its drafts live."""
    from bot.handover.drafts import check_drafts

    folder = settings.handover.drafts_dir
    if not folder.is_dir():
        return True
    drafts = check_drafts(folder, dirs, list(live_ids), settings.languages, settings.knowledge_limits.limits())
    print(f"drafts in {folder} (not live; a staff member moves a reviewed draft into a knowledge folder):")
    for p in sorted(drafts.problems, key=lambda p: (p.path, p.line)):
        print(f"  {p}")
    print(f"{len(drafts.drafts)} drafts waiting for review, {len(drafts.problems)} things to settle before they can go live", file=sys.stderr)
    return drafts.inside_knowledge is None


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.console import run_console
    from bot.wiring import build_dialogue, open_storage

    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    storage = open_storage(settings)
    try:
        run_console(build_dialogue(settings, live, storage).handle, sys.stdin, sys.stdout, before_each=live.refresh, city_name=settings.city_name)
    finally:
        storage.close()
    return EXIT_OK


def _cmd_init(args: argparse.Namespace) -> int:
    target: Path = args.dir
    try:
        written = write_starter(target)
    except StarterExists as exc:
        print(f"already there, nothing written: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as exc:
        print(f"cannot write the starter city to {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(f"created {path}")
    print(f"next: cd {target}, put your city into buergerbot.toml and the knowledge files, then: buergerbot faq validate; buergerbot chat")
    return EXIT_OK


def _cmd_config_check(settings: Settings | None, load_errors: list[str]) -> int:
    from bot.ops.config_check import check_config, effective_lines

    if settings is None:
        for e in load_errors:
            print(f"error: {e}", file=sys.stderr)
        print(f"{len(load_errors)} errors (secrets and ids are checked once the settings load)", file=sys.stderr)
        return EXIT_USAGE
    for line in effective_lines(settings):
        print(line)
    findings = check_config(settings)
    for e in findings.errors:
        print(f"error: {e}", file=sys.stderr)
    for w in findings.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for n in findings.notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"{len(findings.errors)} errors, {len(findings.warnings)} warnings, {len(findings.notes)} notes", file=sys.stderr)
    return EXIT_USAGE if findings.errors else EXIT_OK


def _only_profiles(settings: Settings, names: list[str] | None) -> Settings | None:
    if not names:
        return settings
    known = {p.name for p in settings.profiles}
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"config: no profile {', '.join(unknown)} (configured: {', '.join(sorted(known)) or 'none'})", file=sys.stderr)
        return None
    return settings.model_copy(update={"profiles": [p for p in settings.profiles if p.name in names]})


class _NotStarted(Exception):
    """The knowledge or the encoder could not be loaded; what is wrong is printed already."""


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops.config_check import check_config
    from bot.wiring import open_storage, run_bot

    selected = _only_profiles(settings, args.profile)
    if selected is None:
        return EXIT_USAGE
    settings = selected
    log.info("starting: checking the configuration")
    findings = check_config(settings)  # exactly what `config check` reports
    for w in findings.warnings:
        log.warning("config: %s", w)
    for e in findings.errors:
        print(f"config: {e}", file=sys.stderr)
    if findings.errors:
        return EXIT_USAGE
    storage = None
    try:
        storage = open_storage(settings)

        def load() -> LiveKnowledge:
            live = _live(args, settings)
            if live is None:
                raise _NotStarted
            return live

        asyncio.run(run_bot(settings, load, storage))
    except _NotStarted:
        return EXIT_PROBLEMS
    except MissingSecret as exc:  # config check reports these; a secret file may change in between
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a wrong token, an unreachable database, a port in use: one clear line, then out
        log.error("the bot stopped: %s: %s", type(exc).__name__, exc)
        log.debug("where it stopped", exc_info=True)
        return EXIT_PROBLEMS
    finally:
        if storage is not None:
            storage.close()
    return EXIT_OK


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    return run_worker_command(settings)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.markup import reply_as_plain
    from bot.core.decision import decision_of
    from bot.core.models import Incoming
    from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
    from bot.storage.stores import Storage
    from bot.wiring import build_dialogue

    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    # A one-off question: nothing about it is stored.
    dialogue = build_dialogue(settings, live, Storage(MemoryUserStates(), MemoryUnansweredLog()))
    snap = live.snapshot
    lang = args.lang or snap.matcher.detect(args.question, settings.default_language)
    replies = dialogue.handle(Incoming(channel="cli", chat_id="cli", text=args.question, language_hint=lang))
    answer = "\n\n".join(reply_as_plain(r) for r in replies)
    if args.json:
        # What the dialogue replied decides `id`, `kind` and `suggested`; the matcher's ranking
        # is there to explain it.
        decided = decision_of(replies, snap.knowledge, dialogue.settings.hours_entry)
        result = snap.matcher.match(args.question, lang)
        best = result.best
        print(json.dumps({
            **decided.as_dict(),
            "score": round(best.score, 4) if best else 0.0,
            "language": decided.language,
            "answer": answer,
            "alternatives": [{"id": m.entry_id, "score": round(m.score, 4)} for m in result.matches[:4] if m.entry_id != decided.entry_id][:3],
        }, ensure_ascii=False))
    else:
        print(answer)
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.decision import evaluate
    from bot.core.matching.evaluation import BadLine, read_labelled
    from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
    from bot.semantic.configured import EncoderUnavailable
    from bot.storage.stores import Storage
    from bot.wiring import build_dialogue

    try:
        items = read_labelled(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BadLine as exc:
        print(f"{args.file}:{exc}", file=sys.stderr)
        return EXIT_USAGE
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    load = getattr(live.encoder, "load", None)
    if callable(load):  # ms_per_query times the questions, not the lazy encoder's one-off load
        with contextlib.suppress(EncoderUnavailable):
            load()
    threshold = args.threshold if args.threshold is not None else settings.matching.threshold
    if args.matcher:
        return _print_matcher_eval(args, live, items, threshold)
    dialogue = build_dialogue(settings, live, Storage(MemoryUserStates(), MemoryUnansweredLog()))
    dialogue.settings = replace(dialogue.settings, threshold=threshold)
    report = evaluate(dialogue, items)
    if args.json:
        print(json.dumps(report.as_dict()))
        return EXIT_OK
    for key, value in report.as_dict().items():
        print(f"{key:>22}: {value}")
    if report.misses:
        print(f"\n{len(report.misses)} misses:")
        print(f"{'expected':<28} {'replied':<28} {'kind':<12}  question")
        for miss in report.misses:
            got = miss.decision.entry_id or ("[" + ", ".join(miss.decision.suggested) + "]" if miss.decision.suggested else None)
            print(f"{miss.item.expect!s:<28} {got!s:<28} {miss.decision.kind.value:<12}  {miss.item.text[:70]}")
    return EXIT_OK


def _print_matcher_eval(args: argparse.Namespace, live: LiveKnowledge, items: list[Labelled], threshold: float) -> int:
    """The matcher's own figures (best entry above the threshold), as the CLINC150 protocol scores them."""
    from bot.core.matching.evaluation import predict, score

    predictions, ms = predict(live.snapshot.matcher, items)
    report = score(predictions, threshold, ms)
    if args.json:
        print(json.dumps(report.as_dict()))
        return EXIT_OK
    for key, value in report.as_dict().items():
        print(f"{key:>22}: {value}")
    if report.misses:
        print(f"\n{len(report.misses)} misses:")
        print(f"{'expected':<28} {'got':<28} {'score':>6}  question")
        for m in report.misses:
            print(f"{m.item.expect!s:<28} {m.entry_id if m.score >= threshold else None!s:<28} {m.score:6.3f}  {m.item.text[:70]}")
    return EXIT_OK


def _database(settings: Settings) -> Engine | None:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.wiring import open_database

    try:
        return open_database(settings)
    except (SQLAlchemyError, OSError) as exc:
        print(f"database: cannot open database_url: {exc}", file=sys.stderr)
        return None


def _window(since: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    until = dt.datetime.now(dt.UTC)
    return until - since, until


def _cmd_report_unanswered(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.handover.drafts import waiting_drafts
    from bot.reports import unanswered

    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    engine = _database(settings)
    if engine is None:
        return EXIT_USAGE
    since, until = _window(args.since)
    try:
        questions = unanswered.load_unanswered(engine, since)
    except SQLAlchemyError as exc:
        print(f"database: {exc}", file=sys.stderr)
        return EXIT_USAGE
    clusters = unanswered.cluster_questions(questions)
    unanswered.add_nearest(clusters, live.snapshot, settings.matching.threshold)
    drafts = waiting_drafts(settings.handover.drafts_dir)
    unanswered.add_drafts(clusters, drafts)
    if args.json:
        print(json.dumps(unanswered.as_json(clusters, since, until, drafts), ensure_ascii=False))
    else:
        print(unanswered.as_table(clusters, since, ZoneInfo(settings.timezone), drafts))
    return EXIT_OK


class _Report(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Report)


def _print_report(args: argparse.Namespace, settings: Settings, build: Callable[[Engine, dt.datetime, dt.datetime], R],
                  table: Callable[[R, ZoneInfo], str]) -> int:
    """A report over ``--since``: JSON with ``--json``, else the table for staff."""
    from sqlalchemy.exc import SQLAlchemyError

    engine = _database(settings)
    if engine is None:
        return EXIT_USAGE
    since, until = _window(args.since)
    try:
        report = build(engine, since, until)
    except SQLAlchemyError as exc:
        print(f"database: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print(table(report, ZoneInfo(settings.timezone)))
    return EXIT_OK


def _cmd_report_usage(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports import usage

    return _print_report(args, settings, usage.usage_report, lambda report, zone: usage.as_table(report, zone, top=max(args.top, 0)))


def _cmd_report_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports import feedback

    return _print_report(args, settings, feedback.feedback_report, feedback.as_table)


def _cmd_report_stale(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports import stale
    from bot.reports.links import check_links

    loaded = load_knowledge(_dirs(args, settings), settings.languages, settings.knowledge_limits.limits())
    for p in loaded.errors:
        print(p, file=sys.stderr)
    if loaded.errors:
        print(f"{len(loaded.errors)} errors in the knowledge files (see buergerbot faq validate); the report covers the entries that loaded",
              file=sys.stderr)
    kb = loaded.knowledge
    today = city_clock(settings)().date()
    links = asyncio.run(check_links(stale.all_links(kb), timeout=args.timeout)) if args.check_links else None
    found = stale.stale_entries(kb, today, settings.staff.review_after_days, links)
    checked = len(links) if links is not None else None
    if args.json:
        print(json.dumps(stale.as_json(found, kb, today, settings.staff.review_after_days, checked), ensure_ascii=False))
    else:
        print(stale.as_lines(found, kb, checked))
    # Stale entries are a report, not a failure; files that do not load are.
    return EXIT_PROBLEMS if loaded.errors else EXIT_OK


def _cmd_report_purge(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage.retention import purge

    engine = _database(settings)
    if engine is None:
        return EXIT_USAGE
    staff = settings.staff
    try:
        purged = purge(engine, dt.datetime.now(dt.UTC), staff.unanswered_retention_days, staff.usage_retention_days)
    except SQLAlchemyError as exc:
        print(f"database: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"deleted {purged.unanswered} unanswered questions older than {staff.unanswered_retention_days} days, "
          f"{purged.usage} usage events and {purged.feedback} answer votes older than {staff.usage_retention_days} days")
    return EXIT_OK


def _staff_accounts(settings: Settings) -> StaffAccounts | None:
    from bot.storage.staff import StaffAccounts

    engine = _database(settings)
    return StaffAccounts(engine) if engine is not None else None


def _read_password() -> str | None:
    """The new password: the first line of stdin when it is not a terminal, else asked for twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        print("the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def _cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage.staff import AccountError, name_problem

    problem = name_problem(args.name)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    password = _read_password()
    if password is None:
        return EXIT_PROBLEMS
    accounts = _staff_accounts(settings)
    if accounts is None:
        return EXIT_USAGE
    try:
        account = accounts.add(args.name, password, args.role, dt.datetime.now(dt.UTC))
    except AccountError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"added {account.name} ({account.role}); they sign in at /staff/ on the operations server")
    return EXIT_OK


def _cmd_staff_remove(args: argparse.Namespace, settings: Settings) -> int:
    accounts = _staff_accounts(settings)
    if accounts is None:
        return EXIT_USAGE
    if not accounts.remove(args.name):
        print(f"there is no account {args.name!r}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"removed {args.name} and ended its sessions")
    return EXIT_OK


def _cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    accounts = _staff_accounts(settings)
    if accounts is None:
        return EXIT_USAGE
    found = accounts.accounts()
    if args.json:
        print(json.dumps([{"name": a.name, "role": a.role, "created_at": a.created_at.isoformat(timespec="seconds")} for a in found]))
    else:
        for a in found:
            print(f"{a.name}\t{a.role}\tsince {a.created_at:%Y-%m-%d}")
        print(f"{len(found)} accounts", file=sys.stderr)
    return EXIT_OK


def _cmd_faq_new(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reports.template import slug_problem, write_entry_file

    problem = slug_problem(args.id)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_USAGE
    dirs = list(settings.knowledge_dirs)
    if args.dir is None and uses_demo_knowledge(dirs):
        print("the knowledge is the demo shipped with the package, which is not edited in place; "
              "write your city's with `buergerbot init DIR` and run this there", file=sys.stderr)
        return EXIT_USAGE
    folder: Path = args.dir or _new_entry_folder(dirs, args.kind)
    known = load_knowledge([*dirs, folder], settings.languages).knowledge.entries
    if args.id in known:
        print(f"the id {args.id!r} is already used at {known[args.id].source}; choose another (never reuse an old id)", file=sys.stderr)
        return EXIT_PROBLEMS
    try:
        path = write_entry_file(folder, args.id, args.kind, settings.languages, city_clock(settings)().date())
    except FileExistsError:
        print(f"{folder / (args.id + '.yaml')} already exists; nothing written", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as exc:
        print(f"cannot write the new entry in {folder}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"created {path}: fill in every <<…>> placeholder, then run: buergerbot faq validate")
    if not any(path.resolve().is_relative_to(d.resolve()) for d in dirs):
        print(f"note: {folder} is not one of the knowledge folders ({', '.join(map(str, dirs))}); the bot will not read it there", file=sys.stderr)
    return EXIT_OK


def _new_entry_folder(dirs: list[Path], kind: str) -> Path:
    base = dirs[0] if dirs else Path("faq")
    return base / "services" if kind == "service" and (base / "services").is_dir() else base
def _cmd_appointments_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reminders.backoffice import Backoffice
    from bot.reminders.csv_import import UnreadableFile, check_client, import_appointments
    from bot.storage.database import make_engine, migrate

    problem = check_client(args.client)
    if problem:
        print(f"--client: {problem}", file=sys.stderr)
        return EXIT_USAGE
    offices = frozenset(load_knowledge(_dirs(args, settings), settings.languages).knowledge.offices)
    try:
        service = Backoffice.from_settings(settings, lambda: offices, city_clock(settings))
    except MissingSecret as exc:
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    engine = make_engine(settings.database_url)
    migrate(engine)
    counts = {"created": 0, "exists": 0, "error": 0}
    try:
        for outcome in import_appointments(args.file, service, engine, args.client):
            counts[outcome.status] += 1
            print(json.dumps(outcome.as_dict(), ensure_ascii=False) if args.json else _outcome_line(args.file, outcome))
    except UnreadableFile as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    finally:
        engine.dispose()
    print(f"{counts['created']} created, {counts['exists']} already there, {counts['error']} failed", file=sys.stderr)
    return EXIT_PROBLEMS if counts["error"] else EXIT_OK


def _outcome_line(path: Path, outcome: Outcome) -> str:
    created = outcome.appointment
    if created is None:
        return f"{path}:{outcome.line}: {outcome.error}"
    links = " ".join(link.instruction() for link in created.links)
    return f"{outcome.external_ref}: {outcome.status}, token {created.token}, valid until {created.expires_at:%Y-%m-%d %H:%M} UTC {links}".rstrip()
