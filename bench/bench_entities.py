"""Benchmark: entity history at 300 metrics x 365 days — its size, the compute overhead of recording it, and
the read model / `what_is_red` with it (against the same registry without it). `--recorded` metrics (20) are
recorded through `record_day` (the timed compute overhead); the others get a copy of their spans, events and
totals, so size and read timings are at full scale without an hour of recording on a 2-core machine.

    .venv/bin/python bench/bench_entities.py [--metrics 300] [--days 365] [--entities 20] [--calls 200]

Reuses bench_mcp's generator (registry and history in SQL, scratch database on HEARTBEAT_BENCH_DATABASE_URL or
the embedded server in ~/.cache/heartbeat-bench). Every metric declares a client entity; each metric-day holds
`--entities` clients with churn (about one in ten replaced each day, weights drifting), recorded day by day
through the same `record_day` compute uses, oldest day first, as a backfill does. Record results in
bench/RESULTS.md under "Entities".
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_mcp import admin_url, fill, percentiles  # noqa: E402

from heartbeat_core.compute.entities import EntityRow, EntitySet  # noqa: E402
from heartbeat_core.compute.entity_history import record_day  # noqa: E402
from heartbeat_core.db import reset_pool  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402
from heartbeat_core.settings import reset_settings  # noqa: E402


def read_model(calls: int) -> tuple[float, str]:
    from heartbeat_core import readmodel
    from heartbeat_core.db import connect
    from heartbeat_mcp import Heartbeat
    from heartbeat_mcp.tools.triage import build_what_is_red

    reset_pool()
    with connect() as conn:
        cold = []
        for _ in range(5):
            started = time.perf_counter()
            readmodel.cockpit_snapshot(conn)
            cold.append(time.perf_counter() - started)
    hb = Heartbeat(actor="bench")
    samples = []
    for _ in range(calls):
        hb.cache.invalidate()
        started = time.perf_counter()
        build_what_is_red(hb.snapshot())
        samples.append(time.perf_counter() - started)
    return statistics.median(cold), percentiles(samples)


def record(url: str, metrics: int, days: int, per_day: int) -> list[float]:
    rng = random.Random(13)
    today = date.today()
    timings = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET heartbeat.sync = 'on'")
        conn.execute(
            """UPDATE heartbeat.metric_registry SET entity = '{"type": "client", "key": "client_id",
               "label": "client", "weight": "amount", "weight_unit": "money:EUR"}'"""
        )
        ids = [r[0] for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry ORDER BY 1")]
        for metric_id in ids[:metrics]:
            members = {f"{n}": 1000.0 + 100 * n for n in range(per_day)}
            next_key = per_day
            for offset in range(days - 1, -1, -1):
                for key in rng.sample(sorted(members), k=max(1, per_day // 10)):
                    del members[key]
                    members[str(next_key)] = 1000.0 + rng.random() * 5000
                    next_key += 1
                for key in members:
                    members[key] *= 1 + (rng.random() - 0.45) * 0.1
                entities = EntitySet(
                    "client",
                    [EntityRow(k, f"Client {k}", w) for k, w in members.items()],
                    len(members),
                    sum(members.values()),
                )
                started = time.perf_counter()
                record_day(
                    conn, metric_id, today - timedelta(days=offset), entities,
                    now=datetime.now(UTC), worse_share=0.2,
                )  # fmt: skip
                timings.append(time.perf_counter() - started)
    return timings


def copy(url: str, recorded: int) -> None:
    """Give every other metric the history of a recorded one (same shape; ids shifted)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry ORDER BY 1")]
        for index, metric_id in enumerate(ids[recorded:]):
            source = ids[index % recorded]
            for table, columns in (
                (
                    "entity_span",
                    "entity_type, entity_key, label, first_seen, last_seen, weight, prior_weight,"
                    " first_seen_at",
                ),
                (
                    "entity_event",
                    "entity_type, entity_key, kind, as_of_date, label, weight, previous_weight, recorded_at",
                ),
                (
                    "entity_total",
                    "as_of_date, entity_type, total_count, total_weight, capped, shown, computed_at",
                ),
            ):
                conn.execute(
                    f"INSERT INTO heartbeat.{table} (metric_id, {columns})"  # fixed names
                    f" SELECT %s, {columns} FROM heartbeat.{table} WHERE metric_id = %s",
                    (metric_id, source),
                )


def profile() -> None:
    import cProfile
    import pstats

    from heartbeat_core import readmodel
    from heartbeat_core.db import connect

    reset_pool()
    with connect() as conn:
        readmodel.cockpit_snapshot(conn)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            readmodel.cockpit_snapshot(conn)
        profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


def explain(url: str) -> None:
    from heartbeat_core.readmodel.entities import _SUMMARY_SQL

    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry")]
        plan = conn.execute(b"EXPLAIN ANALYZE " + _SUMMARY_SQL.encode(), {"ids": ids, "top": 5}).fetchall()
    print("\n".join(r[0] for r in plan if "Execution" in r[0]))


def sizes(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        parts = []
        for table in ("entity_span", "entity_event", "entity_total", "metric_history"):
            rows, size = conn.execute(
                f"SELECT count(*), pg_total_relation_size('heartbeat.{table}') FROM heartbeat.{table}"
            ).fetchone() or (0, 0)
            parts.append(f"{table}: {rows:,} rows, {size / 1024 / 1024:.1f} MB")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--metrics", type=int, default=300)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument(
        "--recorded", type=int, default=20, help="metrics recorded through record_day; the rest copy them"
    )
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    admin = admin_url()
    name = f"bench_entities_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    print(f"# entities benchmark — {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    try:
        fill(url, args.metrics, args.days)
        os.environ["HEARTBEAT_DATABASE_URL"] = url
        os.environ["HEARTBEAT_HOME"] = tempfile.mkdtemp(prefix="heartbeat-bench-entities-")
        reset_settings()
        cold, red = read_model(args.calls)
        print(f"without entities: cold cockpit_snapshot {cold * 1000:.0f} ms; what_is_red rebuilt {red}")
        started = time.perf_counter()
        timings = record(url, min(args.recorded, args.metrics), args.days, args.entities)
        total = time.perf_counter() - started
        copy(url, min(args.recorded, args.metrics))
        print(
            f"record_day x {len(timings):,} metric-days ({args.entities} entities each) in {total:.0f} s: "
            f"{percentiles(timings)}"
        )
        print(sizes(url))
        if os.environ.get("BENCH_EXPLAIN"):
            explain(url)
            profile()
        cold, red = read_model(args.calls)
        print(f"with entities:    cold cockpit_snapshot {cold * 1000:.0f} ms; what_is_red rebuilt {red}")
    finally:
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
