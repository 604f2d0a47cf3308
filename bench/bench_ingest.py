"""Benchmark: ingest of the demo world's Postgres sources with dlt vs a raw binary COPY, same run.

    .venv/bin/python bench/bench_ingest.py [--scale 10] [--repeat 1] [--keep]

Uses the Postgres server at HEARTBEAT_BENCH_DATABASE_URL (scratch databases are created and dropped on
it) or else an embedded server in ~/.cache/heartbeat-bench. Steps:

1. build the demo world (`build_world(source_url, files_dir, scale=N)`) in a scratch source database;
2. raw binary COPY (psycopg 3 copy API, `FORMAT binary`) of every table of the postgres sources in
   sources.toml (webbank, aml, card_management) from the source database into a scratch marts database,
   target tables without keys or indexes — the physical limit;
3. the initial ingest of the same sources with the engine (`heartbeat_core.ingest.run_one`), in a child
   process so its peak RSS is its own; reported with and without the post-ingest indexes;
4. 1% of the rows changed (rows with an `updated_at` cursor updated, append-only logs grown by 1%),
   then an incremental run; 5. a run with no change.

Targets (issue 3): initial >= 50% of COPY throughput, incremental <= 25% of the full load, no-change
< 1 s, peak RSS <= 1 GB. Record results in bench/RESULTS.md under "Ingest".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from heartbeat_core.db import embedded  # noqa: E402
from heartbeat_core.db.connection import with_database  # noqa: E402

POSTGRES_SOURCES = ("webbank", "aml", "card_management")


def admin_url() -> str:
    external = os.environ.get("HEARTBEAT_BENCH_DATABASE_URL")
    if external:
        return with_database(external, "postgres")
    return embedded.ensure_running(Path.home() / ".cache" / "heartbeat-bench")


def create_db(admin: str, prefix: str) -> str:
    name = f"hb_bench_{prefix}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin, name)


def drop_db(admin: str, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def source_tables() -> list[tuple[str, str, str, Any]]:
    """(source, schema, table, resolved) for every table of the postgres sources in sources.toml."""
    from heartbeat_core.ingest.config import load_sources, resolved_tables

    out = []
    for name, spec in load_sources(REPO / "heartbeat_demo" / "project" / "sources.toml").items():
        if name in POSTGRES_SOURCES:
            for table in resolved_tables(spec):
                out.append((name, spec.source_schema, table.name, table))  # type: ignore[union-attr]
    return out


def raw_copy(source: str, marts: str, tables: list[tuple[str, str, str, Any]]) -> tuple[float, int]:
    """Binary COPY of every table into schema rawcopy of marts; returns (seconds, rows)."""
    with psycopg.connect(marts, autocommit=True) as m, psycopg.connect(source) as s:
        m.execute("DROP SCHEMA IF EXISTS rawcopy CASCADE")
        m.execute("CREATE SCHEMA rawcopy")
        for _, schema, table, _ in tables:
            cols = s.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (f'"{schema}"."{table}"',),
            ).fetchall()
            ddl = sql.SQL("CREATE TABLE rawcopy.{} ({})").format(
                sql.Identifier(f"{schema}__{table}"),
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in cols),
            )
            m.execute(ddl)
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(source) as s, psycopg.connect(marts) as m:
        for _, schema, table, _ in tables:
            out_sql = sql.SQL("COPY {}.{} TO STDOUT (FORMAT binary)").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            in_sql = sql.SQL("COPY rawcopy.{} FROM STDIN (FORMAT binary)").format(
                sql.Identifier(f"{schema}__{table}")
            )
            with s.cursor().copy(out_sql) as cin, m.cursor().copy(in_sql) as cout:
                for data in cin:
                    cout.write(data)
            m.commit()
        seconds = time.perf_counter() - started
        for _, schema, table, _ in tables:
            rows += m.execute(
                sql.SQL("SELECT count(*) FROM rawcopy.{}").format(sql.Identifier(f"{schema}__{table}"))
            ).fetchone()[0]  # type: ignore[index]
    with psycopg.connect(marts, autocommit=True) as m:
        m.execute("DROP SCHEMA rawcopy CASCADE")
    return seconds, rows


def change_one_percent(source: str, tables: list[tuple[str, str, str, Any]]) -> int:
    """Update 1% of the rows of tables with a time cursor; grow append-only logs by 1%."""
    changed = 0
    with psycopg.connect(source, autocommit=True) as s:
        for _, schema, table, resolved in tables:
            ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            if resolved.cursor == "updated_at":
                cur = s.execute(sql.SQL("UPDATE {} SET updated_at = now() WHERE id % 100 = 7").format(ident))
                changed += cur.rowcount
            elif resolved.cursor == "id":
                cols = [
                    r[0]
                    for r in s.execute(
                        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                        "AND NOT attisdropped ORDER BY attnum",
                        (f'"{schema}"."{table}"',),
                    ).fetchall()
                ]
                offset = s.execute(sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(ident)).fetchone()[0]  # type: ignore[index]
                select = sql.SQL(", ").join(
                    sql.SQL("id + {}").format(sql.Literal(offset)) if c == "id" else sql.Identifier(c)
                    for c in cols
                )
                cur = s.execute(
                    sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} WHERE id % 100 = 7").format(
                        ident, sql.SQL(", ").join(sql.Identifier(c) for c in cols), select, ident
                    )
                )
                changed += cur.rowcount
    return changed


def child(phase: str) -> None:
    """Run in a fresh process: ingest the postgres sources once, print one JSON line."""
    from heartbeat_core.ingest import run_one
    from heartbeat_core.ingest.config import load_sources
    from heartbeat_core.ingest.pipeline import warm_up

    config = load_sources()
    t_import = time.perf_counter()
    warm_up()  # a long-lived process (server, scheduler) has dlt imported already; the CLI pays this once
    import_s = time.perf_counter() - t_import
    started = time.perf_counter()
    results = [run_one(name, sources=config) for name in POSTGRES_SOURCES]
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "phase": phase,
                "seconds": seconds,
                "import_s": import_s,
                "rows": sum(r.rows for r in results),
                "index_seconds": sum(r.index_seconds for r in results),
                "ok": all(r.ok for r in results),
                "errors": [r.error for r in results if r.error],
                "per_source": {r.source: round(r.seconds, 3) for r in results},
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_child(phase: str, env: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", phase], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{phase} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1])
    out["wall_with_imports"] = wall
    if not out["ok"]:
        raise SystemExit(f"{phase}: ingest failed: {out['errors']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="initial ingest and COPY repeated, best kept")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    from heartbeat_demo.world import build_world

    admin = admin_url()
    home = Path(tempfile.mkdtemp(prefix="hb-bench-ingest-"))
    source = create_db(admin, "src")
    marts = create_db(admin, "marts")
    try:
        from heartbeat_core.db.migrate import migrate

        with psycopg.connect(marts) as conn:
            migrate(conn)
        t0 = time.perf_counter()
        summary = build_world(source, home / "demo" / "currency_rates", scale=args.scale)
        print(
            f"world: scale {args.scale}, {summary.total_rows:,} rows in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        tables = source_tables()
        env = dict(os.environ)
        env.update(
            HEARTBEAT_DATABASE_URL=marts,
            HEARTBEAT_HOME=str(home),
            HEARTBEAT_DEMO_SOURCE_URL=source,
            HEARTBEAT_SOURCES=str(REPO / "heartbeat_demo" / "project" / "sources.toml"),
        )
        copies, initials = [], []
        for attempt in range(args.repeat):
            copy_s, copy_rows = raw_copy(source, marts, tables)
            copies.append(copy_s)
            print(
                f"raw binary COPY: {copy_rows:,} rows in {copy_s:.2f}s ({copy_rows / copy_s:,.0f} rows/s)",
                flush=True,
            )
            if attempt:
                with psycopg.connect(marts, autocommit=True) as m:
                    for name in POSTGRES_SOURCES:
                        m.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
                    m.execute("DELETE FROM heartbeat.source_state")
                shutil.rmtree(home / "dlt", ignore_errors=True)
            initial = run_child("initial", env)
            initials.append(initial)
            print(
                f"dlt initial: {initial['rows']:,} rows in {initial['seconds']:.2f}s "
                f"(indexes {initial['index_seconds']:.2f}s), peak RSS {initial['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        copy_s = min(copies)
        initial = min(initials, key=lambda r: r["seconds"])
        changed = change_one_percent(source, tables)
        incremental = run_child("incremental", env)
        print(
            f"1% changed ({changed:,} rows); incremental: {incremental['rows']:,} rows in {incremental['seconds']:.2f}s",
            flush=True,
        )
        nochange = run_child("nochange", env)
        print(
            f"no change: {nochange['rows']:,} rows in {nochange['seconds']:.2f}s {nochange['per_source']} "
            f"(dlt imports {nochange['import_s']:.2f}s, wall with interpreter {nochange['wall_with_imports']:.2f}s)",
            flush=True,
        )

        load_only = initial["seconds"] - initial["index_seconds"]
        report = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
            "scale": args.scale,
            "rows": initial["rows"],
            "copy_s": round(copy_s, 2),
            "initial_s": round(initial["seconds"], 2),
            "initial_without_indexes_s": round(load_only, 2),
            "throughput_vs_copy": round(copy_s / load_only, 3),
            "throughput_vs_copy_with_indexes": round(copy_s / initial["seconds"], 3),
            "incremental_rows": incremental["rows"],
            "incremental_s": round(incremental["seconds"], 2),
            "incremental_vs_full": round(incremental["seconds"] / initial["seconds"], 3),
            "nochange_s": round(nochange["seconds"], 3),
            "nochange_per_source_s": nochange["per_source"],
            "dlt_import_s": round(nochange["import_s"], 2),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in (*initials, incremental, nochange))),
            "per_source_initial": initial["per_source"],
        }
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            drop_db(admin, source)
            drop_db(admin, marts)
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
