"""Rendering the small Markdown subset (bold, lists, links, fenced code blocks) for a channel."""

from __future__ import annotations

import html
import re

from bot.core.models import Reply

_LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)\s]+|mailto:[^)\s]+|tel:[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
# A fenced block (```json … ```), as the dialogue uses for data exports; an unclosed fence stays text.
_FENCE = re.compile(r"```[A-Za-z0-9_-]*\n(.*?)\n?```", re.DOTALL)
_PRE = re.compile(r"(<pre>.*?</pre>)", re.DOTALL)


def _segments(text: str) -> list[tuple[bool, str]]:
    """The text cut into (is_code, part) pieces; code is never read as markup."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _FENCE.finditer(text):
        parts.append((False, text[pos:m.start()]))
        parts.append((True, m.group(1)))
        pos = m.end()
    parts.append((False, text[pos:]))
    return parts


def to_plain(text: str) -> str:
    """Markdown subset → plain text: bold markers dropped, links as "label (url)", code as it is."""
    return "".join(part if code else _plain_inline(part) for code, part in _segments(text))


def _plain_inline(text: str) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})" if m.group(1) != m.group(2) else m.group(2), text)
    return _BOLD.sub(r"\1", text)


def reply_as_plain(reply: Reply) -> str:
    """A whole reply for a channel without buttons: link buttons as lines, choices numbered (the
    number is what the citizen answers with: the dialogue reads "2" as the second choice)."""
    return "\n\n".join(part for part in (to_plain(reply.text), *_button_sections(reply, plain=True)) if part)


def reply_as_html(reply: Reply) -> str:
    """:func:`reply_as_plain` as HTML with line breaks as ``<br>`` (Matrix): link buttons as
    anchors, choices as a numbered list."""
    return "<br><br>".join(part for part in (to_html_lines(reply.text), *_button_sections(reply, plain=False)) if part)


def _button_sections(reply: Reply, *, plain: bool) -> list[str]:
    """The buttons → text fallback, once for every channel that cannot show buttons."""
    links = [button for button in reply.buttons if button.url]
    sections = []
    if links:
        if plain:
            sections.append("\n".join(f"→ {b.label}: {b.url}" for b in links))
        else:
            sections.append("<br>".join(f'→ <a href="{html.escape(b.url or "", quote=True)}">{to_html(b.label)}</a>' for b in links))
    if reply.choices:
        if plain:
            sections.append("\n".join(f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1)))
        else:
            sections.append("<ol>" + "".join(f"<li>{to_html(choice.label)}</li>" for choice in reply.choices) + "</ol>")
    return sections


def to_html(text: str) -> str:
    """Markdown subset → the HTML Telegram and Matrix accept, everything else escaped.

    Escaping comes first and markup is rebuilt from the escaped text, so no string from a file
    or a user can inject a tag; only http(s), mailto and tel links become anchors. Code blocks
    become ``<pre>`` with their content escaped and nothing else.
    """
    return "".join(f"<pre>{html.escape(part, quote=False)}</pre>" if code else _html_inline(part) for code, part in _segments(text))


def to_html_lines(text: str) -> str:
    """:func:`to_html` with line breaks as ``<br>`` (Matrix), except inside ``<pre>``, which keeps them."""
    return "".join(part if part.startswith("<pre>") else part.replace("\n", "<br>") for part in _PRE.split(to_html(text)))


def _html_inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _LINK.sub(lambda m: f'<a href="{m.group(2).replace(chr(34), "&quot;")}">{m.group(1)}</a>', escaped)
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    return "\n".join("• " + line[2:] if line.startswith("- ") else line for line in escaped.split("\n"))


# --- Structured form, for channels that build their own elements (the web widget) -------------

Span = dict[str, str]  # {"t": "text" | "b" | "a", "text": …, "href": … (links only)}
Block = dict[str, object]
_TABLE_RULE = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def to_blocks(text: str) -> list[Block]:
    """Markdown subset → blocks the web widget turns into elements with ``textContent``.

    Paragraphs keep their lines; runs of "- " lines are lists; runs of "|" lines whose second line
    is a rule (``|---|---|``) are tables with a header row. Strings stay unescaped: the widget never
    parses them as HTML, and only http(s), mailto and tel links become ``href``.
    """
    blocks: list[Block] = []
    for code, part in _segments(text):
        if code:
            blocks.append({"type": "pre", "text": part})
            continue
        for paragraph in re.split(r"\n\s*\n", part):
            blocks.extend(_paragraph_blocks([line for line in paragraph.split("\n") if line.strip()]))
    return blocks


def _paragraph_blocks(lines: list[str]) -> list[Block]:
    out: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(spans(lines[i][2:]))
                i += 1
            out.append({"type": "list", "items": items})
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1].strip()):
            head = _cells(line)
            i += 2
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append([spans(c) for c in _cells(lines[i])])
                i += 1
            out.append({"type": "table", "head": [spans(c) for c in head], "rows": rows})
        else:
            start = i
            while i < len(lines) and not lines[i].startswith("- ") and not (
                lines[i].lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1].strip())
            ):
                i += 1
            out.append({"type": "p", "lines": [spans(x) for x in lines[start:i]]})
    return out


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [cell.strip() for cell in inner.split("|")]


def spans(line: str) -> list[Span]:
    """One line of the Markdown subset as text, bold and link spans."""
    out: list[Span] = []
    pos = 0
    for m in _LINK.finditer(line):
        out.extend(_bold_spans(line[pos:m.start()]))
        out.append({"t": "a", "text": m.group(1) or m.group(2), "href": m.group(2)})
        pos = m.end()
    out.extend(_bold_spans(line[pos:]))
    return out


def _bold_spans(text: str) -> list[Span]:
    out: list[Span] = []
    pos = 0
    for m in _BOLD.finditer(text):
        if m.start() > pos:
            out.append({"t": "text", "text": text[pos:m.start()]})
        out.append({"t": "b", "text": m.group(1)})
        pos = m.end()
    if pos < len(text):
        out.append({"t": "text", "text": text[pos:]})
    return out
