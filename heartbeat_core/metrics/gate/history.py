"""The `history_matches` check: `@history` (a faster backfill) gives the same numbers as `@value` replayed
at the end of a few past days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.compute.engine import MetricSQLError, evaluate
from heartbeat_core.formatting import counted
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run

HISTORY_DAYS_CHECKED = (1, 2, 7)


class _HistoryError(Exception):
    """@history could not be read; the message is the check's evidence."""


def _history_rows(ctx: GateContext, history_sql: str, first: date) -> list[tuple[Any, ...]]:
    """The @history rows from `first` on, run point in time and read-only like compute runs them."""
    try:
        with ctx.conn.transaction():
            moments = begin_point_in_time(ctx.conn, ctx.metric, ctx.now, history_from=first)
            with ctx.conn.cursor() as cur:
                cur.execute(moments.bind(history_sql).encode())
                if cur.description is None or len(cur.description) != 2:
                    raise _HistoryError("@history must return two columns: (as_of_date, value)")
                return cur.fetchall()
    except psycopg.Error as exc:
        raise _HistoryError(f"@history: {str(exc).strip().splitlines()[0]}") from exc


def _same(got: float | None, replay: float | None) -> bool:
    if got is None or replay is None:
        return got is None and replay is None
    return abs(got - replay) <= 1e-6 * max(1.0, abs(replay))


def _compare(ctx: GateContext, by_day: dict[Any, Any], today: date) -> tuple[list[str], list[str]]:
    """(mismatches, comparisons) of @history against @value replayed on each checked day."""
    mismatches: list[str] = []
    compared: list[str] = []
    for days in HISTORY_DAYS_CHECKED:
        day = today - timedelta(days=days)
        if day not in by_day:
            mismatches.append(f"{day}: no @history row")
            continue
        try:
            replay = evaluate(
                ctx.conn, ctx.metric, clock.end_of_business_day(day, ctx.tz), with_detail=False
            ).value
        except MetricSQLError as exc:
            mismatches.append(f"{day}: @value failed ({exc})")
            continue
        got = None if by_day[day] is None else float(by_day[day])
        same = _same(got, replay)
        compared.append(f"{day}: {got} = {replay}" if same else f"{day}: @history {got} ≠ @value {replay}")
        if not same:
            mismatches.append(compared[-1])
    return mismatches, compared


def history_matches(ctx: GateContext) -> Outcome:
    history_sql = ctx.parsed.history_sql
    if not history_sql:
        return passed("no @history section")
    if ctx.once(value_run).error is not None:
        return skipped("the value SQL did not run")
    today = clock.business_day(ctx.now, ctx.tz)
    try:
        rows = _history_rows(ctx, history_sql, today - timedelta(days=max(HISTORY_DAYS_CHECKED)))
    except _HistoryError as exc:
        return failed(str(exc))
    by_day = {(day.date() if isinstance(day, datetime) else day): value for day, value in rows}
    mismatches, compared = _compare(ctx, by_day, today)
    if mismatches:
        return failed(
            "; ".join(mismatches),
            fix="@history must compute, per day, exactly what @value computes at that day's end",
        )
    return passed(f"{counted(len(rows), '@history row')}; " + "; ".join(compared))
