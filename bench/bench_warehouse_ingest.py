"""Benchmark: ingest of the demo world's Postgres sources into Postgres marts vs straight into DuckDB vs chDB.

    .venv/bin/python bench/bench_warehouse_ingest.py [--scale 1] [--engines postgres,duckdb,chdb]

For each target, in one run on the same machine: a fresh copy of a demo world source database (built once,
then `CREATE DATABASE ... TEMPLATE`), a fresh migrated read-model database, a fresh HEARTBEAT_HOME; then, each
in a child process (bench_ingest's `--child`, so imports and peak RSS are its own): the initial ingest of
webbank, aml and card_management, 1% of the rows changed (bench_ingest's `change_one_percent`), the incremental
run, and a run with no change. Postgres includes its post-ingest indexes; the engines have none. The load
average is printed with the results (the machine is shared). Record in bench/RESULTS.md "Warehouse ingest".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import bench_ingest as bi  # noqa: E402


def _copy_db(admin: str, template: str, prefix: str) -> str:
    name = f"hb_bench_{prefix}_{os.getpid()}"
    source = template.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source))
        )
    return template.replace(f"/{source}", f"/{name}", 1)


def _target(engine: str, admin: str, world: str, work: Path) -> dict[str, Any]:
    from heartbeat_core.db.migrate import migrate

    source = _copy_db(admin, world, f"src_{engine}")
    marts = bi.create_db(admin, f"rm_{engine}")
    home = work / engine
    try:
        with psycopg.connect(marts) as conn:
            migrate(conn)
        env = dict(os.environ)
        env.pop("HEARTBEAT_WAREHOUSE_URL", None)
        env.update(
            HEARTBEAT_DATABASE_URL=marts,
            HEARTBEAT_HOME=str(home),
            HEARTBEAT_DEMO_SOURCE_URL=source,
            HEARTBEAT_SOURCES=str(bi.REPO / "heartbeat_demo" / "project" / "sources.toml"),
        )
        if engine == "duckdb":
            env["HEARTBEAT_WAREHOUSE_URL"] = f"duckdb://{home / 'marts.duckdb'}"
        elif engine == "chdb":
            env["HEARTBEAT_WAREHOUSE_URL"] = f"chdb://{home / 'chdb'}"
        initial = bi.run_child("initial", env)
        changed = bi.change_one_percent(source, bi.source_tables())
        incremental = bi.run_child("incremental", env)
        nochange = bi.run_child("nochange", env)
        size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file() and "dlt" not in f.parts)
        return {
            "engine": engine,
            "rows": initial["rows"],
            "initial_s": round(initial["seconds"], 2),
            "index_s": round(initial["index_seconds"], 2),
            "changed_rows": changed,
            "incremental_rows": incremental["rows"],
            "incremental_s": round(incremental["seconds"], 2),
            "nochange_s": round(nochange["seconds"], 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in (initial, incremental, nochange))),
            "engine_bytes": size if engine != "postgres" else None,
        }
    finally:
        bi.drop_db(admin, source)
        bi.drop_db(admin, marts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--engines", default="postgres,duckdb,chdb")
    args = parser.parse_args()
    from heartbeat_demo.world import build_world

    admin = bi.admin_url()
    work = Path(tempfile.mkdtemp(prefix="hb-bench-wh-ingest-"))
    world = bi.create_db(admin, "world")
    try:
        started = time.perf_counter()
        summary = build_world(world, work / "rates", scale=args.scale)
        print(
            f"world: scale {args.scale}, {summary.total_rows:,} rows in {time.perf_counter() - started:.1f}s"
        )
        rows = []
        for engine in args.engines.split(","):
            load = os.getloadavg()
            row = _target(engine, admin, world, work)
            row["load_average"] = [round(x, 2) for x in load]
            rows.append(row)
            print(json.dumps(row), flush=True)
        print(json.dumps({"scale": args.scale, "cores": os.cpu_count(), "runs": rows}, indent=2))
    finally:
        bi.drop_db(admin, world)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
