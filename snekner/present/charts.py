"""Inline SVG charts for the report: lines per epoch (training curves) and differences with their intervals.

Plain SVG text, no library and nothing fetched: a chart is part of the page it sits in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from snekner.present.html import esc

AXIS = "#888"
GRID = "#eee"
FONT = 'font-family="inherit" font-size="12"'


@dataclass
class Series:
    """One line: (x, y) points (x: the epoch), its colour, and whether it stands out (thicker, drawn on top)."""

    name: str
    points: list[tuple[float, float]]
    color: str
    bold: bool = False


@dataclass
class Interval:
    """A difference to the baseline with its interval (low, high: None without a bootstrap)."""

    label: str
    delta: float
    low: float | None = None
    high: float | None = None
    significant: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not high > low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks, value = [], first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: float) -> str:
    return f"{value:.10g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def line_chart(title: str, series: list[Series], y_label: str, y_range: tuple[float, float] | None = None,
               x_label: str = "epoch") -> str:
    """Lines over integer x (epochs) with points marked (a one-epoch run is a dot), a legend on the right."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return f'<p class="note">{esc(title)}: nothing to draw</p>'
    xs = [x for s in drawn for x, _ in s.points]
    ys = [y for s in drawn for _, y in s.points]
    y_ticks = nice_ticks(*(y_range or (min(0.0, min(ys)), max(ys))))
    x_max = max(xs)
    x_ticks = list(range(1, int(x_max) + 1)) if x_max <= 20 else nice_ticks(1, x_max)
    left, right, top, bottom, plot_w = 56, 150, 28, 42, 340
    plot_h = max(190, 16 * len(drawn) - 10)
    width, height = left + plot_w + right, top + plot_h + bottom
    x0, x1 = min(x_ticks[0], min(xs)), max(x_ticks[-1], x_max)
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (plot_w / 2 if x1 == x0 else (x - x0) / (x1 - x0) * plot_w)

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    out = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>',
           f'<text x="{left}" y="16" {FONT} font-weight="bold">{esc(title)}</text>']
    for y in y_ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end" {FONT} fill="#555">{esc(_number(y))}</text>')
    for x in x_ticks:
        out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle" {FONT} fill="#555">{esc(_number(x))}</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>'
               f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{AXIS}"/>'
               f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" {FONT} fill="#555">{esc(x_label)}</text>'
               f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" {FONT} fill="#555" '
               f'transform="rotate(-90 14 {top + plot_h / 2})">{esc(y_label)}</text>')
    def stroke(s: Series) -> str:
        return f'stroke="{esc(s.color)}" stroke-width="{3 if s.bold else 1.8}"'

    for s in sorted(drawn, key=lambda s: s.bold):  # bold lines last: on top where lines meet
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        out.append(f'<g class="series" data-name="{esc(s.name)}"><polyline fill="none" {stroke(s)} points="{points}"/>'
                   + "".join(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{3.5 if s.bold else 2.8}" fill="{esc(s.color)}">'
                             f'<title>{esc(s.name)}, {esc(x_label)} {esc(_number(x))}: {y:.4f}</title></circle>' for x, y in s.points)
                   + "</g>")
    for i, s in enumerate(drawn):
        ly = top + 6 + 16 * i
        out.append(f'<line x1="{left + plot_w + 14}" x2="{left + plot_w + 34}" y1="{ly}" y2="{ly}" {stroke(s)}/>'
                   f'<text x="{left + plot_w + 40}" y="{ly + 4}" {FONT}>{esc(s.name)}</text>')
    out.append("</svg>")
    return "".join(out)


def interval_chart(title: str, rows: list[Interval]) -> str:
    """Each row's difference as a dot on its interval's line, around a zero line; dark: the interval excludes 0."""
    if not rows:
        return f'<p class="note">{esc(title)}: nothing to draw</p>'
    extent = max([abs(v) for r in rows for v in (r.delta, r.low, r.high) if v is not None] + [0.01])
    ticks = nice_ticks(-extent, extent)
    lo, hi = ticks[0], ticks[-1]
    left = 16 + 7 * max(len(r.label) for r in rows)  # room for the longest label at 12px
    plot_w, right, top, row_h = 360, 210, 30, 24
    width, height = left + plot_w + right, top + row_h * len(rows) + 30

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    out = [f'<svg class="chart intervals" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>',
           f'<text x="8" y="16" {FONT} font-weight="bold">{esc(title)}</text>']
    bottom = top + row_h * len(rows)
    for t in ticks:
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{bottom}" stroke="{AXIS if t == 0 else GRID}"/>'
                   f'<text x="{px(t):.1f}" y="{bottom + 16}" text-anchor="middle" {FONT} fill="#555">{esc(f"{t:+.2g}" if t else "0")}</text>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        color = "#1f4e9c" if r.significant else "#999"
        out.append(f'<text x="{left - 10}" y="{y + 4}" text-anchor="end" {FONT}>{esc(r.label)}</text>')
        if r.low is not None and r.high is not None:
            out.append(f'<line x1="{px(r.low):.1f}" x2="{px(r.high):.1f}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="3"/>')
            shown = f"{r.delta:+.4f} [{r.low:+.4f}, {r.high:+.4f}]" + (" *" if r.significant else "")
        else:
            shown = f"{r.delta:+.4f}"
        out.append(f'<circle cx="{px(r.delta):.1f}" cy="{y}" r="5" fill="{color}"><title>{esc(r.label)}: {esc(shown)}</title></circle>'
                   f'<text x="{left + plot_w + 10}" y="{y + 4}" {FONT} fill="#333">{esc(shown)}</text>')
    out.append("</svg>")
    return "".join(out)
