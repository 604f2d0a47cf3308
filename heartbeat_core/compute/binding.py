"""The point-in-time moments of one evaluation, bound into the metric SQL as constants.

Metric files read time through `heartbeat.as_of()`, `heartbeat.window_start(...)` and `heartbeat.history_from()`
(the authoring form: the same SQL computes today or any past day). Called inside a scan filter, those STABLE
functions reach the planner as opaque expressions: it cannot estimate the range they select, so at scale it picks
plans for "a third of the table" instead of "one day of it". Compute therefore sets the settings the functions
read (so any call the rewrite does not catch still gives the same answer), asks Postgres for the moments once —
its own interval arithmetic in the metric's time zone, so the constants equal what the functions return — and
replaces each call with a typed literal before the SQL runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.compute import reads_rollups
from heartbeat_core.rollups.read import expand, expand_whole_days
from heartbeat_core.settings import get_settings

# `heartbeat.period_interval(period)` as written in its SQL (migration 0001): the span a period's window covers
PERIOD_INTERVALS = {
    "snapshot": "0 seconds",
    "24h": "24 hours",
    "7d": "7 days",
    "30d": "30 days",
    "funnel": "30 days",
}
_PERIODS = tuple(PERIOD_INTERVALS)
_AS_OF = re.compile(r"\bheartbeat\s*\.\s*as_of\s*\(\s*\)", re.IGNORECASE)
_WINDOW_START = re.compile(
    r"\bheartbeat\s*\.\s*window_start\s*\(\s*(?:'(" + "|".join(_PERIODS) + r")'(?:\s*::\s*text)?\s*)?\)",
    re.IGNORECASE,
)
_HISTORY_FROM = re.compile(r"\bheartbeat\s*\.\s*history_from\s*\(\s*\)", re.IGNORECASE)

# Per-client aggregates over a month at demo scale 50 (~460k clients from ~2.5M rollup rows) hashed past the
# server's default 4 MB and spilled to temp files (bench_metric_plans.py); metric transactions may use this much
# for each sort or hash. Two metrics run at a time by default, so the bound stays small beside shared_buffers.
METRIC_WORK_MEM = "64MB"

_MOMENTS_SQL = "SELECT heartbeat.as_of(), heartbeat.window_start(), heartbeat.history_from(), " + ", ".join(
    f"heartbeat.window_start('{p}')" for p in _PERIODS
)


@dataclass(frozen=True)
class Moments:
    """What `as_of()`, `window_start(...)` and `history_from()` return in this transaction."""

    as_of: datetime
    window_start: datetime
    history_from: date
    window_starts: dict[str, datetime]
    # the rollups the metric reads (id → query) and how: whole days from the table, or all from raw rows
    rollups: dict[str, str] = field(default_factory=dict)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    raw_rollups: bool = False
    whole_day_rollups: frozenset[str] = frozenset()  # rollups with a reach: whole days only

    def bind(self, sql: str, moment: Callable[[datetime], str] | None = None) -> str:
        """The SQL with every recognised call replaced by its value as a typed constant, and every
        `rollups.<id>` by that rollup over the metric's window (`heartbeat_core.rollups.read`).

        `moment` writes a timestamp constant (default: a Postgres `timestamptz`); warehouse mode passes the
        engine's own form (`heartbeat_core.warehouse.transpile`), so one binding serves every engine."""
        if self.rollups:
            sql = expand(
                sql, self.rollups, self.window_start, self.as_of, self.tz,
                raw=self.raw_rollups, whole_day_only=self.whole_day_rollups,
            )  # fmt: skip
        literal = moment or _timestamptz
        sql = _WINDOW_START.sub(lambda match: literal(self._window_moment(match)), sql)
        sql = _AS_OF.sub(lambda _match: literal(self.as_of), sql)
        return _HISTORY_FROM.sub(f"'{self.history_from.isoformat()}'::date", sql)

    def bind_days(self, sql: str, period: str) -> str:
        """The SQL for one statement over many days (backfill): `as_of()` becomes the column `hb_day.as_of`
        of the caller's day list and `window_start(...)` that column minus the period — the functions'
        own definitions, evaluated in the same zone — so the planner still sees ranges it can use per day."""

        def window(match: re.Match[str]) -> str:
            return f"(hb_day.as_of - heartbeat.period_interval('{(match.group(1) or period).lower()}'))"

        if self.rollups:  # whole days from the tables: the caller checked every window is whole days
            sql = expand_whole_days(
                sql,
                set(self.rollups),
                f"hb_day.as_of - heartbeat.period_interval('{period}')",
                "hb_day.as_of",
            )
        sql = _WINDOW_START.sub(window, sql)
        sql = _AS_OF.sub("hb_day.as_of", sql)
        return _HISTORY_FROM.sub("(hb_day.as_of - interval '90 days')::date", sql)  # as a day replayed alone

    def _window_moment(self, match: re.Match[str]) -> datetime:
        period = match.group(1)
        return self.window_starts[period.lower()] if period else self.window_start


