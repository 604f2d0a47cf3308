"""Triage over the read model: what needs attention, what changed since yesterday, how the sources are,
and a short summary of a metric's recent values.

Pure functions over `readmodel.MetricState` lists and history points, plus one small read
(`transitions_since`). MCP, the web and alerts share them, so "what is red" means the same thing on every
surface. Colour, freshness and rank still come only from `heartbeat_core.readmodel.status`; a source's
freshness only from `heartbeat_core.readmodel.freshness.sources_status`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.formatting import format_value
from heartbeat_core.readmodel.snapshot import HistoryPoint, MetricState
from heartbeat_core.readmodel.status import Status

_SEVERITY: dict[Status, int] = {"red": 0, "amber": 1, "no_data": 2, "green": 3}


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
    before: Status
    after: Status
    reason: str
    worse: bool


def previous_statuses(conn: psycopg.Connection[Any], before: date) -> dict[str, Status]:
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


def transitions(states: Sequence[MetricState], previous: dict[str, Status]) -> list[Transition]:
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

    def fmt(value: float | None) -> str:
        return format_value(value, state.unit)

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
    elif state.crossed == "z_implausible":
        text = (
            f"Amber (implausible): {shown} moved so far the good way that it is more likely a data problem "
            f"than good news ({state.reason}); check the loads behind it before believing it."
        )
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
