"""Benchmark: all demo metrics on Postgres vs each warehouse engine (DuckDB, ClickHouse in process via chDB),
at several demo scales, same machine, one run.

    .venv/bin/python bench/bench_warehouse.py [--scales 1,10] [--runs 2] [--engines duckdb,chdb]

Per scale: the demo world is built straight into a scratch marts database (as bench_recompute does, with the
post-ingest indexes), `_dlt_loads` added so it reads as landed, metric_defs synced; then it is landed into each
engine through warehouse mode's own path (`heartbeat_core.warehouse.land`: DuckDB through dlt's duckdb destination,
chDB as Arrow) and every metric's @value and @detail is evaluated serially — on Postgres by compute's
`evaluate`, on the engine by warehouse mode's — at one frozen moment. The figure per side is the best of `runs`
passes over all 38 metrics; values are checked equal on the way (parity's rule).

Uses HEARTBEAT_BENCH_DATABASE_URL (any database on the server) or an embedded server in ~/.cache/heartbeat-bench.
Record results in bench/RESULTS.md under "Warehouse mode".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_recompute import admin_url, scratch_marts  # noqa: E402

SCHEMAS = ("webbank", "aml", "card_management", "currency_rates", "helpdesk")


def _mark_landed(url: str, now: datetime) -> None:
    """A `_dlt_loads` per schema, as dlt leaves one: what warehouse landing looks for."""
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}._dlt_loads (load_id text NOT NULL, schema_name text,"
                " status bigint NOT NULL, inserted_at timestamptz NOT NULL, schema_version_hash text)"
            )
            conn.execute(f"INSERT INTO {schema}._dlt_loads VALUES ('1', %s, 0, %s, 'bench')", (schema, now))


def _timed(
    run: Any, metrics: list[Any], runs: int
) -> tuple[float, dict[str, float | None], list[tuple[str, int]]]:
    """Best total of `runs` serial passes; the values of the last pass; the three slowest metrics (ms)."""
    best, values, slowest = float("inf"), {}, []
    for _ in range(runs):
        started = time.perf_counter()
        durations = []
        for metric in metrics:
            evaluation = run(metric)
            values[metric.metric_id] = evaluation.value
            durations.append((metric.metric_id, evaluation.duration_ms))
        best = min(best, time.perf_counter() - started)
        slowest = sorted(durations, key=lambda d: -d[1])[:3]
    return best, values, slowest


def one_scale(admin: str, scale: int, runs: int, engines: list[str], now: datetime) -> dict[str, Any]:
    from heartbeat_core import clock
    from heartbeat_core.compute import engine as pg_engine
    from heartbeat_core.metrics.registry import active_metrics
    from heartbeat_core.sync import sync_project
    from heartbeat_core.warehouse import evaluate as wh
    from heartbeat_core.warehouse.engines import open_engine
    from heartbeat_core.warehouse.land import land
    from heartbeat_core.warehouse.parity import exact_unit, parity_config, values_match
    from heartbeat_demo.check import prepare_source_for_metrics
    from heartbeat_demo.world import build_world

    os.environ.setdefault("HEARTBEAT_PROJECT", str(REPO / "heartbeat_demo" / "project"))
    out: dict[str, Any] = {"scale": scale, "load_before": os.getloadavg()}
    with scratch_marts(admin, f"wh{scale}") as url:
        files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
        started = time.perf_counter()
        summary = build_world(url, files, scale=scale, now=now)
        prepare_source_for_metrics(url, files)
        _mark_landed(url, now)
        out["rows"], out["build_s"] = summary.total_rows, time.perf_counter() - started
        sync_project()
        home = Path(tempfile.mkdtemp(prefix="hb-wh-bench-"))
        with clock.frozen_clock(now), psycopg.connect(url) as conn:
            metrics = active_metrics(conn)
            conn.commit()
            pg_s, pg_values, pg_slow = _timed(
                lambda m: pg_engine.evaluate_postgres(conn, m, now), metrics, runs
            )
            out["postgres"] = {"seconds": pg_s, "slowest": pg_slow}
            print(f"  (scale {scale}) built in {out['build_s']:.0f} s; postgres {pg_s:.2f} s", flush=True)
            for name in engines:
                config = parity_config(name, home)
                landed = land(config, url, conn, pipelines_dir=home / "dlt")
                conn.commit()
                engine = open_engine(config)
                try:
                    seconds, values, slow = _timed(
                        lambda m, e=engine: wh.evaluate(e, conn, m, now), metrics, runs
                    )
                finally:
                    engine.close()
                mismatched = [
                    m.metric_id for m in metrics
                    if not values_match(pg_values[m.metric_id], values[m.metric_id], exact=exact_unit(m.unit))
                ]  # fmt: skip
                out[name] = {
                    "seconds": seconds,
                    "slowest": slow,
                    "land_s": landed.seconds,
                    "mismatched": mismatched,
                }
                print(
                    f"  (scale {scale}) {name} {seconds:.2f} s, landed in {landed.seconds:.0f} s", flush=True
                )
    out["load_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    engines = [e for e in args.engines.split(",") if e]
    admin = admin_url()
    print(
        f"# warehouse benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    with psycopg.connect(admin) as conn:
        print(f"# server: {conn.execute('SELECT version()').fetchone()[0]}")  # type: ignore[index]
    for scale in [int(s) for s in args.scales.split(",")]:
        r = one_scale(admin, scale, args.runs, engines, now)
        print(
            f"scale {scale}: {r['rows']:,} source rows (built in {r['build_s']:.0f} s); load average "
            f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}"
        )
        print(
            f"  postgres: all 38 metrics {r['postgres']['seconds']:.2f} s; slowest {r['postgres']['slowest']}"
        )
        for name in engines:
            e = r[name]
            print(
                f"  {name}: all 38 metrics {e['seconds']:.2f} s; slowest {e['slowest']}; landed in "
                f"{e['land_s']:.1f} s; mismatched {e['mismatched'] or 'none'}"
            )


if __name__ == "__main__":
    main()
