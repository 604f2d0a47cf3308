"""Audit cut charts: validated payloads drawn as inline SVG (bar, line, stacked, funnel) or HTML tables
(table, heat_table), server-side, no JS library.

Every label is escaped and every number is one we formatted, so markup in a cut's titles or data renders
inert. Series colours are CSS classes (`c0`…`c11`), reference lines are `line-norm` / `line-alert` /
`line-target` and the typical band `band`, as on the metric page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from heartbeat_core.formatting import format_number

W = 760
PALETTE = 12


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return format_number(value, unit or "count")


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
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


def _svg(height: int, body: str, label: str) -> Markup:
    return Markup(
        f'<svg class="chart audit-chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _cls(i: int, series: dict[str, Any] | None = None) -> str:
    """Colour classes of the i-th series: its palette slot, and its tone (good, bad, ...) when it has one."""
    tone = (series or {}).get("tone")
    return f"c{i % PALETTE} t-{tone}" if tone else f"c{i % PALETTE}"


def _legend(
    names: Sequence[str], extra: Sequence[tuple[str, str]] = (), series: Sequence[dict[str, Any]] = ()
) -> Markup:
    classes = [_cls(i, series[i] if i < len(series) else None) for i in range(len(names))]
    items = "".join(
        f'<span><i class="sw {c}"></i>{escape(n)}</span>' for c, n in zip(classes, names, strict=True)
    )
    items += "".join(f'<span><i class="lg {cls}"></i>{escape(text)}</span>' for cls, text in extra)
    return Markup(f'<p class="legend audit-legend">{items}</p>')


def _ref_lines(lines: dict[str, Any]) -> list[tuple[str, str, float]]:
    found = []
    for key, label in (("norm", "norm"), ("alert", "alert"), ("target", "target")):
        if lines.get(key) is not None:
            found.append((key, label, float(lines[key])))
    return found


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _tick_label(text: str) -> str:
    """Axis labels: ISO dates as `Nov 2`, anything else truncated."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        try:
            return f"{_MONTHS[int(text[5:7]) - 1]} {int(text[8:10])}"
        except (ValueError, IndexError):
            pass
    return _truncate(text, 12)


# ------------------------------------------------------------------------------------------- bar


def bar(p: dict[str, Any], title: str) -> Markup:
    bars = p["bars"]
    unit = p.get("unit") or "count"
    if not bars:
        return Markup('<p class="muted">Nothing to show in this window.</p>')
    lines = _ref_lines(p.get("lines") or {})
    left, right, row_h, top = 170, 150, 26, 10
    values = [b["value"] for b in bars] + [v for _, _, v in lines]
    lo, hi = min(0.0, *values), max(0.0, *values)
    ticks = _nice_ticks(lo, hi, 5)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    span = (hi - lo) or 1.0
    plot_w = W - left - right
    height = top + row_h * len(bars) + 34

    def x(v: float) -> float:
        return left + (v - lo) / span * plot_w

    parts = []
    for t in ticks:
        parts.append(
            f'<line class="grid" x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{top + row_h * len(bars)}"/>'
            f'<text class="axis" x="{x(t):.1f}" y="{top + row_h * len(bars) + 16}" text-anchor="middle">'
            f"{escape(_fmt(t, unit))}</text>"
        )
    for i, b in enumerate(bars):
        y = top + i * row_h
        x0, x1 = sorted((x(0), x(b["value"])))
        cls = "bar hl" if b.get("highlight") else "bar"
        note = f" · {b['note']}" if b.get("note") else ""
        parts.append(
            f"<g><title>{escape(b['label'])}: {escape(_fmt(b['value'], unit))}{escape(note)}</title>"
            f'<text class="lab" x="{left - 8}" y="{y + row_h * 0.65:.1f}" text-anchor="end">'
            f"{escape(_truncate(b['label'], 24))}</text>"
            f'<rect class="{cls}" x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" height="{row_h - 8}"/>'
            f'<text class="val" x="{x1 + 6:.1f}" y="{y + row_h * 0.65:.1f}">{escape(_fmt(b["value"], unit))}'
            f"{'<tspan class=note> ' + str(escape(_truncate(b['note'], 34))) + '</tspan>' if b.get('note') else ''}"
            "</text></g>"
        )
    for key, label, v in lines:
        parts.append(
            f'<line class="line-{key}" x1="{x(v):.1f}" y1="{top - 4}" x2="{x(v):.1f}" y2="{top + row_h * len(bars)}">'
            f"<title>{label} {escape(_fmt(v, unit))}</title></line>"
        )
    if p.get("x_label"):
        parts.append(
            f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle">'
            f"{escape(p['y_label'] or p['x_label'])}</text>"
        )
    legend = _legend([], [(f"{k}", f"{lab} {_fmt(v, unit)}") for k, lab, v in lines]) if lines else Markup("")
    return _svg(height, "".join(parts), title) + legend


