"""Typical: the rolling μ ± σ a metric is judged against when it has `typical: rolling_stat`.

`baseline(series, day, options)` is the one pure function: the band for scoring `day`, from the points
strictly before it (the day being scored never sits in its own baseline), inside the last `window_days`,
same weekday only with `seasonality: weekday`, median and MAD × 1.4826 with `robust: true`. The registry's
benchmark columns hold the band for today; `rescore_history` re-scores past rows with the band each day had.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.metrics.definition import Direction, TypicalOptions
from heartbeat_core.metrics.registry import Band, RegistryMetric, active_metrics, as_direction, band_in_force
from heartbeat_core.readmodel.status import judge
from heartbeat_core.settings import get_settings

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Baseline(Band):
    """The band a window of history gives; whether it counts is `band_in_force`'s call."""

    def usable(self, options: TypicalOptions) -> bool:
        """Enough history and a non-zero spread: z-scores count."""
        return self.in_force(options) is not None

    def in_force(self, options: TypicalOptions) -> Band | None:
        return band_in_force("rolling_stat", self.mean, self.stddev, self.points, options)


def window_values(
    series: Iterable[tuple[date, float | None]], day: date, options: TypicalOptions
) -> list[float]:
    """The values a baseline for `day` is built from: the window before `day`, `day` itself excluded."""
    start = day - timedelta(days=options.window_days)
    weekday = options.seasonality == "weekday"
    return [
        float(v)
        for d, v in series
        if v is not None
        and start <= d < day
        and (not weekday or d.weekday() == day.weekday())
        and not (isinstance(v, float) and math.isnan(v))
    ]


def stats(values: Sequence[float], robust: bool = False) -> Baseline | None:
    if not values:
        return None
    if robust:
        centre = statistics.median(values)
        mad = statistics.median(abs(v - centre) for v in values)
        return Baseline(float(centre), float(mad * MAD_TO_SIGMA), len(values))
    mean = statistics.fmean(values)
    stddev = statistics.stdev(values) if len(values) > 1 else 0.0
    return Baseline(float(mean), float(stddev), len(values))


def baseline(
    series: Iterable[tuple[date, float | None]], day: date, options: TypicalOptions
) -> Baseline | None:
    """The band for scoring `day` (None when the window is empty). Pure: replay and backfill use it."""
    return stats(window_values(series, day, options), options.robust)


def score(
    value: float | None,
    *,
    direction: Direction,
    unit: str,
    options: TypicalOptions,
    band: Baseline | None,
    norm: float | None,
    alert: float | None,
    error: str | None = None,
) -> dict[str, Any]:
    """status, reason, z and the band in force, under the one status contract (same label as compute)."""
    active = band.in_force(options) if band is not None else None
    result = judge(value, direction, unit, norm=norm, alert=alert, band=active, options=options, error=error)
    return {
        "status": result.status,
        "reason": result.reason,
        "z": result.z,
        "typical_mean": active.mean if active else None,
        "typical_stddev": active.stddev if active else None,
    }


# ---------------------------------------------------------------------------------------------------------
# The registry's band for today


@dataclass
class TypicalReport:
    refreshed: dict[str, Baseline | None] = field(default_factory=dict)
    rescored: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "refreshed": {
                k: (None if b is None else {"mean": b.mean, "stddev": b.stddev, "points": b.points})
                for k, b in self.refreshed.items()
            },
            "rescored": self.rescored,
            "seconds": round(self.seconds, 3),
        }


def _rolling(conn: psycopg.Connection[Any], ids: Sequence[str] | None) -> list[RegistryMetric]:
    return [m for m in active_metrics(conn, ids) if m.typical_method == "rolling_stat"]


def typical_due(
    conn: psycopg.Connection[Any], ids: Sequence[str] | None = None, now: datetime | None = None
) -> bool:
    """True when some rolling_stat metric's band was not yet computed on today's business day."""
    metrics = _rolling(conn, ids)
    if not metrics:
        return False
    tz = get_settings().tz
    today = clock.business_day(now or clock.now(), tz)
    for m in metrics:
        at = m.extra.get("benchmark_computed_at")
        if at is None or clock.business_day(at, tz) < today:
            return True
    return False


