"""Audit cuts drawn as HTML tables: plain rows (`table`) and a shaded grid (`heat_table`)."""

from __future__ import annotations

from markupsafe import Markup, escape

from heartbeat_core.audit.payloads import Cell, Column, HeatTablePayload, TablePayload
from heartbeat_core.formatting import format_iso_day, format_number, format_when
from heartbeat_web.charts.base import AsOf, muted, value_label

NO_ROWS = "No rows in this window."


def _cell(value: Cell, unit: str | None, at: AsOf) -> str:
    """A cell as people read it: numbers in their unit, yes/no, and a moment or a day the cut stored as ISO
    text relative to the page (`24 Nov 11:54 UTC (3.2 d ago)`, `2 Nov (30 d ago)`); other text as it is."""
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
    return format_when(value, at.now, at.tz) or value


def _align(c: Column) -> str:
    return "num" if (c.unit or c.align == "right") else ""


def table(p: TablePayload, title: str, at: AsOf) -> Markup:
    """Rows as the cut returned them, moments and days read relative to `at`; rows whose `highlight_key`
    column is true are marked."""
    if not p.rows:
        return muted(NO_ROWS)
    head = "".join(f'<th class="{_align(c)}">{escape(c.label)}</th>' for c in p.columns)
    body = []
    for r in p.rows:
        cls = ' class="hl"' if p.highlight_key and r.get(p.highlight_key) else ""
        cells = "".join(
            f'<td class="{_align(c)}">{escape(_cell(r.get(c.key), c.unit, at))}</td>' for c in p.columns
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    more = ""
    if p.total_rows and p.total_rows > len(p.rows):
        more = f'<p class="muted">Showing {len(p.rows)} of {p.total_rows:,} rows.</p>'
    return Markup(
        f'<div class="scroll"><table class="rows audit-table" aria-label="{escape(title)}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def heat_table(p: HeatTablePayload, title: str) -> Markup:
    """A grid of values shaded from the lowest to the highest (darker = worse, as the cut says); rows and
    columns that are days (weekly cohorts) labelled `2 Nov`."""
    if not p.rows:
        return muted(NO_ROWS)
    unit = p.unit or "count"
    flat = [v for r in p.values for v in r if v is not None]
    lo, hi = (min(flat), max(flat)) if flat else (0.0, 1.0)
    span = (hi - lo) or 1.0
    corner = escape(p.row_label or "") + (" / " + escape(p.column_label) if p.column_label else "")
    head = f'<th class="corner">{corner}</th>' + "".join(
        f'<th class="num">{escape(format_iso_day(c))}</th>' for c in p.columns
    )
    body = []
    for label, line_values in zip(p.rows, p.values, strict=True):
        cells = []
        for v in line_values:
            if v is None:
                cells.append('<td class="num empty">—</td>')
                continue
            k = (v - lo) / span
            alpha = 0.08 + 0.8 * (k if p.higher_is_worse else 1 - k)
            cells.append(
                f'<td class="num heat" style="--heat:{alpha:.2f}">{escape(value_label(v, unit))}</td>'
            )
        body.append(f"<tr><th>{escape(format_iso_day(label))}</th>{''.join(cells)}</tr>")
    scale = (
        f'<p class="legend audit-legend"><span class="heat-scale"></span>'
        f"{'darker = higher' if p.higher_is_worse else 'darker = lower'} · range {escape(value_label(lo, unit))}–"
        f"{escape(value_label(hi, unit))}</p>"
    )
    return Markup(
        f'<div class="scroll"><table class="rows heat-table" aria-label="{escape(title)}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{scale}"
    )