# ------------------------------------------------------------------------------------------ line


def line(p: dict[str, Any], title: str) -> Markup:
    series = p["series"]
    unit = p.get("unit") or "count"
    xs: list[str] = []
    for s in series:
        for pt in s["points"]:
            if pt["x"] not in xs:
                xs.append(pt["x"])
    if not xs:
        return Markup('<p class="muted">Nothing to show in this window.</p>')
    index = {v: i for i, v in enumerate(xs)}
    lines_cfg = p.get("lines") or {}
    refs = _ref_lines(lines_cfg)
    band = lines_cfg.get("band")
    values = [pt["y"] for s in series for pt in s["points"] if pt["y"] is not None]
    values += [v for _, _, v in refs]
    if band:
        values += [band["low"], band["high"]]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    lo = min(lo, 0.0) if lo >= 0 and lo < (hi - lo) * 0.6 else lo
    ticks = _nice_ticks(lo, hi, 5)
    lo, hi = ticks[0], ticks[-1]
    span = (hi - lo) or 1.0
    left, right, top, bottom, height = 84, 16, 12, 40, 280
    plot_w, plot_h = W - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (i / max(len(xs) - 1, 1)) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / span * plot_h

    parts = []
    for t in ticks:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y(t):.1f}" x2="{W - right}" y2="{y(t):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{escape(_fmt(t, unit))}</text>'
        )
    step = max(1, math.ceil(len(xs) / 8))
    for i in range(0, len(xs), step):
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{escape(_tick_label(xs[i]))}</text>"
        )
    if band:
        y0, y1 = y(band["high"]), y(band["low"])
        parts.append(
            f'<rect class="band" x="{left}" y="{y0:.1f}" width="{plot_w}" height="{max(y1 - y0, 1):.1f}">'
            f"<title>{escape(band.get('label') or 'typical')}: {escape(_fmt(band['low'], unit))}–"
            f"{escape(_fmt(band['high'], unit))}</title></rect>"
        )
    for key, label, v in refs:
        parts.append(
            f'<line class="line-{key}" x1="{left}" y1="{y(v):.1f}" x2="{W - right}" y2="{y(v):.1f}">'
            f"<title>{label} {escape(_fmt(v, unit))}</title></line>"
        )
    for si, s in enumerate(series):
        segments: list[list[str]] = [[]]
        dots = []
        for pt in s["points"]:
            if pt["y"] is None:
                segments.append([])
                continue
            px, py = x(index[pt["x"]]), y(pt["y"])
            segments[-1].append(f"{px:.1f},{py:.1f}")
            dots.append(
                f'<circle class="dot {_cls(si, s)}" cx="{px:.1f}" cy="{py:.1f}" r="2.2">'
                f"<title>{escape(s['name'])} {escape(pt['x'])}: {escape(_fmt(pt['y'], unit))}</title></circle>"
            )
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline class="ser {_cls(si, s)}" points="{" ".join(seg)}"/>')
        if len(xs) <= 120:
            parts.extend(dots)
    if p.get("x_label"):
        parts.append(
            f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
            f"{escape(p['x_label'])}</text>"
        )
    extra = [(k, f"{lab} {_fmt(v, unit)}") for k, lab, v in refs]
    if band:
        extra.append(("band", band.get("label") or "typical"))
    return _svg(height, "".join(parts), title) + _legend([s["name"] for s in series], extra, series)


