"""`buergerbot` command line: run, chat, ask, eval and the staff's faq tools."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import Storage, build_dialogue, open_storage
from bot.channels.console import run_console
from bot.channels.markup import reply_as_plain
from bot.config import Settings, load_settings
from bot.core.live import InvalidKnowledge, LiveKnowledge
from bot.core.matching.evaluation import Labelled, predict, score
from bot.core.models import Incoming
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.core.validation import check
from bot.credentials import check_secrets, log_pseudonym_key
from bot.ops.config_check import check_config, effective_lines
from bot.ops.logs import configure_logging
from bot.ops.metrics import Metrics
from bot.runtime import build_channels, run_channels

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    settings, errors = load_settings(args.config)
    if handler is _cmd_config_check:
        return _cmd_config_check(settings, errors)
    if settings is None:
        for e in errors:
            print(f"config: {e}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(args.log_format or settings.log_format, logging.INFO if args.command == "run" else logging.WARNING, log_pseudonym_key(settings))
    result: int = handler(args, settings)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="buergerbot", description="Bürgerbot: the city's chat contact point")
    p.add_argument("--config", type=Path, default=None, help="TOML config file (default: buergerbot.toml if present)")
    p.add_argument("--log-format", choices=("auto", "text", "json"), default=None,
                   help="log lines as text or one JSON object each (default: the config's log_format; auto = text in a terminal)")
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the configured channels (the console when none is configured)")
    run.add_argument("--profile", action="append", default=None, metavar="NAME",
                     help="serve only this profile (repeatable): one worker process per profile or group of profiles")
    run.set_defaults(handler=_cmd_run)

    config = sub.add_parser("config", help="tools for the configuration")
    config_sub = config.add_subparsers(dest="config_command")
    config_check = config_sub.add_parser("check", help="print the effective configuration (secrets masked) and every error; exit 2 on errors")
    config_check.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML config file")
    config_check.set_defaults(handler=_cmd_config_check)

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


def _cmd_config_check(settings: Settings | None, load_errors: list[str]) -> int:
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
    for n in findings.notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"{len(findings.errors)} errors, {len(findings.notes)} notes", file=sys.stderr)
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


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    selected = _only_profiles(settings, args.profile)
    if selected is None:
        return EXIT_USAGE
    settings = selected
    if not any(p.telegram or p.matrix for p in settings.profiles):
        return _cmd_chat(args, settings)  # no chat channel configured: the console serves
    refused = check_secrets(settings).errors
    for e in refused:
        print(f"config: {e}", file=sys.stderr)
    if refused:
        return EXIT_USAGE
    live = _live(args, settings)
    if live is None:
        return EXIT_PROBLEMS
    try:
        storage = open_storage(settings)
        metrics = Metrics()
        channels = build_channels(settings, live, storage, metrics)
        asyncio.run(run_channels(settings, live, channels, storage=storage, metrics=metrics))
    except Exception as exc:  # a wrong token, an unreachable database, a port in use: one clear line, then out
        log.error("the bot stopped: %s: %s", type(exc).__name__, exc)
        log.debug("where it stopped", exc_info=True)
        return EXIT_PROBLEMS
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