def nominal_moments(now: datetime, tz: ZoneInfo, period: str) -> Moments:
    """The moments of a metric of `period` at `now`, worked out here rather than asked of Postgres: for checks
    and previews that need the SQL's shape and its window (the gate's `transpiles`, `heartbeat warehouse
    transpile`), never for a value. `window_start()` is the metric's own period, as compute binds it."""
    starts = {p: _minus_period(now, p, tz) for p in _PERIODS}
    history_from = (now.astimezone(tz) - timedelta(days=90)).date()
    return Moments(now, starts[period], history_from, starts, tz=tz)


def _minus_period(moment: datetime, period: str, tz: ZoneInfo) -> datetime:
    """`moment - period_interval(period)` as Postgres works it in the metric's zone: days move the wall
    clock (a 7-day window over a DST change is 7 calendar days), hours and seconds are elapsed time."""
    amount, unit = PERIOD_INTERVALS[period].split()
    if unit == "days":
        return (moment.astimezone(tz) - timedelta(days=int(amount))).astimezone(moment.tzinfo)
    return moment - timedelta(**{unit: int(amount)})


def _timestamptz(moment: datetime) -> str:
    return f"'{moment.isoformat()}'::timestamptz"


def begin_point_in_time(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    as_of: datetime,
    *,
    history_from: date | None = None,
    raw_rollups: bool = False,
) -> Moments:
    """Open the metric's read-only, time-limited transaction at `as_of`; returns its moments to bind.

    `work_mem` is METRIC_WORK_MEM. JIT is off inside it: compiling a heavy metric's expressions took 0.3–1.6 s
    per query at demo scale 50 (bench_metric_plans.py), more than it saved on scans of a few million rows."""
    settings = get_settings()
    conn.execute("SET TRANSACTION READ ONLY")
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('heartbeat.as_of', %s, true),"
        " set_config('heartbeat.period', %s, true), set_config('TimeZone', %s, true),"
        " set_config('heartbeat.history_from', %s, true), set_config('jit', 'off', true),"
        " set_config('work_mem', %s, true)",
        (
            f"{int(settings.metric_statement_timeout_s * 1000)}",
            as_of.isoformat(),
            metric.period,
            settings.timezone,
            history_from.isoformat() if history_from else "",
            METRIC_WORK_MEM,
        ),
    )
    row = conn.execute(_MOMENTS_SQL).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    rollups, whole_day_only = _rollup_queries(conn, metric)
    return Moments(
        as_of=row[0],
        window_start=row[1],
        history_from=row[2],
        window_starts=dict(zip(_PERIODS, row[3:], strict=True)),
        rollups=rollups,
        tz=settings.tz,
        raw_rollups=raw_rollups,
        whole_day_rollups=whole_day_only,
    )


def _rollup_queries(
    conn: psycopg.Connection[Any], metric: RegistryMetric
) -> tuple[dict[str, str], frozenset[str]]:
    """The queries of the rollups the metric's SQL reads, as synced (none: nothing to look up), and which of
    them have a reach (read as whole days only)."""
    ids = sorted(reads_rollups(metric))
    if not ids:
        return {}, frozenset()
    rows = conn.execute(
        "SELECT rollup_id, sql, reach_days FROM heartbeat.rollup_registry WHERE rollup_id = ANY(%s)"
        " AND retired_at IS NULL",
        (ids,),
    ).fetchall()
    return {row[0]: row[1] for row in rows}, frozenset(row[0] for row in rows if row[2])
