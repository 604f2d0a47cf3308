"""Checks that run the value SQL through the compute engine (`evaluate`: point in time, READ ONLY, timed),
now and at three past as-of moments: read_only, value_one_numeric_row, timing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from heartbeat_core import clock
from heartbeat_core.compute.engine import MetricSQLError, evaluate
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.settings import get_settings

PAST_MOMENTS_DAYS = (1, 7, 30)


@dataclass
class ValueRun:
    """The value SQL run now and at past moments; every later check reads how it went."""

    values: list[str] = field(default_factory=list)
    error: str | None = None
    now_ms: int | None = None
    value: float | None = None
    seconds: float = 0.0
    time_limit_s: float = 0.0
    not_run: bool = False  # the planner estimates it reads more than `run_rows`: judged from its plan only

    @property
    def timed_out(self) -> bool:
        return self.error is not None and "timed out" in self.error

    @property
    def wrote(self) -> bool:
        return self.error is not None and "tries to write" in self.error

    @property
    def slow(self) -> bool:
        """Over the time limit (timed out, or finished too late): too slow to run again under ANALYZE."""
        return (
            self.timed_out
            or self.not_run
            or (self.now_ms is not None and self.now_ms / 1000 >= self.time_limit_s)
        )

    @property
    def failed(self) -> bool:
        """The SQL failed for a reason other than the time limit (or was not run: too large to run)."""
        return self.error is not None and not self.timed_out and not self.not_run


def moments(ctx: GateContext) -> list[tuple[str, datetime]]:
    """Now, then the end of the business day 1, 7 and 30 days back."""
    today = clock.business_day(ctx.now, ctx.tz)
    return [("now", ctx.now)] + [
        (f"{days}d ago", clock.end_of_business_day(today - timedelta(days=days), ctx.tz))
        for days in PAST_MOMENTS_DAYS
    ]


def _too_large_to_run(ctx: GateContext) -> str | None:
    """Why the value is not run: the planner estimates its scans read more rows than `run_rows` (marts of
    billions of rows are judged from the plan, not run for minutes)."""
    if not ctx.limits.run_rows or get_settings().warehouse_url:
        return None
    from heartbeat_core.metrics.gate.projection import estimate  # projection reads this module's facts

    rows = ctx.once(estimate).rows_read
    if rows <= ctx.limits.run_rows:
        return None
    return (
        f"not run: the planner estimates its scans read {rows:,.0f} rows > {ctx.limits.run_rows:,}"
        " (--run-rows); judged from its plan by plan_at_scale"
    )


def value_run(ctx: GateContext) -> ValueRun:
    run = ValueRun(time_limit_s=ctx.limits.time_limit_s)
    too_large = _too_large_to_run(ctx)
    if too_large:
        run.error, run.not_run = too_large, True
        return run
    conn = ctx.conn
    started = time.perf_counter()
    for label, moment in moments(ctx):
        try:
            result = evaluate(conn, ctx.metric, moment, with_detail=False)
        except MetricSQLError as exc:
            run.error = f"at {label} ({moment:%Y-%m-%d %H:%M}): {exc}"
            break
        finally:
            conn.rollback()
        run.values.append(f"{label}: {'NULL' if result.value is None else f'{result.value:g}'}")
        if label == "now":
            run.now_ms = result.duration_ms
            run.value = result.value
            if run.slow:
                run.values.append("past moments not run: the value SQL is over the time limit")
                break
    run.seconds = round(time.perf_counter() - started, 3)
    return run


def read_only(ctx: GateContext) -> Outcome:
    run = ctx.once(value_run)
    if run.not_run:
        from heartbeat_core.metrics.gate.projection import estimate

        if ctx.once(estimate).writes:
            return failed(
                "its plan writes (ModifyTable)", fix="metric SQL only reads: remove INSERT/UPDATE/DELETE"
            )
        return passed("not run (too large); its plan writes nothing")
    if run.wrote:
        return failed(run.error or "", fix="metric SQL only reads: remove INSERT/UPDATE/DELETE")
    if run.failed:
        return passed("no write attempted before the SQL failed")
    return passed("ran in a READ ONLY transaction")


def value_one_numeric_row(ctx: GateContext) -> Outcome:
    run = ctx.once(value_run)
    if run.error is None:
        return passed("; ".join(run.values))
    if run.not_run:
        return skipped(run.error or "")
    if run.wrote or run.timed_out:
        return skipped("the SQL did not complete")
    return failed(run.error)


def timing(ctx: GateContext) -> Outcome:
    run = ctx.once(value_run)
    limit = ctx.limits.time_limit_s
    if run.timed_out:
        return failed(
            run.error or "", fix="look at the explain check: a missing index or a correlated subquery"
        )
    if run.not_run:
        return skipped((run.error or "") + " (its projected time is there)")
    if run.now_ms is None:
        return skipped("the value SQL did not run at now")
    seconds = run.now_ms / 1000
    if seconds >= limit:
        return failed(
            f"@value took {seconds:.2f} s ≥ {limit:g} s on the live data",
            fix="add the index the explain check names, or restructure the query",
            data={"seconds": seconds},
        )
    return passed(f"@value took {seconds:.3f} s (< {limit:g} s)", data={"seconds": seconds})
