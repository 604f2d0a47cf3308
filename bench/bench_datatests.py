"""Benchmark: what the demo's data tests cost per recompute job, in full and incrementally, at scales 1 and 10.

    .venv/bin/python bench/bench_datatests.py [--scales 1,10] [--runs 3]

Target (issue 18): the tests take ≤ 10 % of the job's time at scale 10.

The demo world is built straight into a scratch marts database as `bench_recompute.py` does (its source
schemas have the marts datasets' names; rate files loaded and post-ingest indexes created as ingest would),
metric_defs/ synced, under a frozen clock. Then:

- job: `request_recompute(ingest=False)` (compute, typical, incidents, alerts) — the denominator. It leaves
  ingest out, so the share printed is an upper bound (a real job also spends its ingest time);
- full: every source's tests over whole tables (`run_source_tests()`, as `heartbeat sources test` runs them);
- incremental: after one full run has stored each test's mark, an hour of new source rows is appended
  (`append_live` in 5-minute steps, as `heartbeat demo --live` does), the clock moves one hour on, and the
  tests run as the job runs them after a load (`landed=...`: only rows landed since where the test allows).

The share is tests ÷ (job + tests). Uses HEARTBEAT_BENCH_DATABASE_URL or an embedded server in
~/.cache/heartbeat-bench. Record results in bench/RESULTS.md under "Data tests".
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_recompute import admin_url, scratch_marts  # noqa: E402

LIVE_STEPS = 12  # 12 × 5 minutes: the rows of an hourly schedule


SLOWEST: dict[str, list[str]] = {}


def _tests(url: str, landed: dict[str, int] | None) -> tuple[float, Counter[str]]:
    from heartbeat_core.datatests import run_source_tests

    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        results = run_source_tests(conn, landed=landed)
        seconds = time.perf_counter() - started
    timed = sorted((r for r in results if r.seconds), key=lambda r: -(r.seconds or 0))[:4]
    SLOWEST["incremental" if landed is not None else "full"] = [
        f"{r.spec.table} {r.spec.key} ({r.mode}, {r.status}) {r.seconds:.2f} s" for r in timed
    ] + [f"FAILED {r.spec.table} {r.spec.key}: {r.message}" for r in results if r.status != "pass"]
    return seconds, Counter(f"{r.mode}:{r.status}" for r in results)


def one_scale(admin: str, scale: int, runs: int, now: datetime) -> dict[str, object]:
    from heartbeat_core import clock
    from heartbeat_core.jobs.runner import request_recompute
    from heartbeat_core.settings import reset_settings
    from heartbeat_core.sync import sync_project
    from heartbeat_demo import PROJECT_DIR
    from heartbeat_demo.check import prepare_source_for_metrics
    from heartbeat_demo.world import append_live, build_world

    with scratch_marts(admin, f"datatests{scale}") as url:
        os.environ["HEARTBEAT_DEMO_SOURCE_URL"] = url  # drift reads the upstream catalogue: here, the same db
        os.environ["HEARTBEAT_PROJECT"] = str(PROJECT_DIR)  # sources.toml with the demo's tests
        reset_settings()
        files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
        summary = build_world(url, files, scale=scale, now=now)
        prepare_source_for_metrics(url, files)
        sync_project()
        with clock.frozen_clock(now):
            job_s = []
            for _ in range(runs):
                started = time.perf_counter()
                request_recompute("all", trigger="bench", ingest=False, background=False)
                job_s.append(time.perf_counter() - started)
            full = [_tests(url, None) for _ in range(runs)]
        incremental = []
        moment = now
        for _ in range(runs):
            appended: Counter[str] = Counter()
            for _step in range(LIVE_STEPS):
                moment += timedelta(minutes=5)
                appended.update(append_live(url, files, now=moment))
            with clock.frozen_clock(moment):
                incremental.append((*_tests(url, {}), sum(appended.values())))
        job = statistics.median(job_s)
        full_s = statistics.median(s for s, _ in full)
        inc_s = statistics.median(s for s, _, _ in incremental)
        return {
            "scale": scale,
            "rows": summary.total_rows,
            "job_s": job,
            "full_s": full_s,
            "full_share": full_s / (job + full_s),
            "incremental_s": inc_s,
            "incremental_share": inc_s / (job + inc_s),
            "full_verdicts": dict(full[-1][1]),
            "incremental_verdicts": dict(incremental[-1][1]),
            "appended_rows_per_hour": incremental[-1][2],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    admin = admin_url()
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"# data tests bench, {now:%Y-%m-%d %H:%M} UTC, {platform.node()}, load {os.getloadavg()}")
    for scale in (int(s) for s in args.scales.split(",")):
        result = one_scale(admin, scale, args.runs, now)
        print(
            f"scale {scale}: {result['rows']:,} rows; job (compute, no ingest) {result['job_s']:.2f} s; "
            f"tests full {result['full_s']:.2f} s ({result['full_share']:.1%} of job + tests), "
            f"incremental {result['incremental_s']:.2f} s ({result['incremental_share']:.1%}) "
            f"after {result['appended_rows_per_hour']:,} new rows/hour"
        )
        print(f"  verdicts full {result['full_verdicts']}; incremental {result['incremental_verdicts']}")
        for mode, lines in SLOWEST.items():
            print(f"  slowest {mode}: " + "; ".join(lines))
        print(f"  load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
