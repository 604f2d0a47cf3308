"""Triage over the read model: what needs attention, what changed since yesterday, how the sources are,
and a short summary of a metric's recent values.

Pure functions over `readmodel.MetricState` lists and history points, plus two small reads
(`transitions_since`, `sources_status`). MCP, the web and alerts share them, so "what is red" means the
same thing on every surface. Colour, freshness and rank still come only from `heartbeat_core.readmodel.status`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.readmodel.freshness import last_completed_load
from heartbeat_core.readmodel.snapshot import HistoryPoint, MetricState
from heartbeat_core.readmodel.status import FRESHNESS_LIMITS, Freshness, resolve_freshness

_SEVERITY = {"red": 0, "amber": 1, "no_data": 2, "green": 3}


def is_problem(state: MetricState, *, include_amber: bool = True, include_stale: bool = True) -> bool:
    """Does this metric belong on a "what is red" list? Red always; amber, stale sources, missing values
    and failed computes when asked."""
    if state.status == "red":
        return True
    if state.status == "amber":
        return include_amber
    if not include_stale:
        return False
    return state.freshness != "fresh" or state.status == "no_data" or state.error is not None


def problems(
    states: Iterable[MetricState],
    *,
    include_amber: bool = True,
    include_stale: bool = True,
    team: str | None = None,
) -> list[MetricState]:
    """The metrics that need attention, in the read model's rank order (worst first)."""
    wanted = (team or "").strip().lower() or None
    chosen = [
        s
        for s in states
        if is_problem(s, include_amber=include_amber, include_stale=include_stale)
        and (wanted is None or (s.team or "").lower() == wanted)
    ]
    return sorted(chosen, key=lambda s: s.rank)


def matches(
    state: MetricState,
    *,
    query: str | None = None,
    status: str | None = None,
    source: str | None = None,
    team: str | None = None,
) -> bool:
    """Filter for metric lists: a free-text query over id, name, description, tags; exact status, source, team."""
    if status is not None:
        if status == "stale":
            if state.freshness == "fresh":
                return False
        elif state.status != status:
            return False
    if source is not None and source not in state.sources:
        return False
    if team is not None and (state.team or "").lower() != team.strip().lower():
        return False
    if query:
        haystack = " ".join(
            [state.metric_id, state.name, state.description, state.team or "", *state.tags, *state.sources]
        ).lower()
        return all(word in haystack for word in query.lower().split())
    return True


# -- what changed since yesterday -------------------------------------------------------------------


class Transition(BaseModel):
    metric_id: str
    name: str
    before: str
    after: str
    reason: str
    worse: bool


