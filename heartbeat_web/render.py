"""From the read model to what the templates show: formatted strings, SVG and layout sizes.

Nothing here decides a colour or an order: status, freshness, `needs_attention` and the rank all come
from `heartbeat_core`. This module only formats them and picks how many columns fit the screen.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from heartbeat_core import clock
from heartbeat_core.formatting import (
    column_label,
    format_date,
    format_day,
    format_duration,
    format_row,
    format_since,
    format_value,
    format_when,
    trailing_label,
    value_parts,
)
from heartbeat_core.readmodel import MetricState
from heartbeat_core.readmodel.cache import CachedSnapshot
from heartbeat_core.readmodel.status import needs_attention
from heartbeat_core.redaction import redact_optional
from heartbeat_core.settings import Settings, get_settings
from heartbeat_web.charts import sparkline
from heartbeat_web.live import JobStrip
from heartbeat_web.tiles import Tile, badges, culprit, footer, grouped, reason

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

N = TypeVar("N", int, float)

# display states whose sparkline keeps the status colour; stale, error and no data draw grey
STATUS_DRAWN = frozenset({"red", "amber", "green"})
PERIOD_LABEL = {"snapshot": "now", "24h": "24 h", "7d": "7 d", "30d": "30 d", "funnel": "funnel"}


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"], default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["grouped"] = grouped  # tiles of one incident share a card
    env.filters["num"] = lambda v, unit="count": value_parts(v, unit)[0]
    env.filters["unit"] = trailing_label
    env.filters["value"] = format_value
    env.filters["period"] = lambda p: PERIOD_LABEL.get(p, p)
    env.filters["scrub"] = redact_optional
    env.filters.update(people_filters())
    return env


def people_filters() -> dict[str, Any]:
    """Moments, days and detail cells as people read them (`heartbeat_core.formatting`), relative to the
    clock at render time in the office's time zone: for pages rendered per request (the metric page), never
    for bytes cached past the minute (the cockpit)."""

    def now_tz() -> tuple[datetime, Any]:
        return clock.now(), get_settings().tz

    def when(value: object) -> str:
        now, tz = now_tz()
        return "—" if value is None else format_when(value, now, tz) or str(value)

    def day(value: date | None) -> str:
        now, tz = now_tz()
        return "—" if value is None else format_day(value, clock.business_day(now, tz))

    def since(value: date) -> str:
        now, tz = now_tz()
        return format_since(value, clock.business_day(now, tz), days=True)

    def cells(row: list[object], columns: list[str], unit: str = "count") -> list[str]:
        now, tz = now_tz()
        return format_row(columns, row, now, tz, unit)

    return {
        "when": when,
        "day": day,
        "since": since,
        "cells": cells,
        "column": lambda c: column_label(c) or c,
    }


def _package_version() -> str:
    try:
        return version("heartbeat")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0"


def build_id() -> str:
    """Changes whenever a template, the CSS/JS or the package version changes: open TVs reload then."""
    digest = hashlib.sha1(_package_version().encode())
    for folder in (TEMPLATES, STATIC):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def tile(m: MetricState, detail: bool = True) -> Tile:
    value, unit = value_parts(m.value, m.unit)  # the one display rule: "5.03 d", never "5.03 d days"
    return Tile(
        m=m,
        value=value,
        unit=unit,
        period=PERIOD_LABEL.get(m.period, m.period),
        reason=reason(m),
        sparkline=sparkline(m.sparkline, m.status if m.display_state in STATUS_DRAWN else "no_data"),
        footer=footer(m, format_duration(m.source_age_s) if m.source_age_s is not None else "never"),
        culprit=culprit(m),  # entities fill it; incidents may (CONTRACTS.md "Cockpit tile slots")
        badges=badges(m),
        group=m.incident_id,
        detail=detail,
    )


Band = Literal["red", "attention", "calm"]


def _band(m: MetricState) -> Band:
    """By display state: stale data is never drawn as a calm green."""
    if m.display_state == "red":
        return "red"
    if m.display_state in ("amber", "stale", "error") or needs_attention(m.status, m.freshness):
        return "attention"
    return "calm"


def banded(metrics: list[MetricState], detail: bool = True) -> dict[Band, list[Tile]]:
    """The tiles per band, in rank order. An incident's tiles all go to the band of its first (worst) member,
    so its card is drawn once, with the calmer members as chips, never a second card under the same headline."""
    bands: dict[Band, list[Tile]] = {"red": [], "attention": [], "calm": []}
    band_of_incident: dict[str, Band] = {}
    for m in metrics:
        band = _band(m)
        if m.incident_id is not None:
            band = band_of_incident.setdefault(m.incident_id, band)
        bands[band].append(tile(m, detail))
    return bands


def _cols(n: int, table: tuple[tuple[int, N], ...], most: N) -> N:
    """The value for the first limit `n` fits under (columns, type scale), `most` past the last."""
    for limit, cols in table:
        if n <= limit:
            return cols
    return most


def layout(red: int, attention: int, calm: int) -> dict[str, float]:
    """Columns and type scale per band from its cards (an incident is one card, its members chips on it), so up
    to ~40 metrics fit one screen: fewer red cards, bigger ones."""
    red_cols = _cols(red, ((1, 1), (2, 2), (3, 3), (4, 4), (6, 3), (8, 4), (12, 4), (15, 5)), 6)
    att_cols = _cols(attention, ((1, 2), (2, 2), (3, 3), (4, 4), (10, 5), (18, 6)), 7)
    red_k = _cols(red, ((1, 1.45), (2, 1.25), (4, 1.05), (8, 0.95), (12, 0.85)), 0.75)
    att_k = _cols(attention, ((2, 0.85), (4, 0.78), (10, 0.7)), 0.6)
    if not red:
        att_k = min(att_k * 1.2, 1.0)
    return {
        "red_cols": red_cols,
        "att_cols": att_cols,
        "calm_cols": _cols(calm, ((6, 6), (16, 8), (30, 10)), 12),
        "red_k": red_k,
        "att_k": att_k,
    }


def short_time(moment: datetime | None, now: datetime, tz: Any) -> str:
    """`14:05` today, `Tue 14:05` within a week, else the day (`14 Nov`): the strip's "last refresh"."""
    if moment is None:
        return "never"
    local, today = moment.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if (today - local).days < 7:
        return local.strftime("%a %H:%M")
    return format_date(local.date(), today.date())


