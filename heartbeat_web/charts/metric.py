"""A metric's charts: the tile sparkline and the metric page's history chart.

Colours come in as the status words the core decided ("red", "amber", ...); CSS classes paint them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from heartbeat_core.formatting import format_day
from heartbeat_core.readmodel.status import Status
from heartbeat_web.charts.base import (
    Anchor,
    Scale,
    circle,
    index_scale,
    line,
    muted,
    padded_range,
    points_attr,
    polygon,
    polyline,
    runs,
    svg_root,
    text,
    value_gridlines,
    value_label,
)

Band = tuple[float, float]  # low, high of the typical band on one day


def sparkline(
    points: Sequence[float | None], status: Status = "green", width: int = 100, height: int = 28
) -> Markup:
    """The last values as a line; gaps (failed days) break it; the last value gets a dot."""
    head = (
        f'<svg class="spark spark-{escape(status)}" viewBox="0 0 {width} {height}" preserveAspectRatio="none"'
    )
    values = [p for p in points if p is not None]
    if len(values) < 2:
        return Markup(f'{head} aria-hidden="true"></svg>')
    # the history chart's axis rule: values that never go below zero get no negative room, so the shaded
    # area stops at the zero line; a pixel of margin keeps a line at either edge whole
    x, y = index_scale(len(points), 0, width), Scale(*history_range(values, []), 1, height - 2, True)
    stretches = runs(None if p is None else (x(i), y(p)) for i, p in enumerate(points))
    lines = "".join(
        f'<polyline points="{points_attr(run)}" vector-effect="non-scaling-stroke"/>' for run in stretches
    )
    drawn = [run for run in stretches if len(run) > 1]
    area = ""
    if len(drawn) == 1:  # shaded underneath only while the line is in one piece
        floor = y(y.lo)
        area = polygon("area", [(drawn[0][0][0], floor), *drawn[0], (drawn[0][-1][0], floor)])
    last_x, last_y = stretches[-1][-1]
    dot = (
        f'<line class="now" x1="{last_x:.1f}" y1="{last_y:.1f}" x2="{last_x:.1f}" y2="{last_y:.1f}" '
        'vector-effect="non-scaling-stroke"/>'
    )
    return Markup(f'{head} aria-hidden="true">{area}{lines}{dot}</svg>')


def _step_line(series: Sequence[float | None], x: Scale, y: Scale, cls: str, label: str) -> str:
    """A threshold as it was in force each day; a line still in force today carries its name."""
    stretches = runs(None if v is None else (i, v) for i, v in enumerate(series))
    in_force = bool(series) and series[-1] is not None
    out = []
    for k, run in enumerate(stretches):
        points = [(x(i), y(v)) for i, v in run]
        current = in_force and k == len(stretches) - 1
        if current and len(points) == 1:  # set only today: a stub, so it still shows
            points.append((x(len(series) - 1) + 0.1, points[0][1]))
        if len(points) > 1:
            out.append(polyline(cls, points, label if current else None))
    return "".join(out)


def _values(dates: Sequence[date], values: Sequence[float | None], statuses: Sequence[str], x: Scale,
            y: Scale, unit: str, today: date) -> str:  # fmt: skip
    """The value line (broken at failed days) and a dot per day in its colour (thinned past 120 days)."""
    stretches = runs(None if v is None else (x(i), y(v)) for i, v in enumerate(values))
    out = [polyline("series", run) for run in stretches if len(run) > 1]
    n, every = len(dates), max(1, len(dates) // 120)
    for i, (v, st) in enumerate(zip(values, statuses, strict=False)):
        if v is None or (i % every and i != n - 1):
            continue
        tip = f"{format_day(dates[i], today)}: {value_label(v, unit)} ({st})"
        out.append(circle(f"pt pt-{escape(st)}", x(i), y(v), 3, tip))
    return "".join(out)


def history_range(real: Sequence[float], derived: Sequence[float]) -> tuple[float, float]:
    """The history chart's value axis: `real` values and lines with the `derived` μ ± σ band, padded.

    Floored at 0 when no real value is negative: a count, an amount or a share that never went below zero
    gets no negative axis from its band's μ − σ or from the padding (a real negative keeps its room)."""
    pool = [*real, *derived]
    if not real or min(real) < 0:
        return padded_range(min(pool), max(pool))
    pool = [max(v, 0.0) for v in pool]
    lo, hi = padded_range(min(pool), max(pool))
    return max(lo, 0.0), hi


def history_chart(
    dates: Sequence[date],
    values: Sequence[float | None],
    statuses: Sequence[str],
    *,
    unit: str,
    norm: Sequence[float | None],
    alert: Sequence[float | None],
    band: Sequence[Band | None],
    target: float | None = None,
    today: date | None = None,
    width: int = 960,
    height: int = 320,
) -> Markup:
    """Value over time with the norm (amber) and alert (red) lines in force each day and the typical band.

    Days read as people read them relative to `today` (`2 Sep (91 d ago)`), by default the last day drawn."""
    if not dates:
        return muted("No history yet.")
    real = [v for series in (values, norm, alert) for v in series if v is not None]
    real += [] if target is None else [target]
    typical = [v for pair in band if pair for v in pair]
    if not real and not typical:
        return muted("No values in the history yet.")
    left, right, top, bottom = 90, 12, 12, 28  # room for a money tick label (`EUR -5,036`)
    w, h, n = width - left - right, height - top - bottom, len(dates)
    lo, hi = history_range(real, typical)
    band = [None if b is None else (max(b[0], lo), max(b[1], lo)) for b in band]  # cut at a floor of 0
    x, y = index_scale(n, left, w, single=0.5), Scale(lo, hi, top, h, upward=True)
    upper = [(x(i), y(b[1])) for i, b in enumerate(band) if b]
    lower = [(x(i), y(b[0])) for i, b in reversed(list(enumerate(band))) if b]
    parts = [polygon("band", upper + lower, "typical band (μ ± σ)")] if len(upper) > 1 else []
    parts += [
        _step_line(norm, x, y, "line-norm", "norm line"),
        _step_line(alert, x, y, "line-alert", "alert line"),
    ]
    if target is not None:
        parts.append(line("line-target", left, y(target), left + w, y(target), "target"))
    today = today or dates[-1]
    parts.append(_values(dates, values, statuses, x, y, unit, today))
    parts.append(value_gridlines((lo, (lo + hi) / 2, hi), y, left, left + w, unit, gap=8))
    for i in sorted({0, n // 2, n - 1}):
        anchor: Anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(text("axis", x(i), height - 8, format_day(dates[i], today), anchor))
    return svg_root(width, height, "".join(parts), cls="chart", label="history")