def previous_statuses(conn: psycopg.Connection[Any], before: date) -> dict[str, str]:
    """Each active metric's status in its newest history row dated before `before` (one index probe each)."""
    rows = conn.execute(
        """SELECT r.metric_id, h.status FROM heartbeat.metric_registry r
           CROSS JOIN LATERAL (
               SELECT status FROM heartbeat.metric_history
               WHERE metric_id = r.metric_id AND as_of_date < %s
               ORDER BY as_of_date DESC LIMIT 1) h
           WHERE r.retired_at IS NULL""",
        (before,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def transitions(states: Sequence[MetricState], previous: dict[str, str]) -> list[Transition]:
    """Metrics whose colour now differs from their last colour before today; worsened first."""
    result = []
    for state in states:
        before = previous.get(state.metric_id)
        if before is None or before == state.status:
            continue
        worse = _SEVERITY.get(state.status, 3) < _SEVERITY.get(before, 3)
        result.append(
            Transition(
                metric_id=state.metric_id,
                name=state.name,
                before=before,
                after=state.status,
                reason=state.reason,
                worse=worse,
            )
        )
    result.sort(key=lambda t: (not t.worse, _SEVERITY.get(t.after, 3), t.metric_id))
    return result


def transitions_since(
    conn: psycopg.Connection[Any], states: Sequence[MetricState], today: date | None = None
) -> list[Transition]:
    """What changed colour since yesterday: today's live status against the last one recorded before today."""
    from heartbeat_core.settings import get_settings

    day = today or clock.business_day(clock.now(), get_settings().tz)
    return transitions(states, previous_statuses(conn, day))


# -- sources ----------------------------------------------------------------------------------------


class SourceStatus(BaseModel):
    source: str
    freshness: Freshness
    freshness_reason: str
    source_as_of: datetime | None = None
    age_s: float | None = None
    last_status: str | None = None
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_rows: int | None = None
    last_duration_s: float | None = None
    kind: str | None = None
    metrics: list[str] = Field(default_factory=list)
    strictest_period: str = "24h"


_SECRET_URL = re.compile(r"(\w+://[^:/@\s]+):[^@\s]+@")
_SECRET_PARAM = re.compile(r"(?i)((?:password|passwd|secret|token|api_key|apikey)=)[^&\s]+")


def redact_secrets(text: str | None) -> str | None:
    """Best-effort scrub of credentials from an error line before it reaches any surface."""
    if text is None:
        return None
    return _SECRET_PARAM.sub(r"\1***", _SECRET_URL.sub(r"\1:***@", text))


def _strictest(periods: Iterable[str]) -> str:
    known = [p for p in periods if p in FRESHNESS_LIMITS]
    if not known:
        return "24h"
    return min(known, key=lambda p: FRESHNESS_LIMITS[p][0])


_FRESH_RANK = {"red": 0, "amber": 1, "fresh": 2}


def sources_status(conn: psycopg.Connection[Any], now: datetime | None = None) -> list[SourceStatus]:
    """Every source the registry reads or ingest has recorded: its load state and freshness, worst first.

    Freshness is the contract's `resolve_freshness` over the source's own `source_as_of` (older of the last
    completed load and the data watermark), judged by the strictest period among the metrics reading it.
    """
    moment = now or clock.now()
    readers: dict[str, list[tuple[str, str]]] = {}
    for metric_id, period, sources in conn.execute(
        "SELECT metric_id, period, sources FROM heartbeat.metric_registry WHERE retired_at IS NULL"
        " ORDER BY metric_id"
    ):
        for source in sources or []:
            readers.setdefault(source, []).append((metric_id, period))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM heartbeat.source_state")
        state_rows = {r["source"]: r for r in cur.fetchall()}
    result = []
    for source in sorted(set(readers) | set(state_rows)):
        row = state_rows.get(source, {})
        loaded = last_completed_load(conn, source)
        watermark = row.get("data_watermark")
        as_of = None if loaded is None else (min(loaded, watermark) if watermark else loaded)
        if as_of is None and loaded is None and row.get("last_success_at") is not None:
            as_of = row["last_success_at"] if watermark is None else min(row["last_success_at"], watermark)
        period = _strictest(p for _, p in readers.get(source, []))
        fresh = resolve_freshness(period, as_of, moment)
        result.append(
            SourceStatus(
                source=source,
                freshness=fresh.freshness,
                freshness_reason=fresh.reason.replace("sources ", "data ", 1),
                source_as_of=as_of,
                age_s=None if fresh.age_s is None else round(fresh.age_s),
                last_status=row.get("last_status"),
                last_success_at=row.get("last_success_at"),
                last_attempt_at=row.get("last_attempt_at"),
                last_error=redact_secrets(row.get("last_error")),
                last_rows=row.get("last_rows"),
                last_duration_s=row.get("last_duration_s"),
                kind=row.get("kind"),
                metrics=[m for m, _ in readers.get(source, [])],
                strictest_period=period,
            )
        )
    failing = {"failed", "error"}
    result.sort(
        key=lambda s: (_FRESH_RANK[s.freshness], 0 if (s.last_status or "") in failing else 1, s.source)
    )
    return result


# -- history summary --------------------------------------------------------------------------------


class HistorySummary(BaseModel):
    days: int
    first_date: date | None = None
    last_date: date | None = None
    points: int = 0
    last: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    stddev: float | None = None
    trend: Literal["rising", "falling", "flat", "unknown"] = "unknown"
    slope_per_day: float | None = None
    change_pct: float | None = None
    status_days: dict[str, int] = Field(default_factory=dict)
    errors: int = 0


def summarize_history(points: Sequence[HistoryPoint], days: int = 30) -> HistorySummary:
    """Min / max / mean / trend of the last `days` points (not the raw series), with colour counts.

    The trend is the least-squares slope over the dated values; "flat" when the fitted change across the
    window is under 5% of the mean's magnitude (or of the spread, for a mean near zero).
    """
    window = list(points)[-days:]
    summary = HistorySummary(days=len(window))
    if not window:
        return summary
    summary.first_date = window[0].as_of_date
    summary.last_date = window[-1].as_of_date
    for point in window:
        summary.status_days[point.status] = summary.status_days.get(point.status, 0) + 1
        if point.error:
            summary.errors += 1
    values = [(p.as_of_date, p.value) for p in window if p.value is not None]
    summary.points = len(values)
    if not values:
        return summary
    numbers = [v for _, v in values]
    summary.last = numbers[-1]
    summary.min = min(numbers)
    summary.max = max(numbers)
    mean = sum(numbers) / len(numbers)
    summary.mean = round(mean, 6)
    if len(numbers) > 1:
        summary.stddev = round(math.sqrt(sum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1)), 6)
    if len(values) >= 3:
        origin = values[0][0]
        xs = [float((d - origin).days) for d, _ in values]
        mx = sum(xs) / len(xs)
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx > 0:
            slope = sum((x - mx) * (v - mean) for x, v in zip(xs, numbers, strict=True)) / sxx
            summary.slope_per_day = round(slope, 6)
            fitted_change = slope * (xs[-1] - xs[0])
            scale = abs(mean) if abs(mean) > 1e-9 else (summary.max - summary.min)
            if scale == 0 or abs(fitted_change) < 0.05 * scale:
                summary.trend = "flat"
            else:
                summary.trend = "rising" if slope > 0 else "falling"
    if numbers[0] != 0:
        summary.change_pct = round((numbers[-1] - numbers[0]) / abs(numbers[0]) * 100, 1)
    return summary


# -- why --------------------------------------------------------------------------------------------


def explain_status(state: MetricState) -> str:
    """Why a metric has its colour, in a sentence or two, from the same fields the contract produced."""
    from heartbeat_core.formatting import format_number

    def fmt(value: float | None) -> str:
        return "—" if value is None else format_number(value, state.unit)

    better = "lower" if state.direction == "lower_is_better" else "higher"
    shown = fmt(state.value)
    if state.status == "no_data":
        text = f"No data: {state.reason}."
    elif state.crossed == "alert":
        amber = f"; the amber (norm) line is {fmt(state.norm_value)}" if state.norm_value is not None else ""
        text = (
            f"Red: the value {shown} reached the red (alert) line {fmt(state.alert_value)}; "
            f"{better} is better for this metric{amber}."
        )
    elif state.crossed == "norm":
        red = (
            f"; red at the alert line {fmt(state.alert_value)}"
            if state.alert_value is not None
            else "; no red line set"
        )
        text = f"Amber: the value {shown} reached the amber (norm) line {fmt(state.norm_value)}{red}."
    elif state.crossed in ("z_red", "z_amber"):
        colour = "Red" if state.crossed == "z_red" else "Amber"
        text = (
            f"{colour}: no line is crossed, but {shown} is unusual against its typical band "
            f"({state.reason}); {better} is better, so only that side counts."
        )
    else:
        text = f"Green: {state.reason}."
        if state.target_hit:
            text += f" Target {fmt(state.target_value)} is hit."
    if state.error and state.status != "no_data":
        text += f" The latest compute failed ({state.error}); the value shown is the last good one."
    return text
