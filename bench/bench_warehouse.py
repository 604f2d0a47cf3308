"""Benchmark: all demo metrics on Postgres vs each warehouse engine (DuckDB, ClickHouse in process via chDB),
at several demo scales, same machine, one run; the engines read their own rollup tables (issue 17).

    .venv/bin/python bench/bench_warehouse.py [--scales 1,10,50] [--runs 2] [--engines duckdb,chdb]
    .venv/bin/python bench/bench_warehouse.py --land-only --scales 50     # land early, in the background

Source of truth per scale: the prebuilt demo world `hb_s<scale>` on the server of HEARTBEAT_BENCH_DATABASE_URL
(read, never written), or, where there is none, a scratch world built as bench_recompute does.
1. Landing: every table of the demo schemas is read from the world as Arrow (ADBC, one table at a time, so a
   37 M-row table is the largest thing in memory) and landed through warehouse mode's own functions (DuckDB
   through dlt's `duckdb` destination, chDB as Arrow into MergeTree), into `--workdir/s<scale>/`; the seconds
   and rows are kept in `landed-<engine>.json` there, so a `--land-only` run started early is reused.
2. Compute: a TEMPLATE copy of the world (dropped after) is the read model: migrated, project synced, the
   Postgres rollups refreshed; every metric's @value and @detail evaluated serially at one frozen moment —
   on Postgres by compute's `evaluate_postgres`, on each engine by warehouse mode's after the engine's rollup
   tables are built (`warehouse.rollups`, full build timed). The figure per side is the best of `runs`
   passes; values are checked equal (parity's rule) and each rollup-reading metric must read the table.

Record results in bench/RESULTS.md under "Warehouse mode" and docs/scale-out.md "Measurements".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_recompute import admin_url, scratch_marts  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402

SCHEMAS = ("webbank", "aml", "card_management", "currency_rates", "helpdesk")
PROJECT = REPO / "heartbeat_demo" / "project"


def _mark_landed(url: str, now: datetime) -> None:
    """A `_dlt_loads` per schema, as dlt leaves one (freshness and landing look for it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}._dlt_loads (load_id text NOT NULL, schema_name text,"
                " status bigint NOT NULL, inserted_at timestamptz NOT NULL, schema_version_hash text)"
            )
            conn.execute(f"INSERT INTO {schema}._dlt_loads VALUES ('1', %s, 0, %s, 'bench')", (schema, now))


def _exists(admin: str, name: str) -> bool:
    with psycopg.connect(admin, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def engine_config(name: str, workdir: Path, scale: int) -> Any:
    from heartbeat_core.warehouse.config import parse_url

    base = workdir / f"s{scale}"
    return parse_url(f"duckdb://{base / 'marts.duckdb'}" if name == "duckdb" else f"chdb://{base / 'chdb'}")


def land_world(source_url: str, name: str, workdir: Path, scale: int) -> dict[str, Any]:
    """The world's demo tables into one engine, a table at a time, through warehouse mode's landing
    functions; returns (and stores) seconds, rows and the load average around it."""
    from heartbeat_core.warehouse.engines import open_engine
    from heartbeat_core.warehouse.land import _land_duckdb, _sorted, read_tables, sort_keys

    os.environ.setdefault("HEARTBEAT_PROJECT", str(PROJECT))
    config = engine_config(name, workdir, scale)
    marker = workdir / f"s{scale}" / f"landed-{name}.json"
    with psycopg.connect(source_url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema = ANY(%s) AND table_name NOT LIKE '\\_dlt%%' ORDER BY 1, 2",
            (list(SCHEMAS),),
        ).fetchall()
    keys = sort_keys(list(SCHEMAS))
    load_before, started, rows = os.getloadavg(), time.perf_counter(), 0
    for schema, table in tables:
        data = {k: _sorted(v, keys.get(k)) for k, v in read_tables(source_url, [(schema, table)]).items()}
        rows += sum(a.num_rows for a in data.values())
        if name == "duckdb":
            _land_duckdb(config, data, workdir / f"s{scale}" / "dlt")
        else:
            engine = open_engine(config, read_only=False)
            try:
                for (s, t), arrow in data.items():
                    engine.replace_table(s, t, arrow, order_by=keys.get((s, t)))
            finally:
                engine.close()
        del data
    out = {"engine": name, "scale": scale, "rows": rows, "seconds": time.perf_counter() - started,
           "load_before": load_before, "load_after": os.getloadavg(), "at": datetime.now(UTC).isoformat()}  # fmt: skip
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(out))
    return out


def _landed(source_url: str, name: str, workdir: Path, scale: int) -> dict[str, Any]:
    marker = workdir / f"s{scale}" / f"landed-{name}.json"
    if marker.exists():
        return dict(json.loads(marker.read_text()), reused=True)
    return land_world(source_url, name, workdir, scale)


@contextmanager
def read_model(admin: str, scale: int, now: datetime) -> Iterator[tuple[str, str]]:
    """(read-model URL, source URL): a TEMPLATE copy of hb_s<scale> (dropped after), else a scratch world."""
    world = f"hb_s{scale}"
    if not _exists(admin, world):
        from heartbeat_demo.check import prepare_source_for_metrics
        from heartbeat_demo.world import build_world

        with scratch_marts(admin, f"wh{scale}") as url:
            files = Path(tempfile.mkdtemp(prefix="hb-rates-"))
            build_world(url, files, scale=scale, now=now)
            prepare_source_for_metrics(url, files)
            _mark_landed(url, now)
            yield url, url
        return
    copy = f"hb_whc_s{scale}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        for attempt in range(30):  # the template must have no other session: retry while one reads it
            try:
                conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{world}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(10)
    url = with_database(admin, copy)
    from heartbeat_core.db.connection import reset_pool
    from heartbeat_core.settings import reset_settings

    os.environ.update(HEARTBEAT_DATABASE_URL=url, HEARTBEAT_HOME=tempfile.mkdtemp(prefix="hb-wh-home-"),
                      HEARTBEAT_METRIC_DEFS=str(PROJECT / "metric_defs"), HEARTBEAT_PROJECT=str(PROJECT))  # fmt: skip
    reset_settings()
    reset_pool()
    _mark_landed(url, now)
    try:
        yield url, with_database(admin, world)
    finally:
        reset_pool()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


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