# --------------------------------------------------------------------------------------- stacked


def stacked(p: dict[str, Any], title: str) -> Markup:
    cats = p["categories"]
    series = p["series"]
    unit = p.get("unit") or "count"
    if not cats:
        return Markup('<p class="muted">Nothing to show in this window.</p>')
    percent = p.get("percent", False)
    totals = [sum(s["values"][i] for s in series) for i in range(len(cats))]
    shown_unit = "pct" if percent else unit
    hi = 100.0 if percent else max(max(totals), 1e-9)
    ticks = _nice_ticks(0.0, hi, 5)
    hi = ticks[-1]
    left, right, top, bottom, height = 84, 16, 12, 48, 290
    plot_w, plot_h = W - left - right, height - top - bottom
    slot = plot_w / len(cats)
    bw = max(min(slot * 0.72, 60), 2)

    def y(v: float) -> float:
        return top + plot_h - v / (hi or 1) * plot_h

    parts = []
    for t in ticks:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y(t):.1f}" x2="{W - right}" y2="{y(t):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{escape(_fmt(t, shown_unit))}</text>'
        )
    label_step = max(1, math.ceil(len(cats) / 10))
    for i, cat in enumerate(cats):
        cx = left + slot * i + slot / 2
        base = 0.0
        total = totals[i]
        for si, s in enumerate(series):
            v = s["values"][i]
            if v <= 0:
                continue
            share = 100 * v / total if total else 0.0
            h_v = share if percent else v
            y0, y1 = y(base + h_v), y(base)
            tip = f"{s['name']} · {cat}: {_fmt(v, unit)}" + (f" ({share:.1f}%)" if total else "")
            parts.append(
                f'<rect class="seg {_cls(si, s)}" x="{cx - bw / 2:.1f}" y="{y0:.1f}" width="{bw:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}"><title>{escape(tip)}</title></rect>'
            )
            base += h_v
        if i % label_step == 0:
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{escape(_tick_label(cat))}</text>"
            )
        if not percent and len(cats) <= 16:
            parts.append(
                f'<text class="val" x="{cx:.1f}" y="{y(total) - 4:.1f}" text-anchor="middle">'
                f"{escape(_fmt(total, unit))}</text>"
            )
    if p.get("x_label"):
        parts.append(
            f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">'
            f"{escape(p['x_label'])}</text>"
        )
    return _svg(height, "".join(parts), title) + _legend([s["name"] for s in series], (), series)


# ---------------------------------------------------------------------------------------- funnel


def funnel(p: dict[str, Any], title: str) -> Markup:
    steps = p["steps"]
    unit = p.get("unit") or "count"
    first = steps[0]["value"] if steps else 0
    row_h, top, label_w = 38, 6, 190
    height = top + row_h * len(steps) + 6
    plot_w = W - label_w - 170
    mid = label_w + plot_w / 2
    parts = []
    prev = None
    for i, s in enumerate(steps):
        v = s["value"]
        w = plot_w * (v / first) if first else 0
        y = top + i * row_h
        of_first = f"{100 * v / first:.0f}% of first" if first else ""
        conv = f" · {100 * v / prev:.0f}% of previous" if prev else ""
        parts.append(
            f"<g><title>{escape(s['label'])}: {escape(_fmt(v, unit))} ({escape(of_first)}{escape(conv)})</title>"
            f'<text class="lab" x="{label_w - 10}" y="{y + row_h * 0.6:.1f}" text-anchor="end">'
            f"{escape(_truncate(s['label'], 26))}</text>"
            f'<rect class="seg c0" x="{mid - w / 2:.1f}" y="{y + 4}" width="{max(w, 1):.1f}" '
            f'height="{row_h - 8}" rx="3"/>'
            f'<text class="val" x="{label_w + plot_w + 10}" y="{y + row_h * 0.6:.1f}">{escape(_fmt(v, unit))}'
            f'<tspan class="note"> {escape(of_first)}</tspan></text></g>'
        )
        prev = v
    return _svg(height, "".join(parts), title)


