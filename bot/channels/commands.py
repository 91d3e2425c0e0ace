"""Commands typed as text ("/termin 3.12. 10:30", "!link <token>"), for channels without a command
entity of their own (Matrix, the console). Telegram marks commands itself."""

from __future__ import annotations

from bot.core.dialogue import COMMANDS

ARGUMENT_LIMIT = 64  # as Telegram's /start payload: longer arguments are never needed


def split_command(text: str) -> tuple[str, str] | None:
    """(command, argument) when ``text`` starts with ! or / and a command the core knows, else None."""
    stripped = text.strip()
    if stripped[:1] not in ("!", "/"):
        return None
    head, *rest = stripped[1:].split(None, 1) or [""]
    if head.lower() not in COMMANDS:
        return None
    return head.lower(), (rest[0].strip() if rest else "")[:ARGUMENT_LIMIT]
