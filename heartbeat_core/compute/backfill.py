"""Backfill in one statement: every past day's @value of a metric at once, instead of one replay per day.

The metric's @value runs as a LATERAL subquery over the list of (day, end-of-day moment) pairs, with its
point-in-time calls bound to that list's column (`Moments.bind_days`): one planning, one transaction, one round
trip per metric, each day's range still reaching the indexes as a parameter. A day whose result is not exactly
one number is left out (the caller replays it alone, which reports why), and so is every day when the statement
fails. A metric that reads rollups reads each day's window as whole days of the rollup tables (an end-of-day
as-of of a period in whole days has no partial day: nothing to read from raw rows), so it too is one statement
— unless some day's window does not start at a midnight (a 24 h window across a clock change), when every day
is replayed alone.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.metrics.registry import RegistryMetric


def _days_list(days: list[tuple[date, datetime]]) -> str:
    rows = ", ".join(f"('{d.isoformat()}'::date, '{m.isoformat()}'::timestamptz)" for d, m in days)
    return f"(VALUES {rows}) AS hb_day(day, as_of)"


def values_for_days(
    conn: psycopg.Connection[Any], metric: RegistryMetric, days: list[tuple[date, datetime]], now: datetime
) -> dict[date, float | None]:
    """The days' values that came out as exactly one number (or NULL) each; raises psycopg.Error on failure."""
    if not days:
        return {}
    body = metric.value_sql.strip().rstrip(";").strip()
    found: dict[date, list[Any]] = {}
    with conn.transaction():
        moments = begin_point_in_time(conn, metric, now, history_from=days[0][0])
        if moments.rollups and not _whole_days(conn, days, metric.period):
            return {}
        sql = (
            f"SELECT hb_day.day, hb_value.* FROM {_days_list(days)} LEFT JOIN LATERAL"
            f" (SELECT true AS hb_present, hb_q.* FROM (\n{moments.bind_days(body, metric.period)}\n) AS hb_q)"
            " AS hb_value ON true"
        )
        with conn.cursor() as cur:
            cur.execute(sql.encode())
            if cur.description is None or len(cur.description) != 3:
                return {}
            for day, present, value in cur.fetchall():
                if present:  # a day with no row is replayed alone, which says so
                    found.setdefault(day, []).append(value)
    return {day: _number(values[0]) for day, values in found.items() if len(values) == 1 and _ok(values[0])}


def _whole_days(conn: psycopg.Connection[Any], days: list[tuple[date, datetime]], period: str) -> bool:
    """Whether every day's window [as_of − period, as_of) is whole days of the session's zone (as the
    transaction's `TimeZone`, the project's, splits them)."""
    start = "hb_day.as_of - heartbeat.period_interval(%(period)s)"
    sql = (
        f"SELECT bool_and(date_trunc('day', hb_day.as_of) = hb_day.as_of"
        f" AND date_trunc('day', {start}) = {start}) FROM {_days_list(days)}"
    )
    row = conn.execute(sql.encode(), {"period": period}).fetchone()
    return bool(row and row[0])


def _ok(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    number = float(value)
    return number == number and number not in (float("inf"), float("-inf"))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
