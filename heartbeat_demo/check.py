"""Run metric SQL straight against a demo source database, before (or without) ingest.

The source database has the same schema and table names as the marts copies, so metric SQL runs on it
once it has the `heartbeat.as_of()` helpers and a `currency_rates.rates` table loaded from the rate files
(what the files source lands). Tests and the tuning of metric lines use this; production never does.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from heartbeat_core.db.migrate import migrate
from heartbeat_core.ingest.config import load_sources, resolved_tables
from heartbeat_core.ingest.indexes import apply_indexes
from heartbeat_core.rollups.definition import load_rollups
from heartbeat_core.rollups.read import expand, reads
from heartbeat_demo import PROJECT_DIR


def prepare_source_for_metrics(source_url: str, files_dir: Path) -> int:
    """Install heartbeat's helpers, load the rate files into currency_rates.rates and create the
    post-ingest indexes the demo project's sources.toml declares, as ingest would on marts; returns
    the rate rows loaded."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("DROP SCHEMA IF EXISTS currency_rates CASCADE")
        conn.execute("CREATE SCHEMA currency_rates")
        conn.execute(
            "CREATE TABLE currency_rates.rates (date date NOT NULL, currency text NOT NULL, "
            "rate_to_eur double precision NOT NULL)"
        )
        rows = 0
        with (
            conn.cursor() as cur,
            cur.copy("COPY currency_rates.rates (date, currency, rate_to_eur) FROM STDIN") as copy,
        ):
            for path in sorted(files_dir.glob("rates_*.csv")):
                with path.open(newline="") as handle:
                    for record in csv.DictReader(handle):
                        copy.write_row((record["date"], record["currency"], record["rate_to_eur"]))
                        rows += 1
        _apply_demo_indexes(conn)
        conn.execute("ANALYZE")
    return rows


def _apply_demo_indexes(conn: psycopg.Connection[Any]) -> None:
    """The post-ingest indexes of every demo source (the source database has the marts' schema and
    table names), from the one place they are declared: the demo project's sources.toml."""
    problems: list[str] = []
    for name, source in load_sources(PROJECT_DIR / "sources.toml").items():
        problems.extend(apply_indexes(conn, name, resolved_tables(source)))
    if problems:
        raise RuntimeError("post-ingest indexes failed: " + "; ".join(problems))


@dataclass
class SectionResult:
    rows: list[tuple[Any, ...]]
    columns: list[str]
    seconds: float


def run_section(
    conn: psycopg.Connection[Any], sql: str, *, period: str, as_of: datetime | None = None
) -> SectionResult:
    """Run one metric section the way compute does: read-only, with heartbeat.as_of and period set."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('heartbeat.period', %s, true)", (period,))
        conn.execute("SELECT set_config('heartbeat.as_of', %s, true)", (as_of.isoformat() if as_of else "",))
        sql = _rollups_from_raw_rows(conn, sql)
        started = time.perf_counter()
        cur = conn.execute(sql.encode())
        rows = cur.fetchall()
        seconds = time.perf_counter() - started
        columns = [d.name for d in cur.description or []]
    return SectionResult(rows, columns, seconds)


@cache
def _demo_rollups() -> tuple[dict[str, str], frozenset[str]]:
    """The demo's rollup queries, and those with a reach (read as whole days, as compute reads them)."""
    definitions = load_rollups(PROJECT_DIR / "rollups").definitions
    return {d.rollup_id: d.sql for d in definitions}, frozenset(
        d.rollup_id for d in definitions if d.reach_days
    )


def _rollups_from_raw_rows(conn: psycopg.Connection[Any], sql: str) -> str:
    """A source database holds no rollup tables: `rollups.<id>` reads its window from raw rows, as the gate's
    reference does (the value is the same; compute reads the table)."""
    if not reads(sql):
        return sql
    row = conn.execute("SELECT heartbeat.as_of(), heartbeat.window_start()").fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    queries, reaching = _demo_rollups()
    return expand(sql, queries, row[1], row[0], ZoneInfo("UTC"), raw=True, whole_day_only=reaching)