def _series(
    conn: psycopg.Connection[Any], ids: list[str], since: date | None, until: date | None
) -> dict[str, list[tuple[date, float | None]]]:
    out: dict[str, list[tuple[date, float | None]]] = defaultdict(list)
    rows = conn.execute(
        """SELECT metric_id, as_of_date, value FROM heartbeat.metric_history
           WHERE metric_id = ANY(%s) AND value IS NOT NULL
             AND (%s::date IS NULL OR as_of_date >= %s::date) AND (%s::date IS NULL OR as_of_date < %s::date)
           ORDER BY metric_id, as_of_date""",
        (ids, since, since, until, until),
    ).fetchall()
    for metric_id, day, value in rows:
        out[metric_id].append((day, float(value)))
    return out


def refresh_typical(
    conn: psycopg.Connection[Any],
    ids: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    rescore_today: bool = True,
) -> TypicalReport:
    """Write each rolling_stat metric's band for today into the registry; re-score today's history row.

    Runs in the caller's transaction (commit after).
    """
    started = time.perf_counter()
    moment = now or clock.now()
    today = clock.business_day(moment, get_settings().tz)
    metrics = _rolling(conn, ids)
    report = TypicalReport()
    if not metrics:
        return report
    longest = max(m.typical_options.window_days for m in metrics)
    series = _series(conn, [m.metric_id for m in metrics], today - timedelta(days=longest), today)
    for m in metrics:
        band = baseline(series.get(m.metric_id, []), today, m.typical_options)
        report.refreshed[m.metric_id] = band
        conn.execute(
            """UPDATE heartbeat.metric_registry SET benchmark_mean = %s, benchmark_stddev = %s,
                      benchmark_points = %s, benchmark_computed_at = %s WHERE metric_id = %s""",
            (
                band.mean if band else None,
                band.stddev if band else None,
                band.points if band else 0,
                moment,
                m.metric_id,
            ),
        )
        if rescore_today:
            report.rescored += _rescore_rows(conn, m, {today: band})
    report.seconds = time.perf_counter() - started
    return report


def _rescore_rows(
    conn: psycopg.Connection[Any], metric: RegistryMetric, bands: dict[date, Baseline | None]
) -> int:
    """Re-score the history rows of `bands`' days with those bands and the thresholds each row holds."""
    rows = conn.execute(
        """SELECT as_of_date, value, norm_value, alert_value FROM heartbeat.metric_history
           WHERE metric_id = %s AND as_of_date = ANY(%s) AND value IS NOT NULL""",
        (metric.metric_id, list(bands)),
    ).fetchall()
    updates = []
    for day, value, norm, alert in rows:
        fields = score(
            float(value),
            direction=as_direction(metric.direction),
            unit=metric.unit,
            options=metric.typical_options,
            band=bands.get(day),
            norm=None if norm is None else float(norm),
            alert=None if alert is None else float(alert),
        )
        updates.append({**fields, "metric_id": metric.metric_id, "day": day})
    if updates:
        with conn.cursor() as cur:
            cur.executemany(
                """UPDATE heartbeat.metric_history SET status = %(status)s, reason = %(reason)s, z = %(z)s,
                          typical_mean = %(typical_mean)s, typical_stddev = %(typical_stddev)s
                   WHERE metric_id = %(metric_id)s AND as_of_date = %(day)s""",
                updates,
            )
    return len(updates)


def rescore_history(
    conn: psycopg.Connection[Any],
    ids: Sequence[str] | None = None,
    *,
    since: date | None = None,
) -> int:
    """Re-score z/status of past rows (e.g. after a backfill) with each day's point-in-time band.

    Returns the number of rows re-scored; runs in the caller's transaction.
    """
    metrics = _rolling(conn, ids)
    if not metrics:
        return 0
    series = _series(conn, [m.metric_id for m in metrics], None, None)
    count = 0
    for m in metrics:
        points = series.get(m.metric_id, [])
        days = [d for d, _ in points if since is None or d >= since]
        bands = {d: baseline(points, d, m.typical_options) for d in days}
        count += _rescore_rows(conn, m, bands)
    return count
