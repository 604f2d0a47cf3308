"""Inline SVG: tile sparklines and the metric page's history chart, drawn server-side, no JS library.

Colours come in as the status words the core decided ("red", "amber", ...); CSS classes paint them.
Every number written into the markup is a float we formatted, so nothing from a metric's text reaches SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from heartbeat_core.formatting import format_number


def _scale(lo: float, hi: float, pad: float = 0.08) -> tuple[float, float]:
    if hi == lo:
        spread = abs(hi) * 0.1 or 1.0
        return lo - spread, hi + spread
    span = hi - lo
    return lo - span * pad, hi + span * pad


def sparkline(
    points: Sequence[float | None], status: str = "green", width: int = 100, height: int = 28
) -> Markup:
    """A polyline of the last values; gaps (failed days) break the line; the last value gets a dot."""
    values = [p for p in points if p is not None]
    if len(values) < 2:
        return Markup(
            f'<svg class="spark spark-{escape(status)}" viewBox="0 0 {width} {height}" '
            'preserveAspectRatio="none" aria-hidden="true"></svg>'
        )
    lo, hi = _scale(min(values), max(values))
    step = width / max(len(points) - 1, 1)
    segments: list[list[str]] = [[]]
    last: tuple[float, float] | None = None
    for i, p in enumerate(points):
        if p is None:
            if segments[-1]:
                segments.append([])
            continue
        x = i * step
        y = height - (p - lo) / (hi - lo) * height
        segments[-1].append(f"{x:.1f},{y:.1f}")
        last = (x, y)
    lines = "".join(
        f'<polyline points="{" ".join(seg)}" vector-effect="non-scaling-stroke"/>' for seg in segments if seg
    )
    area = ""
    first_seg = [s for s in segments if len(s) > 1]
    if len(first_seg) == 1:
        seg = first_seg[0]
        x0 = seg[0].split(",")[0]
        x1 = seg[-1].split(",")[0]
        area = f'<polygon class="area" points="{x0},{height} {" ".join(seg)} {x1},{height}"/>'
    dot = ""
    if last is not None:
        dot = (
            f'<line class="now" x1="{last[0]:.1f}" y1="{last[1]:.1f}" x2="{last[0]:.1f}" y2="{last[1]:.1f}" '
            'vector-effect="non-scaling-stroke"/>'
        )
    return Markup(
        f'<svg class="spark spark-{escape(status)}" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'aria-hidden="true">{area}{lines}{dot}</svg>'
    )


def history_chart(
    dates: Sequence[date],
    values: Sequence[float | None],
    statuses: Sequence[str],
    *,
    unit: str,
    norm: Sequence[float | None],
    alert: Sequence[float | None],
    band: Sequence[tuple[float, float] | None],
    target: float | None = None,
    width: int = 960,
    height: int = 320,
) -> Markup:
    """Value over time with the norm (amber) and alert (red) lines in force each day and the typical band."""
    if not dates:
        return Markup('<p class="muted">No history yet.</p>')
    left, right, top, bottom = 70, 12, 12, 28
    w, h = width - left - right, height - top - bottom
    pool: list[float] = [v for v in values if v is not None]
    pool += [v for v in norm if v is not None] + [v for v in alert if v is not None]
    pool += [x for pair in band if pair for x in pair]
    if target is not None:
        pool.append(target)
    if not pool:
        return Markup('<p class="muted">No values in the history yet.</p>')
    lo, hi = _scale(min(pool), max(pool))
    n = len(dates)

    def x(i: int) -> float:
        return left + (i * w / (n - 1) if n > 1 else w / 2)

    def y(v: float) -> float:
        return top + h - (v - lo) / (hi - lo) * h

    parts: list[str] = []
    # typical band: a polygon over days that have one
    upper = [(x(i), y(b[1])) for i, b in enumerate(band) if b]
    lower = [(x(i), y(b[0])) for i, b in reversed(list(enumerate(band))) if b]
    if len(upper) > 1:
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower)
        parts.append(f'<polygon class="band" points="{pts}"><title>typical band (μ ± σ)</title></polygon>')

    def step_line(series: Sequence[float | None], cls: str, label: str) -> None:
        seg: list[str] = []
        for i, v in enumerate(series):
            if v is None:
                if len(seg) > 1:
                    parts.append(f'<polyline class="{cls}" points="{" ".join(seg)}"/>')
                seg = []
                continue
            seg.append(f"{x(i):.1f},{y(v):.1f}")
        if len(seg) == 1:
            seg.append(f"{x(n - 1) + 0.1:.1f},{seg[0].split(',')[1]}")
        if len(seg) > 1:
            parts.append(
                f'<polyline class="{cls}" points="{" ".join(seg)}"><title>{label}</title></polyline>'
            )

    step_line(norm, "line-norm", "norm line")
    step_line(alert, "line-alert", "alert line")
    if target is not None:
        parts.append(
            f'<line class="line-target" x1="{left}" x2="{left + w}" y1="{y(target):.1f}" y2="{y(target):.1f}">'
            "<title>target</title></line>"
        )
    seg = []
    for i, v in enumerate(values):
        if v is None:
            if len(seg) > 1:
                parts.append(f'<polyline class="series" points="{" ".join(seg)}"/>')
            seg = []
            continue
        seg.append(f"{x(i):.1f},{y(v):.1f}")
    if len(seg) > 1:
        parts.append(f'<polyline class="series" points="{" ".join(seg)}"/>')
    dots = max(1, n // 120)
    for i, (v, st) in enumerate(zip(values, statuses, strict=False)):
        if v is None or (i % dots and i != n - 1):
            continue
        parts.append(
            f'<circle class="pt pt-{escape(st)}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3">'
            f"<title>{dates[i].isoformat()}: {escape(format_number(v, unit))} ({escape(st)})</title></circle>"
        )
    # axes: min / max / mid labels, first / middle / last dates
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<text class="axis" x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">'
            f"{escape(format_number(v, unit))}</text>"
            f'<line class="grid" x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
        )
    for i in sorted({0, n // 2, n - 1}):
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">{dates[i].isoformat()}</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="history">{"".join(parts)}</svg>'
    )
