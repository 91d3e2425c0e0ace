"""Rendering the knowledge files' small Markdown subset (bold, lists, links) for a channel."""

from __future__ import annotations

import html
import re

from bot.core.models import Reply

_LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+|mailto:[^)\s]+|tel:[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def to_plain(text: str) -> str:
    """Markdown subset → plain text: bold markers dropped, links as "label (url)"."""
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) != m.group(2) else m.group(2), text)
    return _BOLD.sub(r"\1", text)


def reply_as_plain(reply: Reply) -> str:
    """A whole reply for a channel without buttons: link buttons as lines, choices numbered."""
    parts = [to_plain(reply.text)]
    if reply.buttons:
        parts.append("\n".join(f"→ {b.label}: {b.url}" for b in reply.buttons if b.url))
    if reply.choices:
        parts.append("\n".join(f"{i}. {c.label}" for i, c in enumerate(reply.choices, 1)))
    return "\n\n".join(p for p in parts if p)


def to_html(text: str) -> str:
    """Markdown subset → the HTML Telegram and Matrix accept, everything else escaped.

    Escaping comes first and markup is rebuilt from the escaped text, so no string from a file
    or a user can inject a tag; only http(s), mailto and tel links become anchors.
    """
    escaped = html.escape(text, quote=False)
    escaped = _LINK.sub(lambda m: f'<a href="{m.group(2).replace(chr(34), "&quot;")}">{m.group(1)}</a>', escaped)
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    return "\n".join("• " + line[2:] if line.startswith("- ") else line for line in escaped.split("\n"))
