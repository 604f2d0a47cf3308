"""Benchmark: where compute time goes, metric by metric — each demo metric's @value under EXPLAIN (ANALYZE,
BUFFERS), once as written (`heartbeat.as_of()` / `window_start()` called in the SQL) and once as compute runs it
(the moments bound as constants, `heartbeat_core.compute.binding`).

    .venv/bin/python bench/bench_metric_plans.py --scale 10 [--keep] [--database-url URL] [--metrics a,b]

The demo world is built straight into a marts database named `hb_plans_s<scale>` on the bench server
(HEARTBEAT_BENCH_DATABASE_URL or the embedded one in ~/.cache/heartbeat-bench), as bench_recompute.py does;
`--keep` leaves it for the next run (a scale-50 world takes minutes to build), `--database-url` uses one that
exists. Per metric: wall ms of each form (best of --repeat alternating runs, so neither form is only measured
cold), temp blocks written (sorts and hashes spilling past work_mem), shared blocks read, and the scans of the
bound plan. Record results in bench/RESULTS.md under "Compute at scale".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402

SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")


@dataclass
class Run:
    ms: float
    temp_written: int
    shared_read: int
    scans: list[str]


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def build(admin: str, scale: int, now: datetime) -> str:
    from heartbeat_demo.check import prepare_source_for_metrics
    from heartbeat_demo.world import build_world

    name = f"hb_plans_s{scale}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    started = time.perf_counter()
    summary = build_world(url, Path(tempfile.mkdtemp(prefix="hb-rates-")), scale=scale, now=now)
    prepare_source_for_metrics(url, Path(tempfile.mkdtemp(prefix="hb-rates-")))
    print(
        f"# built scale {scale}: {summary.total_rows:,} source rows in {time.perf_counter() - started:.0f} s"
    )
    return url


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("Plans", []) for n in _walk(child)]


def explain(conn: psycopg.Connection[Any], sql: str) -> Run:
    started = time.perf_counter()
    row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).fetchone()
    ms = (time.perf_counter() - started) * 1000
    assert row is not None
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    top = doc[0]["Plan"]
    scans = [
        f"{n['Node Type']} {n.get('Relation Name', '')} ({n.get('Actual Rows', 0) * n.get('Actual Loops', 1):,} rows)"
        for n in _walk(top)
        if n["Node Type"] in SCANS and n.get("Actual Rows", 0) * n.get("Actual Loops", 1) > 10_000
    ]
    return Run(ms, int(top.get("Temp Written Blocks", 0)), int(top.get("Shared Read Blocks", 0)), scans)


def measure(url: str, now: datetime, only: list[str], repeat: int) -> list[tuple[str, Run, Run]]:
    from heartbeat_core.compute.binding import begin_point_in_time
    from heartbeat_core.metrics.registry import active_metrics
    from heartbeat_core.settings import reset_settings
    from heartbeat_core.sync import sync_project

    os.environ["HEARTBEAT_DATABASE_URL"] = url
    os.environ["HEARTBEAT_METRIC_DEFS"] = str(REPO / "heartbeat_demo" / "project" / "metric_defs")
    os.environ["HEARTBEAT_METRIC_STATEMENT_TIMEOUT"] = "900"
    reset_settings()
    sync_project()
    results = []
    with psycopg.connect(url) as conn:
        for metric in active_metrics(conn):
            if only and metric.metric_id not in only:
                continue
            best: dict[bool, Run] = {}
            for bound in (False, True) * repeat:
                with conn.transaction():
                    moments = begin_point_in_time(conn, metric, now)
                    run = explain(conn, moments.bind(metric.value_sql) if bound else metric.value_sql)
                if bound not in best or run.ms < best[bound].ms:
                    best[bound] = run
            results.append((metric.metric_id, best[False], best[True]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--metrics", default="")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each form, alternating; the best counts"
    )
    parser.add_argument("--keep", action="store_true", help="reuse hb_plans_s<scale> if it exists")
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    os.environ.setdefault("HEARTBEAT_HOME", tempfile.mkdtemp(prefix="hb-bench-home-"))
    url = args.database_url
    if url is None:
        admin = admin_url()
        url = with_database(admin, f"hb_plans_s{args.scale}")
        try:
            psycopg.connect(url).close()
            exists = True
        except psycopg.OperationalError:
            exists = False
        if not (args.keep and exists):
            url = build(admin, args.scale, now)
    with psycopg.connect(url) as conn:
        version = conn.execute("SELECT version()").fetchone()
        work_mem = conn.execute("SHOW work_mem").fetchone()
    print(
        f"# metric plans — {platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {version[0] if version else '?'}; work_mem "
        f"{work_mem[0] if work_mem else '?'}"
    )
    results = measure(url, now, [m for m in args.metrics.split(",") if m], args.repeat)
    results.sort(key=lambda r: -r[2].ms)
    print(f"{'metric':42} {'as written':>11} {'bound':>9} {'temp blk':>9} {'read blk':>9}  scans (bound)")
    for metric_id, written, bound in results:
        print(
            f"{metric_id:42} {written.ms:9.0f}ms {bound.ms:7.0f}ms {bound.temp_written:9,} {bound.shared_read:9,}  "
            f"{'; '.join(bound.scans)}"
        )
    total_w = sum(r[1].ms for r in results) / 1000
    total_b = sum(r[2].ms for r in results) / 1000
    print(
        f"total {len(results)} metrics: as written {total_w:.2f} s, bound {total_b:.2f} s (serial, EXPLAIN ANALYZE)"
    )


if __name__ == "__main__":
    main()
