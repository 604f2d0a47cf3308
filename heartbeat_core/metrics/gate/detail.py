"""The `detail_rows` check: the `@detail` SQL runs and lists rows whenever the value is non-zero."""

from __future__ import annotations

from heartbeat_core.compute.engine import MetricSQLError, evaluate
from heartbeat_core.formatting import plural
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run


def detail_rows(ctx: GateContext) -> Outcome:
    if not ctx.parsed.detail_sql:
        return passed("no @detail section")
    if ctx.once(value_run).error is not None:
        return skipped("the value SQL did not run")
    try:
        result = evaluate(ctx.conn, ctx.metric, ctx.now, with_detail=True)
    except MetricSQLError as exc:
        return failed(str(exc))
    finally:
        ctx.conn.rollback()
    if result.detail is None:
        return failed("@detail returned no result set")
    rows = len(result.detail["rows"])
    if rows == 0 and result.value not in (None, 0):
        return failed(
            f"@detail returned no rows while the value is {result.value:g}",
            fix="the detail must list the rows behind a non-zero value (same filters as @value)",
        )
    more = "+" if result.detail.get("truncated") else ""
    return passed(
        f"@detail returned {rows}{more} {plural(rows, 'row')} ({', '.join(result.detail['columns'])})"
    )
