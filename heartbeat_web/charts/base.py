"""The pieces every server-side chart is built from: value ranges and ticks, linear scales, number and date
labels, and the SVG fragments (root, lines, polylines, axis labels, legend).

Coordinates are written one way everywhere (`_n`: integers as they are, computed values to one decimal) and
every text goes through `escape`, so nothing from a metric's or a cut's text becomes markup.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal, TypeVar

from markupsafe import Markup, escape

from heartbeat_core.formatting import format_iso_day, format_number

T = TypeVar("T")
Point = tuple[float, float]
Anchor = Literal["start", "middle", "end"]

PALETTE = 12  # series colour classes c0…c11 (audit.css)


@dataclass(frozen=True)
class AsOf:
    """When and where a page is drawn: table cells that are moments or dates read relative to it."""

    now: datetime
    tz: tzinfo


# ------------------------------------------------------------------------------------- ranges and scales


def padded_range(lo: float, hi: float, pad: float = 0.08) -> tuple[float, float]:
    """The value range a line chart draws: the data's range with a margin, never empty."""
    if hi == lo:
        spread = abs(hi) * 0.1 or 1.0
        return lo - spread, hi + spread
    span = hi - lo
    return lo - span * pad, hi + span * pad


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (steps of 1, 2, 2.5, 5 × 10ⁿ) from below `lo` to at least `hi`."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), 10 * magnitude)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi and len(ticks) < 12:  # the last tick covers the highest value
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


@dataclass(frozen=True)
class Scale:
    """Maps values in [lo, hi] onto `length` pixels from `start`; `upward` for y axes (larger is higher)."""

    lo: float
    hi: float
    start: float
    length: float
    upward: bool = False

    @property
    def span(self) -> float:
        return (self.hi - self.lo) or 1.0

    def __call__(self, value: float) -> float:
        offset = (value - self.lo) / self.span * self.length
        return self.start + self.length - offset if self.upward else self.start + offset


def index_scale(n: int, start: float, length: float, *, single: float = 0.0) -> Scale:
    """Positions of `n` evenly spaced points (days, categories); a lone point sits at `single` of the way."""
    if n > 1:
        return Scale(0, n - 1, start, length)
    return Scale(-single, 1 - single, start, length)


def runs(items: Iterable[T | None]) -> list[list[T]]:
    """The unbroken stretches of a series: a None (a failed day, a missing value) breaks the line."""
    out: list[list[T]] = [[]]
    for item in items:
        if item is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(item)
    return [run for run in out if run]


# ------------------------------------------------------------------------------------------------ labels


def value_label(value: float | None, unit: str | None) -> str:
    """A number as every chart labels it (ticks, tooltips, bar values): unit-aware, `—` for none."""
    if value is None:
        return "—"
    return format_number(value, unit or "count")


def truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def tick_label(text: str) -> str:
    """Category axis labels: ISO dates as `2 Nov`, anything else truncated."""
    return truncate(format_iso_day(text), 12)


def series_class(i: int, tone: str | None = None) -> str:
    """Colour classes of the i-th series: its palette slot, and its tone (good, bad, ...) when it has one."""
    return f"c{i % PALETTE} t-{tone}" if tone else f"c{i % PALETTE}"


# ------------------------------------------------------------------------------------------ SVG fragments


def _n(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def points_attr(points: Sequence[Point]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _title(title: str | None) -> str:
    return "" if title is None else f"<title>{escape(title)}</title>"


def _close(name: str, title: str | None) -> str:
    return "/>" if title is None else f">{_title(title)}</{name}>"


def svg_root(width: int, height: int, body: str, *, cls: str, label: str, titled: bool = False) -> Markup:
    """The chart's `<svg>`: scales with its container; `titled` repeats the label as a tooltip title."""
    title = _title(label) if titled else ""
    return Markup(
        f'<svg class="{cls}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"{title}{body}</svg>"
    )


def line(cls: str, x1: float, y1: float, x2: float, y2: float, title: str | None = None) -> str:
    return (
        f'<line class="{cls}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"{_close("line", title)}'
    )


def polyline(cls: str, points: Sequence[Point], title: str | None = None) -> str:
    return f'<polyline class="{cls}" points="{points_attr(points)}"{_close("polyline", title)}'


def polygon(cls: str, points: Sequence[Point], title: str | None = None) -> str:
    return f'<polygon class="{cls}" points="{points_attr(points)}"{_close("polygon", title)}'


def rect(cls: str, x: float, y: float, width: float, height: float, title: str | None = None,
         *, rx: float | None = None) -> str:  # fmt: skip
    rounded = "" if rx is None else f' rx="{_n(rx)}"'
    return (
        f'<rect class="{cls}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}"{rounded}'
        f"{_close('rect', title)}"
    )


def circle(cls: str, x: float, y: float, r: float, title: str | None = None) -> str:
    return f'<circle class="{cls}" cx="{x:.1f}" cy="{y:.1f}" r="{r}"{_close("circle", title)}'


def text(cls: str, x: float, y: float, content: str | Markup, anchor: Anchor | None = None) -> str:
    """A text label; `content` is escaped unless it is already markup (a `<tspan>` note)."""
    where = f' text-anchor="{anchor}"' if anchor else ""
    return f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}"{where}>{escape(content)}</text>'


def value_gridlines(ticks: Iterable[float], y: Scale, x1: float, x2: float, unit: str, gap: int) -> str:
    """A horizontal grid line per tick, labelled left of the plot (`gap` pixels from it)."""
    return "".join(
        line("grid", x1, y(t), x2, y(t)) + text("axis", x1 - gap, y(t) + 4, value_label(t, unit), "end")
        for t in ticks
    )


def group(title: str, body: str) -> str:
    """Elements that share one tooltip (a bar with its labels)."""
    return f"<g>{_title(title)}{body}</g>"


def axis_title(x: float, y: float, content: str) -> str:
    return text("axis-title", x, y, content, "middle")


def legend(
    names: Sequence[str], tones: Sequence[str | None] = (), extra: Sequence[tuple[str, str]] = ()
) -> Markup:
    """Swatches for the series (palette and tone classes) and line marks for reference lines and bands."""
    classes = [series_class(i, tones[i] if i < len(tones) else None) for i in range(len(names))]
    items = "".join(
        f'<span><i class="sw {c}"></i>{escape(n)}</span>' for c, n in zip(classes, names, strict=True)
    )
    items += "".join(f'<span><i class="lg {cls}"></i>{escape(label)}</span>' for cls, label in extra)
    return Markup(f'<p class="legend audit-legend">{items}</p>')


def muted(message: str) -> Markup:
    """What a chart shows instead of itself (no data yet, nothing in the window)."""
    return Markup(f'<p class="muted">{message}</p>')
