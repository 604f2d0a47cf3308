"""Benchmark: the recompute job over the demo world — compute only at scales 1 and 10, and the full job
(ingest of every source + every metric) at scale 1.

    .venv/bin/python bench/bench_recompute.py [--scales 1,10] [--no-full] [--runs 3]
        [--backfill-scales 10,50] [--backfill-days 90] [--world-url 'postgresql://…/hb_world_s{scale}']

Targets (issue 4): full recompute at scale 1 ≤ 30 s; compute only, all metrics, scale 10 ≤ 10 s.

Compute only: the demo world is built straight into a scratch marts database (its source schemas have the
marts datasets' names; rate files loaded and post-ingest indexes created as ingest would), metric_defs/ synced,
then `request_recompute(ingest=False)` runs as cron would — the figure is the job's wall time (compute + typical +
alert phase), and `compute_metrics()` alone beside it. Full: `heartbeat demo`'s pipeline (world in its own
source database, helpdesk API on loopback, ingest with dlt, sync) without a backfill, then
`request_recompute(ingest=True)`.

Each scale also computes every metric one at a time (parallelism 1): each metric's own time, with no other metric
sharing the two cores (the job's pool runs 4 at once). Issue 19: every compute refreshes the rollups the metrics read first (rollups/, the first run builds them in
full: timed apart); `--backfill-scales` also times `compute_metrics(backfill_days=N)` of every metric there;
`--world-url` (with `{scale}`) reuses a demo world already built at that scale (a scale-50 world takes
13–18 min to build) instead of building a scratch one, and leaves it in place. Each line states the load
average, since the bench machine is usually shared.

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
    os.environ["HEARTBEAT_PROJECT"] = str(REPO / "heartbeat_demo" / "project")  # audit cuts, rollups, UTC
    reset_settings()
    reset_pool()
    try:
        yield url
    finally:
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def demo_world(admin: str, scale: int, now: datetime, reuse_url: str | None) -> Iterator[tuple[int, float]]:
    """(source rows, build seconds) of the demo world at `scale`: a scratch one, or `reuse_url` as it is."""
    from heartbeat_demo.check import prepare_source_for_metrics
    from heartbeat_demo.world import build_world

    if reuse_url:
        os.environ["HEARTBEAT_DATABASE_URL"] = reuse_url
        os.environ["HEARTBEAT_HOME"] = tempfile.mkdtemp(prefix="hb-bench-home-")
        os.environ["HEARTBEAT_METRIC_DEFS"] = str(REPO / "heartbeat_demo" / "project" / "metric_defs")
        os.environ["HEARTBEAT_PROJECT"] = str(REPO / "heartbeat_demo" / "project")
        reset_settings()
        reset_pool()
        with psycopg.connect(reuse_url) as conn:
            rows = conn.execute(
                "SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname NOT IN ('heartbeat', 'rollups')"
            ).fetchone()
        yield int(rows[0] if rows and rows[0] else 0), 0.0
        reset_pool()
        return
    with scratch_marts(admin, f"compute{scale}") as url:
        files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
        started = time.perf_counter()
        summary = build_world(url, files, scale=scale, now=now)
        prepare_source_for_metrics(url, files)
        yield summary.total_rows, time.perf_counter() - started


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"


def compute_only(
    admin: str, scale: int, runs: int, now: datetime, *, backfill_days: int = 0, reuse_url: str | None = None
) -> dict[str, object]:
    from heartbeat_core import clock
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.jobs.runner import request_recompute
    from heartbeat_core.sync import sync_project

    with demo_world(admin, scale, now, reuse_url) as (rows, build_s):
        report = sync_project().metrics
        load_before = load()
        with clock.frozen_clock(now):
            first = compute_metrics()  # cold: first touch of every table (and the rollups' first build)
            job_s, compute_s = [], []
            for _ in range(runs):
                started = time.perf_counter()
                ticket = request_recompute("all", trigger="bench", ingest=False, background=False)
                job_s.append(time.perf_counter() - started)
                last = compute_metrics()
                compute_s.append(last.seconds)
            alone = compute_metrics(parallelism=1)  # each metric's own time, no other metric beside it
            backfill_s = None
            if backfill_days:
                started = time.perf_counter()
                backfilled = compute_metrics(backfill_days=backfill_days)
                backfill_s = time.perf_counter() - started
        slowest = sorted(last.outcomes, key=lambda o: -o.duration_ms)[:5]
        return {
            "scale": scale,
            "rows": rows,
            "load_before": load_before,
            "load_after": load(),
            "rollups_first": {k: (r.days_rebuilt, round(r.seconds, 1)) for k, r in first.rollups.items()},
            "rollups_last": {k: (r.days_rebuilt, round(r.seconds, 2)) for k, r in last.rollups.items()},
            "backfill_s": backfill_s,
            "backfill_failed": [o.metric_id for o in backfilled.failed] if backfill_days else [],
            "build_s": build_s,
            "metrics": len(first.outcomes),
            "failed": [o.metric_id for o in first.failed],
            "problems": len(report.problems),
            "cold_compute_s": first.seconds,
            "job_s": job_s,
            "compute_s": compute_s,
            "last_state": ticket.state,
            "slowest": [(o.metric_id, o.duration_ms) for o in slowest],
            "alone_s": alone.seconds,
            "slowest_alone": [
                (o.metric_id, o.duration_ms) for o in sorted(alone.outcomes, key=lambda o: -o.duration_ms)[:5]
            ],
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
    parser.add_argument("--backfill-scales", default="", help="also time a backfill of every metric there")
    parser.add_argument("--backfill-days", type=int, default=90)
    parser.add_argument("--world-url", default=None, help="reuse built demo worlds: a URL with {scale}")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    admin = admin_url()
    print(
        f"# recompute benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    server = args.world_url.format(scale=1) if args.world_url else admin  # the worlds' server, if reused
    with psycopg.connect(server) as conn:
        print(f"# server: {conn.execute('SELECT version()').fetchone()[0]}")  # type: ignore[index]
    backfill_scales = {int(s) for s in args.backfill_scales.split(",") if s}
    for scale in [int(s) for s in args.scales.split(",")]:
        r = compute_only(
            admin, scale, args.runs, now,
            backfill_days=args.backfill_days if scale in backfill_scales else 0,
            reuse_url=args.world_url.format(scale=scale) if args.world_url else None,
        )  # fmt: skip
        print(
            f"compute only, scale {scale} ({r['load_before']} before, {r['load_after']} after): rollups first "
            f"build {r['rollups_first']}, then {r['rollups_last']} (days rebuilt, s); "
            + (
                f"backfill {args.backfill_days} days of every metric {r['backfill_s']:.1f} s "
                f"(failed {r['backfill_failed']}); "
                if r["backfill_s"] is not None
                else ""
            )
            + f"{r['rows']:,} source rows (built in {r['build_s']:.1f} s), "
            f"{r['metrics']} metrics ({len(r['failed'])} failed {r['failed']}); "  # type: ignore[arg-type]
            f"cold compute {r['cold_compute_s']:.2f} s; job (ingest off) median "
            f"{statistics.median(r['job_s']):.2f} s {[round(x, 2) for x in r['job_s']]}; "  # type: ignore[arg-type]
            f"compute_metrics median {statistics.median(r['compute_s']):.2f} s; "  # type: ignore[arg-type]
            f"job state {r['last_state']}; slowest five (last run, ms) {r['slowest']}; one metric at a time "
            f"{r['alone_s']:.2f} s, slowest five alone (ms) {r['slowest_alone']}"
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
