"""Benchmark: audit snapshot refresh over the demo world, and audit pages served from snapshots.

    .venv/bin/python bench/bench_audit.py [--scale 1] [--duration 10] [--connections 10]

Setup: a scratch database on the bench server, migrated, with the demo world built in it at `--scale`
(`heartbeat_demo.world.build_world`; the cuts read its schemas directly, as they read the landed
marts of the same names), metric definitions and audit cuts synced.

Measured:
- Refresh of every (cut x window): `refresh_cuts()` as `heartbeat audit refresh` runs it (parallel,
  HEARTBEAT_COMPUTE_PARALLELISM), twice (first and second run), and once serially; the slowest five
  computations. Target: <= 30 s at scale 1.
- `heartbeat serve --no-scheduler` in its own process; wrk (a second process) at `--connections` for
  `--duration` seconds on /audit, /audit/clients, /audit/journeys, /audit/risk and /api/audit/pages/risk:
  req/s, p50, p90, p99. Target: p99 <= 50 ms at 10 concurrent clients.

Uses HEARTBEAT_BENCH_DATABASE_URL (any database on the server) or an embedded server in ~/.cache/heartbeat-bench.
Record results in bench/RESULTS.md under "Audit".
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import admin_url, run_wrk, start_server  # noqa: E402

from heartbeat_core.db.connection import reset_pool, with_database  # noqa: E402
from heartbeat_core.db.migrate import migrate  # noqa: E402
from heartbeat_core.settings import reset_settings  # noqa: E402

PAGES = ("/audit", "/audit/clients", "/audit/journeys", "/audit/risk", "/api/audit/pages/risk")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_audit: wrk is missing (apt-get install -y wrk)")
    admin = admin_url()
    name = f"bench_audit_{args.scale}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    home = Path(tempfile.mkdtemp(prefix="hb-bench-audit-"))
    os.environ["HEARTBEAT_DATABASE_URL"] = url
    os.environ["HEARTBEAT_HOME"] = str(home)
    os.environ.pop("HEARTBEAT_API_TOKEN", None)
    reset_settings()
    reset_pool()
    proc = None
    try:
        from heartbeat_core.audit import refresh_cuts, sync_cuts
        from heartbeat_core.metrics.sync import sync_directory
        from heartbeat_core.settings import get_settings
        from heartbeat_demo.world import build_world

        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        started = time.perf_counter()
        world = build_world(url, home / "files", scale=args.scale)
        built_s = time.perf_counter() - started
        with psycopg.connect(url) as conn:
            sync_directory(conn, get_settings().metric_defs)
            sync_cuts(conn)
            conn.commit()
        print(f"# Audit — {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')} UTC")
        print(
            f"demo world scale {args.scale}: {world.total_rows:,} source rows built in {built_s:.1f} s; "
            f"parallelism {get_settings().compute_parallelism}\n"
        )
        runs = []
        for label, parallelism in (("first run", None), ("second run", None), ("serial", 1)):
            report = refresh_cuts(parallelism=parallelism)
            assert report.ok, [f"{o.cut_id}[{o.window}]: {o.error}" for o in report.failed]
            runs.append((label, report))
        cuts = len({o.cut_id for o in runs[0][1].outcomes})
        print("| refresh every (cut x window) | snapshots | cuts | seconds | target |")
        print("|---|---|---|---|---|")
        for label, report in runs:
            print(f"| {label} | {len(report.outcomes)} | {cuts} | {report.seconds:.1f} | <= 30 s |")
        slowest = sorted(runs[1][1].outcomes, key=lambda o: -o.duration_ms)[:5]
        print(
            "\nslowest computations (second run): "
            + ", ".join(f"{o.cut_id}[{o.window}] {o.duration_ms} ms" for o in slowest)
        )

        proc, base = start_server(url, home)
        for path in PAGES:  # warm: the first request renders, the rest are served from bytes
            import httpx

            assert httpx.get(base + path, timeout=30).status_code == 200, path
        print(f"\nwrk {args.connections} connections, {args.duration} s per page, served from snapshots\n")
        print("| page | req/s | p50 ms | p90 ms | p99 ms | non-2xx | target p99 |")
        print("|---|---|---|---|---|---|---|")
        for path in PAGES:
            r = run_wrk(base + path, args.duration, args.connections)
            print(
                f"| {path} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | "
                f"{int(r['errors'])} | <= 50 ms |"
            )
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