# ----------------------------------------------------------------------------------------- tables


def _cell(value: Any, unit: str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and unit:
        return format_number(float(value), unit)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(p: dict[str, Any], title: str) -> Markup:
    cols = p["columns"]
    rows = p["rows"]
    hk = p.get("highlight_key")
    if not rows:
        return Markup('<p class="muted">No rows in this window.</p>')
    head = "".join(
        f'<th class="{"num" if (c.get("unit") or c.get("align") == "right") else ""}">{escape(c["label"])}</th>'
        for c in cols
    )
    body = []
    for r in rows:
        cls = ' class="hl"' if hk and r.get(hk) else ""
        cells = "".join(
            f'<td class="{"num" if (c.get("unit") or c.get("align") == "right") else ""}">'
            f"{escape(_cell(r.get(c['key']), c.get('unit')))}</td>"
            for c in cols
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    more = ""
    total = p.get("total_rows")
    if total and total > len(rows):
        more = f'<p class="muted">Showing {len(rows)} of {total:,} rows.</p>'
    return Markup(
        f'<div class="scroll"><table class="rows audit-table" aria-label="{escape(title)}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def heat_table(p: dict[str, Any], title: str) -> Markup:
    rows, cols, values = p["rows"], p["columns"], p["values"]
    unit = p.get("unit") or "count"
    if not rows:
        return Markup('<p class="muted">No rows in this window.</p>')
    flat = [v for r in values for v in r if v is not None]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    span = (hi - lo) or 1.0
    worse_high = p.get("higher_is_worse", True)
    head = (
        f'<th class="corner">{escape(p.get("row_label") or "")}'
        f"{' / ' + str(escape(p['column_label'])) if p.get('column_label') else ''}</th>"
        + "".join(f'<th class="num">{escape(c)}</th>' for c in cols)
    )
    body = []
    for label, line_values in zip(rows, values, strict=True):
        cells = []
        for v in line_values:
            if v is None:
                cells.append('<td class="num empty">—</td>')
                continue
            k = (v - lo) / span
            k = k if worse_high else 1 - k
            alpha = 0.08 + 0.8 * k
            cells.append(f'<td class="num heat" style="--heat:{alpha:.2f}">{escape(_fmt(v, unit))}</td>')
        body.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    scale = (
        f'<p class="legend audit-legend"><span class="heat-scale"></span>'
        f"{'darker = higher' if worse_high else 'darker = lower'} · range {escape(_fmt(lo, unit))}–"
        f"{escape(_fmt(hi, unit))}</p>"
    )
    return Markup(
        f'<div class="scroll"><table class="rows heat-table" aria-label="{escape(title)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{scale}"
    )


RENDERERS = {
    "bar": bar,
    "line": line,
    "stacked": stacked,
    "funnel": funnel,
    "table": table,
    "heat_table": heat_table,
}


def render(kind: str, payload: dict[str, Any] | None, title: str) -> Markup:
    """The chart for a snapshot payload, or a placeholder when there is none yet."""
    if not payload:
        return Markup('<p class="muted">Not computed yet: run <code>heartbeat audit refresh</code>.</p>')
    renderer = RENDERERS.get(kind)
    if renderer is None:
        return Markup(f'<p class="muted">No renderer for kind {escape(kind)}.</p>')
    return renderer(payload, title)