def _on_engine(
    conn: Any, name: str, config: Any, metrics: list[Any], runs: int, now: datetime
) -> dict[str, Any]:
    from heartbeat_core.rollups.compute import reads_rollups
    from heartbeat_core.warehouse import evaluate as wh
    from heartbeat_core.warehouse import rollups as engine_rollups
    from heartbeat_core.warehouse.engines import open_engine

    started = time.perf_counter()
    refreshed = engine_rollups.refresh_read_by(conn, config, metrics)
    rollup_s = time.perf_counter() - started
    failed = {k: r.error for k, r in refreshed.items() if r.error}
    on_table = [m.metric_id for m in metrics if reads_rollups(m) and
                engine_rollups.ready(conn, config.url, reads_rollups(m))]  # fmt: skip
    conn.commit()
    engine = open_engine(config)
    try:
        seconds, values, slow = _timed(lambda m: wh.evaluate(engine, conn, m, now), metrics, runs)
    finally:
        engine.close()
    return {"seconds": seconds, "slowest": slow, "values": values, "rollup_s": rollup_s,
            "rollup_days": {k: r.days_rebuilt for k, r in refreshed.items()}, "rollup_errors": failed,
            "metrics_on_rollup_tables": len(on_table)}  # fmt: skip


def one_scale(
    admin: str, scale: int, runs: int, engines: list[str], now: datetime, workdir: Path
) -> dict[str, Any]:
    from heartbeat_core import clock
    from heartbeat_core.compute import engine as pg_engine
    from heartbeat_core.metrics.registry import active_metrics
    from heartbeat_core.rollups.compute import refresh_rollups_read_by
    from heartbeat_core.sync import sync_project
    from heartbeat_core.warehouse.parity import exact_unit, values_match

    out: dict[str, Any] = {"scale": scale, "load_before": os.getloadavg()}
    with read_model(admin, scale, now) as (url, source_url):
        for name in engines:
            out.setdefault("landed", {})[name] = _landed(source_url, name, workdir, scale)
        sync_project()
        with clock.frozen_clock(now), psycopg.connect(url) as conn:
            metrics = active_metrics(conn)
            out["rows"] = sum(v["rows"] for v in out["landed"].values()) // max(len(engines), 1)
            conn.commit()
            refresh_rollups_read_by(conn, metrics)  # Postgres reads its rollup tables, as compute does
            conn.commit()
            pg_s, pg_values, pg_slow = _timed(
                lambda m: pg_engine.evaluate_postgres(conn, m, now), metrics, runs
            )
            out["postgres"] = {"seconds": pg_s, "slowest": pg_slow}
            print(f"  (scale {scale}) postgres {pg_s:.2f} s", flush=True)
            for name in engines:
                result = _on_engine(conn, name, engine_config(name, workdir, scale), metrics, runs, now)
                values = result.pop("values")
                result["mismatched"] = [
                    m.metric_id for m in metrics
                    if not values_match(pg_values[m.metric_id], values[m.metric_id], exact=exact_unit(m.unit))
                ]  # fmt: skip
                out[name] = result
                print(f"  (scale {scale}) {name} {result['seconds']:.2f} s", flush=True)
    out["load_after"] = os.getloadavg()
    return out


def _print(r: dict[str, Any], engines: list[str]) -> None:
    print(
        f"scale {r['scale']}: {r['rows']:,} source rows; load average {r['load_before'][0]:.1f} → "
        f"{r['load_after'][0]:.1f}"
    )
    print(f"  postgres: all 38 metrics {r['postgres']['seconds']:.2f} s; slowest {r['postgres']['slowest']}")
    for name in engines:
        e, landed = r[name], r["landed"][name]
        print(
            f"  {name}: all 38 metrics {e['seconds']:.2f} s; slowest {e['slowest']}; rollups built in "
            f"{e['rollup_s']:.1f} s {e['rollup_days']} (errors {e['rollup_errors'] or 'none'}), "
            f"{e['metrics_on_rollup_tables']} metrics read them; landed {landed['rows']:,} rows in "
            f"{landed['seconds']:.0f} s{' (earlier run)' if landed.get('reused') else ''} (load "
            f"{landed['load_before'][0]:.1f} → {landed['load_after'][0]:.1f}); mismatched {e['mismatched'] or 'none'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--now", default="2026-11-25T14:30:00+00:00")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "hb-wh-bench"))
    parser.add_argument("--land-only", action="store_true", help="only land the worlds into the engines")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    engines = [e for e in args.engines.split(",") if e]
    workdir = Path(args.workdir)
    admin = admin_url()
    scales = [int(s) for s in args.scales.split(",")]
    print(
        f"# warehouse benchmark — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    if args.land_only:
        for scale in scales:
            for name in engines:
                landed = land_world(with_database(admin, f"hb_s{scale}"), name, workdir, scale)
                print(json.dumps(landed), flush=True)
        return
    for scale in scales:
        result = one_scale(admin, scale, args.runs, engines, now, workdir)
        _print(result, engines)
        (workdir / f"s{scale}").mkdir(parents=True, exist_ok=True)
        (workdir / f"s{scale}" / "result.json").write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
