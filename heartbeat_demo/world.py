"""Build the demo world: a Satchel-like fintech with 180 days of history and injected incidents.

`build_world` (re)creates schemas `webbank`, `aml`, `card_management` and `helpdesk` in a source database
(separate from marts, same server) with set-based SQL, and writes one currency-rate CSV per day into a
folder. `append_live` adds the rows of the last minute, for `heartbeat demo --live`. The world is a pure
function of (seed, scale, now). docs/demo-world.md describes the tables, columns and incidents.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core import clock
from heartbeat_demo import sqlgen

SOURCE_SCHEMAS = ("webbank", "aml", "card_management", "helpdesk")
TABLES: dict[str, tuple[str, ...]] = {
    "webbank": (
        "client_profile",
        "client_profile_state_log",
        "payment",
        "payment_state_log",
        "entry",
        "payment_state",
    ),
    "aml": ("aml_retrospective",),
    "card_management": ("card", "collateral_invoice"),
    "helpdesk": ("ticket",),
}
RATE_FILE_PATTERN = "rates_{date}.csv"  # date as YYYY-MM-DD
RATE_GAP_DAYS = 3  # incident (d): the files of the last 3 days never arrived
MAX_SCALE = 50
_META_PREFIX = "heartbeat demo world: "
_LIVE_LOCK = 0x4842_444C  # "HBDL"


@dataclass
class WorldSummary:
    seed: int
    scale: int
    now: datetime
    rows: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows
    rate_files: int = 0
    last_rate_date: date | None = None
    acme_client_id: int = sqlgen.ACME_CLIENT_ID
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _now(now: datetime | None) -> datetime:
    moment = now or clock.now()
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _run(conn: psycopg.Connection[Any], statements: sql.Composed) -> None:
    conn.execute(statements)


def _session(source_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(source_url, autocommit=True)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '128MB'")
    conn.execute("SET maintenance_work_mem = '256MB'")
    return conn


def _parallel(source_url: str, batches: list[list[sql.Composed]]) -> None:
    """Run each batch of statements in its own session, side by side; re-raise the first failure."""

    def work(batch: list[sql.Composed]) -> None:
        with _session(source_url) as conn:
            for statements in batch:
                _run(conn, statements)

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        for future in [pool.submit(work, batch) for batch in batches]:
            future.result()


def build_world(
    source_url: str, files_dir: Path, *, scale: int = 1, seed: int = 42, now: datetime | None = None
) -> WorldSummary:
    """(Re)create the demo source schemas at `source_url` and the rate files in `files_dir`."""
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be between 1 and {MAX_SCALE}, got {scale}")
    moment = _now(now)
    started = time.perf_counter()
    summary = WorldSummary(seed=seed, scale=scale, now=moment)
    with _session(source_url) as conn:
        for schema in (*SOURCE_SCHEMAS, "demo_gen"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        with conn.transaction():
            for schema in SOURCE_SCHEMAS:
                conn.execute(f"CREATE SCHEMA {schema}")
            _run(conn, sqlgen.helper_functions(seed, moment))
            _run(conn, sqlgen.day_table(scale))
            _run(conn, sqlgen.render("lookups"))
            _run(conn, sqlgen.clients(scale))
            _run(conn, sqlgen.render("payment_tables"))
        # Two sessions side by side: the payments of the early and late days, and the smaller tables.
        split = sqlgen.HISTORY_DAYS * 5 // 9
        _parallel(
            source_url,
            [
                [sqlgen.payments(scale, 0, split), sqlgen.aml(scale), sqlgen.cards(scale)],
                [sqlgen.payments(scale, split + 1, sqlgen.HISTORY_DAYS), sqlgen.helpdesk(scale)],
            ],
        )
        _parallel(source_url, [[sqlgen.render("constraints")], [sqlgen.render("constraints_big")]])
        meta = json.dumps({"seed": seed, "scale": scale, "now": moment.isoformat()})
        conn.execute(f"COMMENT ON SCHEMA webbank IS '{_META_PREFIX}{meta}'".encode())
        conn.execute("DROP SCHEMA demo_gen CASCADE")
        for schema, tables in TABLES.items():
            for table in tables:
                conn.execute(f"ANALYZE {schema}.{table}")
                row = conn.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()
                summary.rows[f"{schema}.{table}"] = int(row[0]) if row else 0
    files = write_rate_files(files_dir, moment, seed=seed)
    summary.rate_files = len(files)
    summary.last_rate_date = max((d for d, _ in files), default=None)
    summary.seconds = time.perf_counter() - started
    return summary


# ---------------------------------------------------------------------------------------------- rates


def rate_series(now: datetime, seed: int = 42) -> Iterable[tuple[date, dict[str, float]]]:
    """Daily rates (EUR value of one unit) from the first history day to the last file that arrived."""
    rng = random.Random(f"heartbeat-demo-rates-{seed}")
    first = now.date() - timedelta(days=sqlgen.HISTORY_DAYS)
    last = now.date() - timedelta(days=RATE_GAP_DAYS)
    level = {c: math.log(r) for c, r in sqlgen.BASE_RATES.items()}
    day = first
    while day <= last:
        for currency in level:
            if currency != "EUR":
                level[currency] += rng.gauss(0, 0.004) - 0.02 * (
                    level[currency] - math.log(sqlgen.BASE_RATES[currency])
                )
        yield day, {c: round(math.exp(v), 6) if c != "EUR" else 1.0 for c, v in level.items()}
        day += timedelta(days=1)


def write_rate_files(files_dir: Path, now: datetime, *, seed: int = 42) -> list[tuple[date, Path]]:
    """One `rates_YYYY-MM-DD.csv` per day; each file's mtime is when it arrived (23:00 UTC the day before).

    The files of the last RATE_GAP_DAYS days (today included) are missing: incident (d).
    """
    files_dir.mkdir(parents=True, exist_ok=True)
    for old in files_dir.glob("rates_*.csv"):
        old.unlink()
    written: list[tuple[date, Path]] = []
    for day, rates in rate_series(_now(now), seed):
        path = files_dir / RATE_FILE_PATTERN.format(date=day.isoformat())
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["date", "currency", "rate_to_eur"])
            for currency, rate in rates.items():
                writer.writerow([day.isoformat(), currency, f"{rate:.6f}"])
        arrived = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=1)
        os.utime(path, (arrived.timestamp(), arrived.timestamp()))
        written.append((day, path))
    return written


# ----------------------------------------------------------------------------------------- checksum


def world_checksum(source_url: str) -> str:
    """A digest of every source row (ordered by id): same seed and now → same checksum."""
    digest = hashlib.sha256()
    with psycopg.connect(source_url) as conn:
        for schema, tables in TABLES.items():
            for table in tables:
                row = conn.execute(
                    f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {schema}.{table} t"
                ).fetchone()
                digest.update(f"{schema}.{table}:{row[0] if row else ''};".encode())
    return digest.hexdigest()


def _meta(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("SELECT obj_description('webbank'::regnamespace, 'pg_namespace')").fetchone()
    text = (row[0] if row else None) or ""
    if not text.startswith(_META_PREFIX):
        raise ValueError("the source database has no demo world: run build_world first")
    return dict(json.loads(text[len(_META_PREFIX) :]))


LIVE_CATCH_UP = timedelta(minutes=5)
_LIVE_TABLES = {
    "payments": "webbank.payment",
    "payment_state_log": "webbank.payment_state_log",
    "entries": "webbank.entry",
    "clients": "webbank.client_profile",
    "client_state_log": "webbank.client_profile_state_log",
    "aml_reviews": "aml.aml_retrospective",
    "tickets": "helpdesk.ticket",
    "cards": "card_management.card",
}


def append_live(
    source_url: str, files_dir: Path, *, now: datetime | None = None, seed: int | None = None
) -> dict[str, int]:
    """Append the rows of the last minute (at most LIVE_CATCH_UP since the newest payment) and move due
    lifecycle steps forward (decisions, completions, reviews, resolutions). Rate files stay missing:
    incident (d) goes on. Returns new rows per table; `files_dir` is accepted for symmetry and untouched.
    """
    moment = _now(now)
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        meta = _meta(conn)
        row = conn.execute("SELECT max(create_time) FROM webbank.payment").fetchone()
        last = row[0] if row and row[0] else moment - timedelta(minutes=1)
        start = max(last, moment - LIVE_CATCH_UP)
        if start >= moment:
            return dict.fromkeys(_LIVE_TABLES, 0)
        before = {k: _max_id(conn, t) for k, t in _LIVE_TABLES.items()}
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LIVE_LOCK,))
            _run(conn, sqlgen.helper_functions(meta["seed"] if seed is None else seed, moment))
            _run(conn, sqlgen.live(int(meta["scale"]), start, moment))
            conn.execute("DROP SCHEMA demo_gen CASCADE")
        counts = {}
        for key, table in _LIVE_TABLES.items():
            got = conn.execute(f"SELECT count(*) FROM {table} WHERE id > %s", (before[key],)).fetchone()
            counts[key] = int(got[0]) if got else 0
    return counts


def _max_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    return int(row[0]) if row else 0