def _newest(metrics: list[MetricState]) -> datetime | None:
    """The newest compute among the metrics: "data as of" when no job has succeeded yet."""
    moments = [m.computed_at for m in metrics if m.computed_at is not None]
    return max(moments) if moments else None


class CockpitRenderer:
    """Renders the cockpit page and partial; `detail=False` is the display keys' copy (culprits counted)."""

    def __init__(self, env: Environment, settings: Settings, build: str, detail: bool = True) -> None:
        self.detail = detail
        self.env = env
        self.settings = settings
        self.build = build
        self.page = env.get_template("cockpit.html")
        self.body = env.get_template("_cockpit.html")

    def context(self, cached: CachedSnapshot, job: JobStrip | None) -> dict[str, Any]:
        snap = cached.snapshot
        tz = self.settings.tz
        headlines = {i.incident_id: i.headline for i in snap.incidents}  # the `group` slot's card title
        bands = {name: grouped(tiles, headlines) for name, tiles in banded(snap.metrics, self.detail).items()}
        red, attention, calm = bands["red"], bands["attention"], bands["calm"]
        pipeline = snap.pipeline  # the stalled verdict is the read model's (readmodel.pipeline)
        last_success = pipeline.last_success_at
        stalled = pipeline.stalled
        stalled_for = None if pipeline.stalled_for_s is None else format_duration(pipeline.stalled_for_s)
        now = clock.now()
        last_failed = snap.last_job if snap.last_job and snap.last_job.state == "failed" else None
        return {
            "snap": snap,
            "red": red,
            "attention": attention,
            "calm": calm,
            "layout": layout(len(red), len(attention), len(calm)),  # a card fills one cell, whatever it holds
            "counts": snap.counts,
            "updated": snap.generated_at.astimezone(tz).strftime("%H:%M"),
            "updated_iso": snap.generated_at.isoformat(),
            "degraded": cached.degraded,
            "degraded_since": cached.degraded_since.astimezone(tz).strftime("%H:%M")
            if cached.degraded_since
            else None,
            "job": job,
            "job_pct": None if job is None or job.progress is None else round(job.progress * 100),
            "last_failed": last_failed,
            "last_failed_error": redact_optional(last_failed.error) if last_failed else None,
            "stalled": stalled,
            "stalled_for": stalled_for,
            "last_success": last_success.astimezone(tz).strftime("%a %H:%M") if last_success else None,
            "last_refresh": short_time(last_success, now, tz),
            "data_as_of": short_time(last_success or _newest(snap.metrics), now, tz),
            "build": self.build,
            "refresh_s": self.settings.cockpit_refresh_s,
            "head": {},  # the JSON's `pipeline` comes with the snapshot itself
        }

    def __call__(self, cached: CachedSnapshot, job: JobStrip | None) -> tuple[bytes, bytes, dict[str, Any]]:
        ctx = self.context(cached, job)
        partial = self.body.render(ctx).encode()
        page = self.page.render({**ctx, "body": Markup(partial.decode())}).encode()
        return page, partial, ctx["head"]
