"""Row-volume tests: is the number of rows a table received plausible against its typical band, either way?

- `rows_per_day = "<timestamp column>"`: the rows dated today so far (UTC) against the same hours of the past
  same weekdays (8 weeks), so a Monday at 09:00 is held to earlier Mondays at 09:00. Counted from the landed
  table itself, so the history is there from the first run.
- `rows_per_load = true`: the rows the source's latest dlt load brought into the table (`_dlt_load_id`),
  against the loads before it (28 days). A load's rows are counted right after it lands and kept in
  `heartbeat.load_volume`, since a later merge moves updated rows to the newer load.

The band is typical's (`readmodel.typical`: the same window, weekday and robust median/MAD rules as metric
bands, one home), with a floor on the spread: √mean for daily counts (events arrive as a Poisson stream, so a
quiet table never fails on a handful of rows) and half a row per load (a lookup table replaced whole has no
spread at all, and losing any of it is worth a look). Beyond `z` (default 4) either way the test fails.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core import clock
from heartbeat_core.datatests.spec import TestSpec
from heartbeat_core.formatting import format_number
from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.readmodel.typical import Baseline, baseline, stats

PER_DAY = TypicalOptions(window_days=56, min_points=4, seasonality="weekday", robust=True)
PER_LOAD = TypicalOptions(window_days=28, min_points=8, robust=True)
LOAD_FLOOR = 0.5


def _table(spec: TestSpec) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(spec.source), sql.Identifier(spec.table))


def day_series(
    conn: psycopg.Connection[Any], spec: TestSpec, now: datetime
) -> list[tuple[date, float | None]]:
    """Rows of today and of the same weekday in each past week of the window, each counted up to `now`'s time
    of day (only those hours are read: a few index ranges, not eight weeks of rows); a day without rows counts
    0 from the first day with any, so a table that started landing last week has no empty history before it."""
    midnight = datetime.combine(now.date(), datetime.min.time(), now.tzinfo)
    elapsed = now - midnight
    days = [midnight - timedelta(weeks=k) for k in range(PER_DAY.window_days // 7, -1, -1)]
    col = sql.SQL("t.{}::timestamptz").format(sql.Identifier(spec.columns[0]))
    ranges = sql.SQL(" OR ").join(
        sql.SQL("({c} >= {lo} AND {c} <= {hi})").format(c=col, lo=sql.Literal(d), hi=sql.Literal(d + elapsed))
        for d in days
    )
    query = sql.SQL("SELECT ({c})::date, count(*) FROM {t} t WHERE {r} GROUP BY 1").format(
        c=col, t=_table(spec), r=ranges
    )
    conn.execute("SELECT set_config('TimeZone', 'UTC', true)")
    found = dict(conn.execute(query).fetchall())
    if not found:
        return [(now.date(), 0.0)]
    first = min(found)
    return [(d.date(), float(found.get(d.date(), 0))) for d in days if d.date() >= first]


def _verdict(
    spec: TestSpec, value: float, band: Baseline | None, floor: float, what: str, typical: str
) -> tuple[str, int, dict[str, Any], str | None]:
    """status, failing rows (the excess or shortfall beyond typical), the sample row, the message."""
    if band is None or band.points < (PER_DAY if spec.test == "rows_per_day" else PER_LOAD).min_points:
        have = band.points if band else 0
        return "pass", 0, {}, f"{format_number(value, 'count')} {what}; no band yet ({have} points)"
    spread = max(band.stddev, floor)
    z = (value - band.mean) / spread
    low, high = max(0.0, band.mean - spec.z * spread), band.mean + spec.z * spread
    sample = {
        "rows": int(value),
        "typical": round(band.mean, 1),
        "low": round(low, 1),
        "high": round(high, 1),
    }
    sample["z"] = round(z, 1)
    line = (
        f"{format_number(value, 'count')} {what} vs typical {format_number(band.mean, 'count')}"
        f" ({format_number(low, 'count')}–{format_number(high, 'count')}) {typical}: z = {z:+.1f}"
    )
    if abs(z) <= spec.z:
        return "pass", 0, sample, line
    return "fail", int(abs(round(value - band.mean))), sample, line


def per_day(
    conn: psycopg.Connection[Any], spec: TestSpec
) -> tuple[str, int, list[dict[str, Any]], str | None]:
    now = clock.now()
    return day_verdict(spec, day_series(conn, spec, now), now)


def day_verdict(
    spec: TestSpec, series: list[tuple[date, float | None]], now: datetime
) -> tuple[str, int, list[dict[str, Any]], str | None]:
    """The verdict on today's rows against the same hours of past same weekdays (wherever they were counted:
    the Postgres marts, or the warehouse engine)."""
    today = dict(series).get(now.date()) or 0.0
    band = baseline(series, now.date(), PER_DAY)
    floor = math.sqrt(band.mean) if band else 0.0
    what = f"rows so far today ({now:%a %d %b}, to {now:%H:%M} UTC)"
    status, failing, sample, message = _verdict(spec, today, band, floor, what, f"by this hour on {now:%A}s")
    return status, failing, [{"day": now.date().isoformat(), **sample}] if sample else [], message


def latest_load(conn: psycopg.Connection[Any], source: str) -> str | None:
    """The source's newest completed dlt load (None before its first)."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{source}"._dlt_loads',)).fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(
        sql.SQL(
            "SELECT load_id FROM {}._dlt_loads WHERE status = 0 ORDER BY inserted_at DESC LIMIT 1"
        ).format(sql.Identifier(source))
    ).fetchone()
    return str(row[0]) if row else None


