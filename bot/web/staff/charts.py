"""Charts as server-rendered SVG: readable without JavaScript, no chart library to ship.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and ``<desc>`` (the total and the
biggest series, in words), and the page shows the same numbers as a table next to it, so a screen
reader user gets every value. Colours are the Okabe–Ito palette, told apart also with colour
blindness; the legend repeats each series' name with its total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36


def stacked_bars(chart_id: str, title: str, description: str, buckets: Sequence[str], series: Mapping[str, Sequence[int]],
                 every_nth_label: int | None = None) -> Markup:
    """Stacked bars, one per bucket, one colour per series (in the order given)."""
    names = list(series)
    totals = [sum(series[name][i] for name in names) for i in range(len(buckets))]
    top = _nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(buckets), 1)
    bar = max(slot * 0.7, 1.0)
    step = every_nth_label or max(1, len(buckets) // 10)
    out = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
    ]
    for tick in range(5):  # horizontal grid with its values
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#767676" stroke-width="{1 if tick == 0 else 0.3}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#1a1a1a">{value:g}</text>')
    for i, bucket in enumerate(buckets):
        x = LEFT + slot * i + (slot - bar) / 2
        base = float(TOP + plot_h)
        for colour, name in zip(_colours(len(names)), names, strict=True):
            value = series[name][i]
            if not value or not top:
                continue
            h = plot_h * value / top
            base -= h
            out.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                       f'<title>{escape(bucket)}: {escape(name)} {value}</title></rect>')
        if i % step == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" fill="#1a1a1a">{escape(bucket)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def legend(series: Mapping[str, Sequence[int]]) -> list[tuple[str, str, int]]:
    """(colour, name, total) per series, in the chart's order."""
    return [(colour, name, sum(values)) for colour, (name, values) in zip(_colours(len(series)), series.items(), strict=True)]


def _colours(n: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def _nice_ceiling(value: int) -> int:
    """The chart's top: four grid steps of a round size (1, 2, 2.5, 4 or 5 times a power of ten) reaching ``value``."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for factor in (1, 2, 2.5, 4, 5):
            step = factor * magnitude
            if step == int(step) and 4 * step >= value:
                return int(4 * step)
        magnitude *= 10
