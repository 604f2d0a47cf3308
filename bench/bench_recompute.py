"""Benchmark: the recompute job over the demo world — compute only at scales 1 and 10, and the full job
(ingest of every source + every metric) at scale 1.

    .venv/bin/python bench/bench_recompute.py [--scales 1,10] [--no-full] [--runs 3]

Targets (issue 4): full recompute at scale 1 ≤ 30 s; compute only, all metrics, scale 10 ≤ 10 s.

Compute only: the demo world is built straight into a scratch marts database (its source schemas have the
marts datasets' names; rate files loaded and post-ingest indexes created as ingest would), metric_defs/ synced,
then `request_recompute(ingest=False)` runs as cron would — the figure is the job's wall time (compute + typical +
alert phase), and `compute_metrics()` alone beside it. Full: `heartbeat demo`'s pipeline (world in its own
source database, helpdesk API on loopback, ingest with dlt, sync) without a backfill, then
`request_recompute(ingest=True)`.

Uses HEARTBEAT_BENCH_DATABASE_URL (any database on the server) or an embedded server in ~/.cache/heartbeat-bench.
Record results in bench/RESULTS.md under "Recompute".
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded, reset_pool  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402
from heartbeat_core.settings import reset_settings  # noqa: E402


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


@contextmanager
def scratch_marts(admin: str, label: str) -> Iterator[str]:
    name = f"bench_{label}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    home = Path(tempfile.mkdtemp(prefix="hb-bench-home-"))
    os.environ["HEARTBEAT_DATABASE_URL"] = url
    os.environ["HEARTBEAT_HOME"] = str(home)
    os.environ["HEARTBEAT_METRIC_DEFS"] = str(REPO / "heartbeat_demo" / "project" / "metric_defs")
    reset_settings()
    reset_pool()
    try:
        yield url
    finally:
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def compute_only(admin: str, scale: int, runs: int, now: datetime) -> dict[str, object]:
    from heartbeat_core import clock
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.jobs.runner import request_recompute
    from heartbeat_core.sync import sync_project
    from heartbeat_demo.check import prepare_source_for_metrics
    from heartbeat_demo.world import build_world

    with scratch_marts(admin, f"compute{scale}") as url:
        files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
        started = time.perf_counter()
        summary = build_world(url, files, scale=scale, now=now)
        prepare_source_for_metrics(url, files)
        build_s = time.perf_counter() - started
        report = sync_project().metrics
        with clock.frozen_clock(now):
            first = compute_metrics()  # cold: first touch of every table
            job_s, compute_s = [], []
            for _ in range(runs):
                started = time.perf_counter()
                ticket = request_recompute("all", trigger="bench", ingest=False, background=False)
                job_s.append(time.perf_counter() - started)
                compute_s.append(compute_metrics().seconds)
        slowest = sorted(first.outcomes, key=lambda o: -o.duration_ms)[:3]
        return {
            "scale": scale,
            "rows": summary.total_rows,
            "build_s": build_s,
            "metrics": len(first.outcomes),
            "failed": [o.metric_id for o in first.failed],
            "problems": len(report.problems),
            "cold_compute_s": first.seconds,
            "job_s": job_s,
            "compute_s": compute_s,
            "last_state": ticket.state,
            "slowest": [(o.metric_id, o.duration_ms) for o in slowest],
        }


def full(admin: str, runs: int, now: datetime) -> dict[str, object]:
    from heartbeat_core import clock
    from heartbeat_core.jobs.ledger import get_job
    from heartbeat_core.jobs.runner import request_recompute
    from heartbeat_demo.pipeline import run_demo

    with scratch_marts(admin, "full") as _url:
        source = f"bench_source_{secrets.token_hex(3)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{source}"')
        os.environ["HEARTBEAT_DEMO_SOURCE_URL"] = with_database(admin, source)
        os.environ.setdefault("HEARTBEAT_DEMO_HELPDESK_URL", "http://127.0.0.1:8797")
        try:
            with clock.frozen_clock(now):
                demo = run_demo(scale=1, backfill_days=0, say=lambda line: None)
                job_s: list[float] = []
                views = []
                for _ in range(runs):
                    started = time.perf_counter()
                    ticket = request_recompute("all", trigger="bench", ingest=True, background=False)
                    job_s.append(time.perf_counter() - started)
                    views.append(get_job(ticket.job_id))
            if demo.helpdesk is not None:
                stop = getattr(demo.helpdesk, "close", None)
                if stop:
                    stop()
            last = views[-1]
            return {
                "setup_s": demo.seconds,
                "job_s": job_s,
                "state": last.state if last else None,
                "sources": [(s.source, s.state, s.rows, s.seconds) for s in (last.sources if last else [])],
                "metrics": len(last.metrics) if last else 0,
                "error": last.error if last else None,
            }
        finally:
            reset_pool()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{source}" WITH (FORCE)')


def full_cold(admin: str, now: datetime) -> dict[str, object]:
    """The first job on empty marts: every source loaded in full by the job's ingest phase."""
    from heartbeat_core import clock
    from heartbeat_core.jobs.ledger import get_job
    from heartbeat_core.jobs.runner import request_recompute
    from heartbeat_core.sync import sync_project
    from heartbeat_demo.pipeline import rate_files_dir, start_helpdesk
    from heartbeat_demo.world import build_world

    with scratch_marts(admin, "cold") as _url:
        source = f"bench_source_{secrets.token_hex(3)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{source}"')
        source_url = with_database(admin, source)
        os.environ["HEARTBEAT_DEMO_SOURCE_URL"] = source_url
        os.environ.setdefault("HEARTBEAT_DEMO_HELPDESK_URL", "http://127.0.0.1:8797")
        helpdesk = None
        try:
            with clock.frozen_clock(now):
                summary = build_world(source_url, rate_files_dir(), scale=1, now=now)
                helpdesk = start_helpdesk(source_url)
                sync_project()
                started = time.perf_counter()
                ticket = request_recompute("all", trigger="bench", ingest=True, background=False)
                seconds = time.perf_counter() - started
                view = get_job(ticket.job_id)
            return {
                "rows": summary.total_rows,
                "job_s": seconds,
                "state": view.state if view else None,
                "sources": [(s.source, s.state, s.rows, s.seconds) for s in (view.sources if view else [])],
                "metrics": len(view.metrics) if view else 0,
                "error": view.error if view else None,
            }
        finally:
            stop = getattr(helpdesk, "close", None)
            if stop:
                stop()
            reset_pool()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{source}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-full", action="store_true")
    parser.add_argument(
        "--cold", action="store_true", help="also time the first job on empty marts (full load)"
    )
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    admin = admin_url()
    print(
        f"# recompute benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    with psycopg.connect(admin) as conn:
        print(f"# server: {conn.execute('SELECT version()').fetchone()[0]}")  # type: ignore[index]
    for scale in [int(s) for s in args.scales.split(",")]:
        r = compute_only(admin, scale, args.runs, now)
        print(
            f"compute only, scale {scale}: {r['rows']:,} source rows (built in {r['build_s']:.1f} s), "
            f"{r['metrics']} metrics ({len(r['failed'])} failed {r['failed']}); "  # type: ignore[arg-type]
            f"cold compute {r['cold_compute_s']:.2f} s; job (ingest off) median "
            f"{statistics.median(r['job_s']):.2f} s {[round(x, 2) for x in r['job_s']]}; "  # type: ignore[arg-type]
            f"compute_metrics median {statistics.median(r['compute_s']):.2f} s; "  # type: ignore[arg-type]
            f"job state {r['last_state']}; slowest (cold) {r['slowest']}"
        )
    if args.cold:
        c = full_cold(admin, now)
        print(
            f"full recompute from empty marts, scale 1 ({c['rows']:,} source rows): job {c['job_s']:.2f} s; "
            f"state {c['state']}; {c['metrics']} metrics; sources {c['sources']}; error {c['error']}"
        )
    if not args.no_full:
        try:
            f = full(admin, args.runs, now)
        except Exception as exc:
            print(f"full recompute, scale 1: not measured — {type(exc).__name__}: {str(exc).splitlines()[0]}")
        else:
            print(
                f"full recompute, scale 1: job median {statistics.median(f['job_s']):.2f} s "  # type: ignore[arg-type]
                f"{[round(x, 2) for x in f['job_s']]}; state {f['state']}; {f['metrics']} metrics; "  # type: ignore[union-attr]
                f"sources {f['sources']}; error {f['error']}; demo setup {f['setup_s']}"
            )


if __name__ == "__main__":
    main()
