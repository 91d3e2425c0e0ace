"""`buergerbot` command line: run, chat, ask, eval and the staff's faq tools."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import Storage, build_dialogue, city_clock, open_storage
from bot.channels.console import run_console
from bot.channels.markup import reply_as_plain
from bot.config import MissingSecret as MissingConfigSecret
from bot.config import Settings, load_settings
from bot.core.knowledge import load_knowledge
from bot.core.live import InvalidKnowledge, LiveKnowledge
from bot.core.matching.evaluation import Labelled, predict, score
from bot.core.models import Incoming
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.validation import check
from bot.reminders.backoffice import Backoffice
from bot.reminders.csv_import import Outcome, UnreadableFile, check_client, import_appointments
from bot.runtime import MissingSecret, build_channels, run_channels
from bot.storage.database import make_engine, migrate

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command in ("run",) else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings, errors = load_settings(args.config)
    if settings is None:
        for e in errors:
            print(f"config: {e}", file=sys.stderr)
        return EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    result: int = handler(args, settings)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="buergerbot", description="Bürgerbot: the city's chat contact point")
    p.add_argument("--config", type=Path, default=None, help="TOML config file (default: buergerbot.toml if present)")
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the configured channels (the console when none is configured)")
    run.set_defaults(handler=_cmd_run)

    chat = sub.add_parser("chat", help="chat with the bot in this terminal")
    _knowledge_arg(chat)
    chat.set_defaults(handler=_cmd_chat)

    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=None, default=None, help="language of the question (default: detected)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    _knowledge_arg(ask)
    ask.set_defaults(handler=_cmd_ask)

    ev = sub.add_parser("eval", help="measure the matcher on labelled questions (JSON lines)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--threshold", type=float, default=None)
    _knowledge_arg(ev)
    ev.set_defaults(handler=_cmd_eval)

    faq = sub.add_parser("faq", help="tools for the knowledge files")
    faq_sub = faq.add_subparsers(dest="faq_command")
    val = faq_sub.add_parser("validate", help="check the knowledge files; problems as path:line: message")
    val.add_argument("dirs", nargs="*", type=Path)
    val.add_argument("--quick", action="store_true", help="skip the held-out routing check (ten extra builds)")
    val.set_defaults(handler=_cmd_validate)

    appointments = sub.add_parser("appointments", help="appointments from the city's booking systems")
    appointments_sub = appointments.add_subparsers(dest="appointments_command")
    imp = appointments_sub.add_parser("import", help="create appointments from a CSV file; prints each one's deep link")
    imp.add_argument("file", type=Path, help="CSV (; or ,) with the columns external_ref, starts_at and optionally office, subject, language")
    imp.add_argument("--client", required=True, help="the booking system's name: external_ref is unique per client")
    imp.add_argument("--json", action="store_true", help="one JSON object per row")
    _knowledge_arg(imp)
    imp.set_defaults(handler=_cmd_appointments_import)
    return p


def _knowledge_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faq-dir", type=Path, action="append", default=None, help="knowledge folder (repeatable; default: faq/ and intents/)")


def _dirs(args: argparse.Namespace, settings: Settings) -> list[Path]:
    return list(getattr(args, "faq_dir", None) or settings.knowledge_dirs)


def _live(args: argparse.Namespace, settings: Settings) -> LiveKnowledge | None:
    try:
        return LiveKnowledge(_dirs(args, settings), settings.languages)
    except InvalidKnowledge as exc:
        print("The knowledge files have errors; not starting:", file=sys.stderr)
        for p in exc.problems:
            print(p, file=sys.stderr)
        return None


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    dirs = list(args.dirs) or list(settings.knowledge_dirs)
    checked = check(dirs, settings.languages, held_out=not args.quick)
    for p in sorted(checked.problems, key=lambda p: (p.path, p.line)):
        print(p)
    errors = sum(p.severity == "error" for p in checked.problems)
    warnings = len(checked.problems) - errors
    kb = checked.knowledge
    print(f"{len(kb.entries)} entries, {len(kb.offices)} offices, {len(kb.synonyms)} synonyms: {errors} errors, {warnings} warnings", file=sys.stderr)
    return EXIT_OK if checked.ok else EXIT_PROBLEMS


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    run_console(build_dialogue(settings, live, open_storage(settings)), sys.stdin, sys.stdout, before_each=live.refresh)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not any(p.telegram or p.matrix for p in settings.profiles):
        return _cmd_chat(args, settings)  # no chat channel configured: the console serves
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    try:
        channels = build_channels(settings, live, open_storage(settings))
    except MissingSecret as exc:
        print(f"config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    asyncio.run(run_channels(settings, live, channels))
    return EXIT_OK


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    # A one-off question: nothing about it is stored.
    dialogue = build_dialogue(settings, live, Storage(MemoryUserStates(), MemoryUnansweredLog()))
    snap = live.snapshot
    lang = args.lang or snap.matcher.detect(args.question, settings.default_language)
    result = snap.matcher.match(args.question, lang)
    best = result.best
    answered = best is not None and best.score >= settings.matching.threshold
    replies = dialogue.handle(Incoming(channel="cli", chat_id="cli", text=args.question, language_hint=lang))
    answer = "\n\n".join(reply_as_plain(r) for r in replies)
    if args.json:
        print(json.dumps({
            "id": best.entry_id if answered and best else None,
            "score": round(best.score, 4) if best else 0.0,
            "language": lang,
            "answer": answer,
            "alternatives": [{"id": m.entry_id, "score": round(m.score, 4)} for m in result.matches[1:4]],
        }, ensure_ascii=False))
    else:
        print(answer)
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    items: list[Labelled] = []
    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            items.append(Labelled(str(obj["text"]), obj.get("expect"), obj.get("lang")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            print(f"{args.file}:{no}: not a JSON object with 'text' and 'expect' ({exc})", file=sys.stderr)
            return EXIT_USAGE
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    predictions, ms = predict(live.snapshot.matcher, items)
    threshold = args.threshold if args.threshold is not None else settings.matching.threshold
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


def _cmd_appointments_import(args: argparse.Namespace, settings: Settings) -> int:
    problem = check_client(args.client)
    if problem:
        print(f"--client: {problem}", file=sys.stderr)
        return EXIT_USAGE
    offices = frozenset(load_knowledge(_dirs(args, settings), settings.languages).knowledge.offices)
    try:
        service = Backoffice.from_settings(settings, lambda: offices, city_clock(settings))
    except MissingConfigSecret as exc:
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
    links = " ".join(link.get("url") or link["command"] for link in created.links)
    return f"{outcome.external_ref}: {outcome.status}, token {created.token}, valid until {created.expires_at:%Y-%m-%d %H:%M} UTC {links}".rstrip()
