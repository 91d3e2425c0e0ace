"""Splitting long answers into messages a channel accepts, at paragraph boundaries."""

from __future__ import annotations

from collections.abc import Callable


def split_message(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Chunks of ``text`` whose measured size stays ≤ ``limit``.

    Paragraphs (blank-line separated) stay whole where they fit, then lines, and only a single
    over-long line is cut hard. ``measure`` lets a channel count its rendered form (e.g. HTML).
    """
    if measure(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit, measure):
        candidate = f"{current}\n\n{piece}" if current else piece
        if measure(candidate) <= limit:
            current = candidate
        else:
            if current:
                chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks or [""]


def _pieces(text: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    out: list[str] = []
    for para in text.split("\n\n"):
        if measure(para) <= limit:
            out.append(para)
            continue
        line_block = ""
        for line in para.split("\n"):
            while measure(line) > limit:
                cut = _hard_cut(line, limit, measure)
                if line_block:
                    out.append(line_block)
                    line_block = ""
                out.append(line[:cut])
                line = line[cut:]
            candidate = f"{line_block}\n{line}" if line_block else line
            if measure(candidate) <= limit:
                line_block = candidate
            else:
                out.append(line_block)
                line_block = line
        if line_block:
            out.append(line_block)
    return out


def _hard_cut(line: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix that fits, preferably ending at a space."""
    lo, hi = 1, len(line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(line[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    space = line.rfind(" ", 0, lo)
    return space + 1 if space > lo // 2 else lo