def record_load(conn: psycopg.Connection[Any], spec: TestSpec, load_id: str, rows: int | None) -> None:
    """Keep the rows `load_id` brought into the table, once: as ingest counted them (`rows`, given by the
    job), else counted by `_dlt_load_id` where the table carries it (parquet loads do not)."""
    seen = conn.execute(
        "SELECT 1 FROM heartbeat.load_volume WHERE source = %s AND table_name = %s AND load_id = %s",
        (spec.source, spec.table, load_id),
    ).fetchone()
    if seen:
        return
    if rows is None:
        has = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " AND column_name = '_dlt_load_id'",
            (spec.source, spec.table),
        ).fetchone()
        if not has:
            return
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE _dlt_load_id = %s").format(_table(spec)), (load_id,)
        ).fetchone()
        rows = int(row[0]) if row else 0
    conn.execute(
        "INSERT INTO heartbeat.load_volume (source, table_name, load_id, rows, landed_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (spec.source, spec.table, load_id, rows, clock.now()),
    )


def per_load(
    conn: psycopg.Connection[Any], spec: TestSpec
) -> tuple[str, int, list[dict[str, Any]], str | None]:
    return load_verdict(conn, spec, latest_load(conn, spec.source))


def load_verdict(
    conn: psycopg.Connection[Any], spec: TestSpec, load_id: str | None
) -> tuple[str, int, list[dict[str, Any]], str | None]:
    """The verdict on `load_id`'s rows against earlier loads, as counted in the read model."""
    if load_id is None:
        return "pass", 0, [], "no load yet"
    rows = conn.execute(
        "SELECT load_id, rows FROM heartbeat.load_volume WHERE source = %s AND table_name = %s"
        " AND landed_at >= %s ORDER BY landed_at DESC LIMIT 500",
        (spec.source, spec.table, clock.now() - timedelta(days=PER_LOAD.window_days)),
    ).fetchall()
    counts = dict(rows)
    if load_id not in counts:
        return "pass", 0, [], f"load {load_id} not counted (loads are counted as they land, inside the job)"
    band = stats([float(n) for lid, n in rows if lid != load_id], robust=True)
    what = f"rows in load {load_id}"
    status, failing, sample, message = _verdict(
        spec, float(counts[load_id]), band, LOAD_FLOOR, what, "per load"
    )
    return status, failing, [{"load_id": load_id, **sample}] if sample else [], message
