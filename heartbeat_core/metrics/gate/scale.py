"""Checks that look past the data at hand (issue 19).

- `rollup_matches_raw`: a metric that reads rollups gives the same value through them (whole days from the
  rollup tables, the open day from raw rows) as with every rollup's window read from raw rows, now and at the
  end of two past days — a stale or wrongly keyed rollup shows here.
- `scales_with_rows`: given a larger copy of the marts (`--scale-url`, e.g. the demo world at scale 50, with
  `--scale-as-of` its data's own moment), EXPLAIN ANALYZE the value SQL on both and compare how its time grew
  with how the rows its scans read grew. A metric whose time grows much faster than its rows (a sort or hash
  spilling to disk, a plan that turns to a full scan, a nested loop) fails, and so does one over the time
  limit on the copy: the gate times what the metric will cost when the data has grown, not only today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.compute.engine import MetricSQLError, evaluate
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.plan import plan_nodes
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.read import reads


def rollup_matches_raw(ctx: GateContext) -> Outcome:
    metric = ctx.metric
    read = sorted(reads(metric.value_sql))
    if not read:
        return passed("reads no rollup")
    if ctx.once(value_run).error is not None:
        return skipped("the value SQL did not run")
    today = clock.business_day(ctx.now, ctx.tz)
    compared, mismatches = [], []
    for label, as_of in (
        ("now", ctx.now),
        ("1d ago", clock.end_of_business_day(today - timedelta(days=1), ctx.tz)),
        ("7d ago", clock.end_of_business_day(today - timedelta(days=7), ctx.tz)),
    ):
        try:
            via = evaluate(ctx.conn, metric, as_of, with_detail=False).value
            raw = evaluate(ctx.conn, metric, as_of, with_detail=False, raw_rollups=True).value
        except MetricSQLError as exc:
            return failed(f"at {label}: {exc}")
        compared.append(f"{label}: {via}" if via == raw else f"{label}: rollups {via} ≠ raw rows {raw}")
        if via != raw:
            mismatches.append(compared[-1])
    names = ", ".join(f"rollups.{r}" for r in read)
    if mismatches:
        return failed(
            f"{names}: " + "; ".join(mismatches),
            fix="refresh the rollup (`heartbeat metric compute` refreshes first); if it persists, its file must"
            " key every moment the metric filters on (e.g. reversed_at, not a reversed flag)",
        )
    return passed(f"{names} give the raw rows' value: " + "; ".join(compared))


_TABLE_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"}
_FLOOR_MS = 5.0  # below this a run at hand is timer noise, not a base to grow from


@dataclass(frozen=True)
class Cost:
    ms: float
    rows_read: float
    temp_blocks: int


def measure(conn: psycopg.Connection[Any], metric: RegistryMetric, as_of: datetime) -> Cost:
    """EXPLAIN ANALYZE of the value SQL as compute binds it: time, rows its scans read, temp blocks written."""
    with conn.transaction():
        moments = begin_point_in_time(conn, metric, as_of)
        row = conn.execute(
            b"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + moments.bind(metric.value_sql).encode()
        )
        document = (row.fetchone() or [None])[0]
    top = (json.loads(document) if isinstance(document, str) else document)[0]
    rows = 0.0
    for node in plan_nodes(top["Plan"]):
        if node.get("Node Type") in _TABLE_SCANS:  # rows read from tables, each once (not subquery scans)
            seen = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            rows += seen * node.get("Actual Loops", 1)
    return Cost(float(top.get("Execution Time", 0.0)), rows, int(top["Plan"].get("Temp Written Blocks", 0)))


def _describe(cost: Cost) -> str:
    spill = f", {cost.temp_blocks:,} temp blocks" if cost.temp_blocks else ""
    return f"{cost.ms / 1000:.2f} s reading {cost.rows_read:,.0f} rows{spill}"


def scales_with_rows(ctx: GateContext) -> Outcome:
    limits = ctx.limits
    if not limits.scale_url:
        return passed("not measured: no larger copy given (--scale-url)")
    if ctx.once(value_run).failed:
        return skipped("the value SQL did not run")
    try:  # each side twice, the faster kept: warm caches on both, not a cold copy against warm data at hand
        here = min((measure(ctx.conn, ctx.metric, ctx.now) for _ in range(2)), key=lambda c: c.ms)
        with psycopg.connect(limits.scale_url, autocommit=True) as big_conn:
            at = limits.scale_as_of or ctx.now
            big = min((measure(big_conn, ctx.metric, at) for _ in range(2)), key=lambda c: c.ms)
    except psycopg.Error as exc:
        return failed(f"could not run on the copy: {str(exc).strip().splitlines()[0]}")
    rows_growth = big.rows_read / max(here.rows_read, 1.0)
    time_growth = big.ms / max(here.ms, _FLOOR_MS)
    evidence = f"here {_describe(here)}; on the copy {_describe(big)}: time ×{time_growth:.1f} for rows ×{rows_growth:.1f}"
    data = {"here_ms": here.ms, "copy_ms": big.ms, "rows_growth": rows_growth, "time_growth": time_growth}
    if big.ms / 1000 >= limits.time_limit_s:
        return failed(
            evidence, fix="read a rollup (rollups/) or add the index the explain check names", data=data
        )
    if big.ms / 1000 >= limits.scale_floor_s and time_growth > limits.scale_growth_factor * max(
        rows_growth, 1.0
    ):
        return failed(
            evidence + " — cost grows faster than the rows it reads",
            fix="look for a sort or hash spilling (temp blocks), a full scan or a nested loop in the copy's plan",
            data=data,
        )
    return passed(evidence, data=data)
