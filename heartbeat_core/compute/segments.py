"""The segments of a metric at one as-of moment: its `@segments` SQL, read and checked, and stored per day.

A `@segments` section runs in the metric's own point-in-time, read-only transaction (in a savepoint: a failing
segment query is recorded beside the value and never blocks it). It returns one row per segment with the
columns `dimension, segment, value` plus either `numerator, denominator` (a rate or share: the value is
numerator over denominator) or `weight` (a sum or count: the segments add up to the value). Each dimension
holds at most `SEGMENT_CAP` segments (the gate fails above it; compute keeps the heaviest and records why).
Segment values are kept per metric-day for `KEEP_DAYS` days, so each segment has its own typical band, and a
backfill computes them only for its last `SEGMENT_DAYS` days (the band's window, bounded cost).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import psycopg

from heartbeat_core.compute import drivers as adtributor

SEGMENT_CAP = 50  # segments per dimension
MAX_DIMENSIONS = 10
SEGMENT_DAYS = 35  # days of a backfill that compute segments (a typical window of 28 days and a margin)
KEEP_DAYS = 120
BASE_COLUMNS = ("dimension", "segment", "value")
RATE_COLUMNS = ("numerator", "denominator")
SUM_COLUMNS = ("weight",)

SegmentKind = Literal["rate", "sum"]


@dataclass(frozen=True)
class SegmentRow:
    dimension: str
    segment: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    weight: float | None = None

    @property
    def size(self) -> float:
        """How heavy the segment is (its denominator or its weight), for keeping the heaviest."""
        return abs(self.denominator if self.denominator is not None else self.weight or 0.0)


@dataclass
class SegmentSet:
    kind: SegmentKind
    rows: list[SegmentRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class SegmentShapeError(ValueError):
    """The @segments result does not have the agreed columns."""


def kind_of(columns: Sequence[str]) -> SegmentKind:
    """`rate` or `sum` from the result's column names; SegmentShapeError says what was expected."""
    names = [c.lower() for c in columns]
    expected = (
        "dimension, segment, value plus numerator, denominator (a rate or share) or weight (a sum or count)"
    )
    missing = [c for c in BASE_COLUMNS if c not in names]
    rate = all(c in names for c in RATE_COLUMNS)
    total = all(c in names for c in SUM_COLUMNS)
    extra = [c for c in names if c not in (*BASE_COLUMNS, *RATE_COLUMNS, *SUM_COLUMNS)]
    if missing or extra or rate == total or (not rate and any(c in names for c in RATE_COLUMNS)):
        found = ", ".join(names) or "no columns"
        raise SegmentShapeError(f"@segments returned columns {found} (expected {expected})")
    return "rate" if rate else "sum"


def _number(value: Any, column: str, segment: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SegmentShapeError(f"@segments column {column} of {segment} is {value!r} (expected a number)")
    return float(value)


def read_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], cap: int = SEGMENT_CAP) -> SegmentSet:
    """The checked segment set; a dimension over the cap keeps its `cap` heaviest segments and a problem."""
    kind = kind_of(columns)
    index = {c.lower(): i for i, c in enumerate(columns)}
    found: list[SegmentRow] = []
    for row in rows:
        dimension, segment = row[index["dimension"]], row[index["segment"]]
        if dimension is None or segment is None:
            continue
        name = f"{dimension}={segment}"
        numbers = {
            c: _number(row[index[c]], c, name)
            for c in ("value", *(RATE_COLUMNS if kind == "rate" else SUM_COLUMNS))
        }
        found.append(SegmentRow(str(dimension), str(segment), **numbers))
    result = SegmentSet(kind)
    counts = Counter(r.dimension for r in found)
    if len(counts) > MAX_DIMENSIONS:
        result.problems.append(f"@segments returned {len(counts)} dimensions (at most {MAX_DIMENSIONS})")
    for dimension, count in counts.items():
        if count > cap:
            result.problems.append(
                f"@segments dimension {dimension} has {count} segments (at most {cap}): group the"
                " rare ones into one segment such as 'other'"
            )
    for dimension in list(counts)[:MAX_DIMENSIONS]:
        mine = sorted((r for r in found if r.dimension == dimension), key=lambda r: -r.size)
        result.rows.extend(mine[:cap])
    return result


