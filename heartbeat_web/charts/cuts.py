"""Audit cut charts: a snapshot's payload, parsed into its kind's model, drawn as inline SVG (bar, line,
stacked, funnel) or an HTML table (table, heat_table).

Series colours are CSS classes (`c0`…`c11`, plus `t-<tone>`), reference lines `line-norm` / `line-alert` /
`line-target` and the typical band `band`, as on the metric page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError

from heartbeat_core.audit.payloads import (
    BarPayload,
    FunnelPayload,
    HeatTablePayload,
    LinePayload,
    Lines,
    Series,
    StackedPayload,
    TablePayload,
)
from heartbeat_core.formatting import format_iso_day
from heartbeat_web.charts.base import (
    AsOf,
    Scale,
    axis_title,
    circle,
    group,
    index_scale,
    legend,
    line,
    muted,
    nice_ticks,
    polyline,
    rect,
    runs,
    series_class,
    svg_root,
    text,
    tick_label,
    truncate,
    value_gridlines,
    value_label,
)
from heartbeat_web.charts.tables import heat_table, table

W = 760  # every cut chart's viewBox width; CSS scales it to the card
EMPTY = "Nothing to show in this window."
Ref = tuple[str, str, float]  # css key, label, value of a reference line
M = TypeVar("M", bound=BaseModel)


def _svg(height: int, body: str, title: str) -> Markup:
    return svg_root(W, height, body, cls="chart audit-chart", label=title, titled=True)


def _ref_lines(lines: Lines) -> list[Ref]:
    found = (("norm", lines.norm), ("alert", lines.alert), ("target", lines.target))
    return [(key, key, float(v)) for key, v in found if v is not None]


def _ref_legend(refs: list[Ref], unit: str) -> list[tuple[str, str]]:
    return [(key, f"{label} {value_label(v, unit)}") for key, label, v in refs]


def _valued(content: str, note: str | None) -> Markup:
    """A value label with an optional muted note after it."""
    tail = Markup('<tspan class="note"> {}</tspan>').format(note) if note else Markup("")
    return escape(content) + tail


def bar(p: BarPayload, title: str) -> Markup:
    """Horizontal bars from zero, longest first as the cut ordered them, with vertical reference lines."""
    if not p.bars:
        return muted(EMPTY)
    unit, refs = p.unit or "count", _ref_lines(p.lines)
    left, right, row_h, top = 170, 150, 26, 10
    values = [b.value for b in p.bars] + [v for _, _, v in refs]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values), 5)
    lo, hi = min(0.0, *values, ticks[0]), max(0.0, *values, ticks[-1])
    plot_w, bottom = W - left - right, top + row_h * len(p.bars)
    height, x = bottom + 34, Scale(lo, hi, left, plot_w)
    parts = [
        line("grid", x(t), top, x(t), bottom)
        + text("axis", x(t), bottom + 16, value_label(t, unit), "middle")
        for t in ticks
    ]
    for i, b in enumerate(p.bars):
        y = top + i * row_h
        x0, x1 = sorted((x(0), x(b.value)))
        shown = value_label(b.value, unit)
        tip = f"{b.label}: {shown}" + (f" · {b.note}" if b.note else "")
        body = text("lab", left - 8, y + row_h * 0.65, truncate(b.label, 24), "end")
        body += rect("bar hl" if b.highlight else "bar", x0, y + 4, max(x1 - x0, 1), row_h - 8)
        body += text("val", x1 + 6, y + row_h * 0.65, _valued(shown, b.note and truncate(b.note, 34)))
        parts.append(group(tip, body))
    for key, label, v in refs:
        parts.append(line(f"line-{key}", x(v), top - 4, x(v), bottom, f"{label} {value_label(v, unit)}"))
    if p.x_label:
        parts.append(axis_title(left + plot_w / 2, height - 2, p.y_label or p.x_label))
    return _svg(height, "".join(parts), title) + (legend([], extra=_ref_legend(refs, unit)) if refs else "")


def _series(
    s: Series, cls: str, at: Callable[[str, float], tuple[float, float]], unit: str, dots: bool
) -> str:
    """One series: its line, broken where a point has no value, and a dot with a tooltip per value."""
    placed = [None if pt.y is None else (pt, *at(pt.x, pt.y)) for pt in s.points]
    out = [polyline(f"ser {cls}", [(px, py) for _, px, py in run]) for run in runs(placed) if len(run) > 1]
    if dots:
        out += [
            circle(f"dot {cls}", px, py, 2.2, f"{s.name} {format_iso_day(pt.x)}: {value_label(pt.y, unit)}")
            for pt, px, py in (p for p in placed if p is not None)
        ]
    return "".join(out)


def line_chart(p: LinePayload, title: str) -> Markup:
    """Series over shared x values (dates or labels) with reference lines and the typical band."""
    xs = list(dict.fromkeys(pt.x for s in p.series for pt in s.points))
    if not xs:
        return muted(EMPTY)
    unit, refs, band = p.unit or "count", _ref_lines(p.lines), p.lines.band
    values = [pt.y for s in p.series for pt in s.points if pt.y is not None] + [v for _, _, v in refs]
    values += [band.low, band.high] if band else []
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    lo = min(lo, 0.0) if lo >= 0 and lo < (hi - lo) * 0.6 else lo  # start at zero unless that flattens it
    ticks = nice_ticks(lo, hi, 5)
    left, right, top, bottom, height = 84, 16, 12, 40, 280
    plot_w, plot_h = W - left - right, height - top - bottom
    x, y = index_scale(len(xs), left, plot_w), Scale(ticks[0], ticks[-1], top, plot_h, upward=True)
    parts = [value_gridlines(ticks, y, left, W - right, unit, gap=6)]
    parts += [
        text("axis", x(i), top + plot_h + 16, tick_label(xs[i]), "middle")
        for i in range(0, len(xs), max(1, math.ceil(len(xs) / 8)))
    ]
    if band:
        tip = f"{band.label or 'typical'}: {value_label(band.low, unit)}–{value_label(band.high, unit)}"
        y0, y1 = y(band.high), y(band.low)
        parts.append(rect("band", left, y0, plot_w, max(y1 - y0, 1), tip))
    for key, label, v in refs:
        parts.append(line(f"line-{key}", left, y(v), W - right, y(v), f"{label} {value_label(v, unit)}"))
    index = {v: i for i, v in enumerate(xs)}
    for si, s in enumerate(p.series):
        parts.append(
            _series(s, series_class(si, s.tone), lambda key, v: (x(index[key]), y(v)), unit, len(xs) <= 120)
        )
    if p.x_label:
        parts.append(axis_title(left + plot_w / 2, height - 4, p.x_label))
    extra = _ref_legend(refs, unit) + ([("band", band.label or "typical")] if band else [])
    return _svg(height, "".join(parts), title) + legend(
        [s.name for s in p.series], [s.tone for s in p.series], extra
    )


def _stack(p: StackedPayload, i: int, y: Scale, cx: float, bw: float, total: float) -> str:
    """One category's column: its series' segments bottom-up, each with its share in the tooltip."""
    out, base = [], 0.0
    for si, s in enumerate(p.series):
        v = s.values[i]
        if v <= 0:
            continue
        share = 100 * v / total if total else 0.0
        height = share if p.percent else v
        y0, y1 = y(base + height), y(base)
        tip = f"{s.name} · {format_iso_day(p.categories[i])}: {value_label(v, p.unit)}" + (
            f" ({share:.1f}%)" if total else ""
        )
        out.append(rect(f"seg {series_class(si, s.tone)}", cx - bw / 2, y0, bw, max(y1 - y0, 0.5), tip))
        base += height
    return "".join(out)


def stacked(p: StackedPayload, title: str) -> Markup:
    """Stacked columns per category (or 100 % columns), totals on top while they fit."""
    cats, unit = p.categories, p.unit or "count"
    if not cats:
        return muted(EMPTY)
    totals = [sum(s.values[i] for s in p.series) for i in range(len(cats))]
    ticks = nice_ticks(0.0, 100.0 if p.percent else max(max(totals), 1e-9), 5)
    left, right, top, bottom, height = 84, 16, 12, 48, 290
    plot_w, plot_h = W - left - right, height - top - bottom
    slot = plot_w / len(cats)
    bw, y = max(min(slot * 0.72, 60), 2), Scale(0.0, ticks[-1], top, plot_h, upward=True)
    parts = [value_gridlines(ticks, y, left, W - right, "pct" if p.percent else unit, gap=6)]
    label_step = max(1, math.ceil(len(cats) / 10))
    for i, cat in enumerate(cats):
        cx = left + slot * i + slot / 2
        parts.append(_stack(p, i, y, cx, bw, totals[i]))
        if i % label_step == 0:
            parts.append(text("axis", cx, top + plot_h + 16, tick_label(cat), "middle"))
        if not p.percent and len(cats) <= 16:
            parts.append(text("val", cx, y(totals[i]) - 4, value_label(totals[i], unit), "middle"))
    if p.x_label:
        parts.append(axis_title(left + plot_w / 2, height - 4, p.x_label))
    return _svg(height, "".join(parts), title) + legend(
        [s.name for s in p.series], [s.tone for s in p.series]
    )


def funnel(p: FunnelPayload, title: str) -> Markup:
    """Steps as centred bars scaled to the first step, with the share of the first and of the previous."""
    first = p.steps[0].value if p.steps else 0
    row_h, top, label_w = 38, 6, 190
    plot_w = W - label_w - 170
    mid, prev = label_w + plot_w / 2, None
    parts: list[str] = []
    for i, s in enumerate(p.steps):
        v, y = s.value, top + i * row_h
        w = plot_w * (v / first) if first else 0
        of_first = f"{100 * v / first:.0f}% of first" if first else ""
        conv = f" · {100 * v / prev:.0f}% of previous" if prev else ""
        shown = value_label(v, p.unit)
        body = text("lab", label_w - 10, y + row_h * 0.6, truncate(s.label, 26), "end")
        body += rect("seg c0", mid - w / 2, y + 4, max(w, 1), row_h - 8, rx=3)
        valued = Markup('{}<tspan class="note"> {}</tspan>').format(shown, of_first)
        body += text("val", label_w + plot_w + 10, y + row_h * 0.6, valued)
        parts.append(group(f"{s.label}: {shown} ({of_first}{conv})", body))
        prev = v
    return _svg(top + row_h * len(p.steps) + 6, "".join(parts), title)


Renderer = Callable[[dict[str, Any], str, AsOf], Markup]


def _parsed(model: type[M], draw: Callable[[M, str, AsOf], Markup]) -> Renderer:
    """A renderer over a stored payload: parsed into its kind's model first, so drawing code is typed."""

    def render_payload(payload: dict[str, Any], title: str, at: AsOf) -> Markup:
        try:
            parsed = model.model_validate(payload)
        except ValidationError as exc:
            return muted(f"This snapshot no longer fits its kind: {escape(str(exc.errors()[0]['msg']))}")
        return draw(parsed, title, at)

    return render_payload


def _timeless(draw: Callable[[M, str], Markup]) -> Callable[[M, str, AsOf], Markup]:
    """A drawing that names no moment relative to now (the charts and the heat grid)."""
    return lambda payload, title, _at: draw(payload, title)


RENDERERS: dict[str, Renderer] = {
    "bar": _parsed(BarPayload, _timeless(bar)),
    "line": _parsed(LinePayload, _timeless(line_chart)),
    "stacked": _parsed(StackedPayload, _timeless(stacked)),
    "funnel": _parsed(FunnelPayload, _timeless(funnel)),
    "table": _parsed(TablePayload, table),
    "heat_table": _parsed(HeatTablePayload, _timeless(heat_table)),
}


def render_cut(kind: str, payload: dict[str, Any] | None, title: str, at: AsOf) -> Markup:
    """The chart for a snapshot payload, or a placeholder when there is none yet; table cells that are
    moments or days read relative to `at` (the page's moment and the office's zone)."""
    if not payload:
        return muted("Not computed yet: run <code>heartbeat audit refresh</code>.")
    renderer = RENDERERS.get(kind)
    if renderer is None:
        return muted(f"No renderer for kind {escape(kind)}.")
    return renderer(payload, title, at)
