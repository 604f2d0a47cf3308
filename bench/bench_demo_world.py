"""Benchmark: build the demo world at several scales and time every metric's SQL over it.

    .venv/bin/python bench/bench_demo_world.py [--scales 1,10] [--no-metrics]

Uses the Postgres server at HEARTBEAT_BENCH_DATABASE_URL (any database on it; a scratch database is
created and dropped per scale) or else an embedded server in ~/.cache/heartbeat-bench. Prints, per scale,
rows, seconds and rows/s of `build_world`, the peak RSS of this process, and the slowest metric value SQL
(after the post-ingest indexes, as on marts). Record results in bench/RESULTS.md under "Demo world".
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402
from heartbeat_core.metrics.definition import load_directory  # noqa: E402
from heartbeat_demo.check import prepare_source_for_metrics, run_section  # noqa: E402
from heartbeat_demo.world import build_world  # noqa: E402


def backend_cpu(pid: int) -> float | None:
    """CPU seconds used so far by a server backend on this machine (None when it is remote)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--no-metrics", action="store_true", help="only time build_world")
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    admin = admin_url()
    print(f"# demo world benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip
    print(f"# load average at start: {os.getloadavg()[0]:.1f} (shared machine: wall times scale with it)")
    with psycopg.connect(admin) as conn:
        print(f"# server: {conn.execute('SELECT version()').fetchone()[0]}")  # type: ignore[index]
    metrics = load_directory(REPO / "heartbeat_demo" / "project" / "metric_defs").definitions
    for scale in [int(s) for s in args.scales.split(",")]:
        name = f"bench_demo_{scale}_{secrets.token_hex(3)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(admin, name)
        try:
            with tempfile.TemporaryDirectory() as files:
                summary = build_world(url, Path(files), scale=scale, now=now)
                rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"scale {scale:>3}: {summary.rows['webbank.payment']:>10,} payments, "
                      f"{summary.total_rows:>11,} rows in {summary.seconds:6.1f} s = "
                      f"{summary.total_rows / summary.seconds:>9,.0f} rows/s; client peak RSS {rss_mb:.0f} MB; "
                      f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
                if args.no_metrics:
                    continue
                started = time.perf_counter()
                prepare_source_for_metrics(url, Path(files))
                print(
                    f"           post-ingest indexes + rates + ANALYZE: {time.perf_counter() - started:.1f} s"
                )
            timings = []
            with psycopg.connect(url) as conn:
                pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
                for m in metrics:
                    run_section(conn, m.value_sql, period=m.period, as_of=now)  # warm the cache
                    before = backend_cpu(pid)
                    result = run_section(conn, m.value_sql, period=m.period, as_of=now)
                    after = backend_cpu(pid)
                    cpu = after - before if after is not None and before is not None else float("nan")
                    timings.append((result.seconds, cpu, m.metric_id))
            timings.sort(reverse=True)
            over = [mid for t, _, mid in timings if t >= 1.0]
            by_cpu = sorted(timings, key=lambda t: -t[1] if t[1] == t[1] else 0)
            print(f"           {len(metrics)} metrics: wall total {sum(t for t, _, _ in timings):.2f} s, "
                  f"slowest " + ", ".join(f"{mid} {t * 1000:.0f} ms" for t, _, mid in timings[:4])
                  + (f"; over 1 s wall: {', '.join(over)}" if over else "; all under 1 s wall"))  # fmt: skip
            print(f"           backend CPU (load-independent): total {sum(c for _, c, _ in timings):.2f} s, "
                  f"max " + ", ".join(f"{mid} {c * 1000:.0f} ms" for _, c, mid in by_cpu[:4]))  # fmt: skip
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
