"""Benchmark: does the gate's planner projection tell what a metric costs at a larger scale?

    .venv/bin/python bench/bench_scale_gate.py --small-url …/hb_sg_s1 --large-url …/hb_s50 --factor 50 \
        [--metrics a,b] [--no-actual]

For every demo metric's @value (rollup references read from raw rows on both sides, as a source database holds
no rollup tables — the same SQL is compared, the one compute runs before the rollups are built):

- projected: `projection.project` of the plan on the small world (EXPLAIN only) × the factor, in seconds by the
  ratio of seconds to cost units measured there (EXPLAIN ANALYZE at hand), and its findings;
- explain-only: the same reading at factor 1 of the plan on the large world (what `--run-rows` judges without
  running the metric);
- actual: EXPLAIN (ANALYZE, BUFFERS) on the large world (read-only transaction): seconds, rows read, temp blocks,
  and the larger-copy verdict `scales_with_rows` would give (time growth against rows growth).

Both worlds are only read. Record in bench/RESULTS.md under "Compute at scale".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def raw_form(conn: psycopg.Connection, metric, as_of: datetime):  # type: ignore[no-untyped-def]
    """The metric with every `rollups.<id>` read from raw rows (the demo rollups' queries)."""
    from heartbeat_core.compute.binding import begin_point_in_time
    from heartbeat_core.rollups.read import expand, reads
    from heartbeat_demo.check import _demo_rollups

    if not reads(metric.value_sql):
        return metric
    with conn.transaction():
        m = begin_point_in_time(conn, metric, as_of)
    sql = expand(metric.value_sql, _demo_rollups(), m.window_start, m.as_of, ZoneInfo("UTC"), raw=True)
    return replace(metric, value_sql=sql)


def verdict(projection, ms_per_cost: float, limits) -> str:  # type: ignore[no-untyped-def]
    """What plan_at_scale says of one projection: fail on any finding or a projected time over the limit."""
    seconds = projection.seconds(ms_per_cost)
    kinds = sorted(
        {f.kind for f in projection.findings} | ({"time"} if seconds >= limits.time_limit_s else set())
    )
    return f"{'FAIL' if kinds else 'pass'} {seconds:.2f} s {','.join(kinds) or '-'}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small-url", required=True)
    parser.add_argument("--large-url", required=True)
    parser.add_argument("--factor", type=float, default=50.0)
    parser.add_argument("--metrics", default="")
    parser.add_argument("--no-actual", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", "600s")
    from heartbeat_core.metrics.gate.context import to_registry_metric
    from heartbeat_core.metrics.gate.header import parse_with_lines
    from heartbeat_core.metrics.gate.projection import calibrate, estimated_plan, project
    from heartbeat_core.metrics.gate.report import Limits
    from heartbeat_core.metrics.gate.scale import measure
    from heartbeat_demo import PROJECT_DIR

    defs = sorted((PROJECT_DIR / "metric_defs").glob("*.sql"))
    wanted = {m for m in args.metrics.split(",") if m}
    limits = Limits()
    print(f"load average {os.getloadavg()}, {datetime.now(UTC):%H:%M} UTC", flush=True)
    print(
        "metric | here s | ×factor from small: verdict, s, flags | explain-only on large: verdict, s, flags"
        " | actual s | ms per 1k cost | temp blocks | rows × (time ×) | copy verdict"
    )
    with (
        psycopg.connect(args.small_url, autocommit=True) as small,
        psycopg.connect(args.large_url, autocommit=True) as large,
    ):
        for path in defs:
            if wanted and path.stem not in wanted:
                continue
            definition, problems, _ = parse_with_lines(path.read_text(), path.stem, str(path))
            assert definition is not None, problems
            metric = raw_form(small, to_registry_metric(definition), NOW)
            here = min((measure(small, metric, NOW) for _ in range(2)), key=lambda c: c.ms)
            plan = estimated_plan(small, metric, NOW)
            proj = project(small, plan, args.factor, limits, None)
            ms_per_cost, _ = calibrate(here.ms, proj.cost_here)
            big_plan = estimated_plan(large, metric, NOW)
            at1 = project(large, big_plan, 1.0, limits, None)
            default_ms, _ = calibrate(None, at1.cost_here)  # not run there: the gate's default ratio
            line = (
                f"{path.stem} | {here.ms / 1000:.3f} | {verdict(proj, ms_per_cost, limits)} |"
                f" {verdict(at1, default_ms, limits)}"
            )
            if not args.no_actual:
                started = time.perf_counter()
                big = measure(large, metric, NOW)
                rows_growth = big.rows_read / max(here.rows_read, 1.0)
                time_growth = big.ms / max(here.ms, 5.0)
                copy = (
                    "fail: over limit"
                    if big.ms / 1000 >= limits.time_limit_s
                    else "fail: grows faster"
                    if big.ms / 1000 >= limits.scale_floor_s
                    and time_growth > limits.scale_growth_factor * max(rows_growth, 1.0)
                    else "pass"
                )
                line += (
                    f" | {big.ms / 1000:.2f} | {big.ms / max(at1.cost_here, 1) * 1000:.2f}"
                    f" | {big.temp_blocks:,} | ×{rows_growth:.0f} (time ×{time_growth:.0f})"
                    f" | {copy} ({time.perf_counter() - started:.0f} s)"
                )
            print(line, flush=True)
    print(f"load average {os.getloadavg()}, {datetime.now(UTC):%H:%M} UTC")


if __name__ == "__main__":
    main()