def collect(cur: psycopg.Cursor[Any], segments_sql: str) -> SegmentSet:
    """Run the (bound) @segments SQL inside an open point-in-time transaction and read its rows."""
    cur.execute(segments_sql.encode())
    if cur.description is None:
        raise SegmentShapeError("@segments returned no result set")
    columns = [c.name for c in cur.description]
    kind_of(columns)
    rows = cur.fetchmany(SEGMENT_CAP * MAX_DIMENSIONS * 4 + 1)
    return read_rows(columns, rows)


# ---------------------------------------------------------------------------------------------------------
# Storage (0015) and the day's drivers


def _history(
    conn: psycopg.Connection[Any], metric_id: str, since: date, day: date
) -> list[tuple[date, SegmentRow]]:
    rows = conn.execute(
        """SELECT as_of_date, dimension, segment, value, numerator, denominator, weight
           FROM heartbeat.segment_value WHERE metric_id = %s AND as_of_date >= %s AND as_of_date < %s""",
        (metric_id, since, day),
    ).fetchall()
    return [(r[0], SegmentRow(*r[1:])) for r in rows]


def _days_run(conn: psycopg.Connection[Any], metric_id: str, since: date, day: date) -> list[date]:
    """Days the segments ran (a day without rows is a day every segment was 0, not a missing day)."""
    rows = conn.execute(
        """SELECT as_of_date FROM heartbeat.segment_day WHERE metric_id = %s AND as_of_date >= %s
             AND as_of_date < %s AND (error IS NULL OR segments > 0)""",
        (metric_id, since, day),
    ).fetchall()
    return [r[0] for r in rows]


def record_day(
    conn: psycopg.Connection[Any],
    metric: Any,  # RegistryMetric: its id, unit and typical options
    day: date,
    found: SegmentSet | None,
    error: str | None,
    *,
    now: datetime,
) -> list[adtributor.Driver]:
    """Store one metric-day's segments and drivers (or the error); returns the drivers found."""
    problems = ([error] if error else []) + (found.problems if found else [])
    drivers: list[adtributor.Driver] = []
    with conn.transaction():
        # derived data, recomputed by the next run: no need to wait for the WAL flush (a commit per metric-day
        # was two thirds of the segments' cost in a backfill)
        conn.execute("SET LOCAL synchronous_commit = off")
        if found is not None:
            conn.execute(
                "DELETE FROM heartbeat.segment_value WHERE metric_id = %s AND as_of_date = %s",
                (metric.metric_id, day),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO heartbeat.segment_value (metric_id, as_of_date, dimension, segment, value,
                           numerator, denominator, weight) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    [(metric.metric_id, day, r.dimension, r.segment, r.value, r.numerator, r.denominator,
                      r.weight) for r in found.rows],
                )  # fmt: skip
            options = metric.typical_options
            since = day - timedelta(days=options.window_days)
            history = _history(conn, metric.metric_id, since, day)
            ran = _days_run(conn, metric.metric_id, since, day)
            drivers = adtributor.find_drivers(found.kind, found.rows, history, day, options, ran)
        conn.execute(
            """INSERT INTO heartbeat.segment_day (metric_id, as_of_date, segments, drivers, error, computed_at)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (metric_id, as_of_date) DO UPDATE SET segments = excluded.segments,
                   drivers = excluded.drivers, error = excluded.error, computed_at = excluded.computed_at""",
            (metric.metric_id, day, len(found.rows) if found else 0,
             json.dumps([d.as_json() for d in drivers]), "; ".join(problems) or None, now),
        )  # fmt: skip
        conn.execute(
            "DELETE FROM heartbeat.segment_value WHERE metric_id = %s AND as_of_date < %s",
            (metric.metric_id, day - timedelta(days=KEEP_DAYS)),
        )
    return drivers
