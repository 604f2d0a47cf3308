"""Rollup tables on the warehouse engine: `rollups/<id>.sql` refreshed where the marts live.

The same plan as `heartbeat_core.rollups.refresh`, with the engine's SQL:

1. No table on the engine, or one built from another version of the file (or zone): build every day —
   DuckDB `CREATE OR REPLACE TABLE rollups."id" AS …`, ClickHouse a `MergeTree` ordered by `day` (a 30-day
   read prunes to a month of granules) filled by the same SELECT.
2. Otherwise the business days of the rows whose change cursor is past the watermark, rebuilt in contiguous
   ranges: one DELETE (ClickHouse's lightweight delete) and one INSERT each (DuckDB: in one transaction);
   with a watched dimension (`-- watch:`), also the days of the rows whose key a changed dimension row carries.
3. The state — build identity, watermark, days rebuilt, time, or the failure — goes to the read model
   (`heartbeat.warehouse_rollup_state`, one row per engine URL and rollup), as `rollup_registry` holds it for
   the Postgres table.

The rollup's query is bound with the engine's own moment literals (`transpile.moment_literal`, wall time in
the project's zone, the engine's session zone) and transpiled as a metric section is. Writes go through an
engine opened with `read_only=False`, closed after the refresh: metric SQL keeps its read-only engine.
A metric then reads the engine's `rollups.<id>` for whole days exactly as in Postgres (`rollups.read`) when
every rollup it reads is built on that engine with the current file; otherwise its raw rows (`raw_rollups`).
"""

from __future__ import annotations

import logging
import time as timer
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.compute import reads_rollups
from heartbeat_core.rollups.definition import FROM_CALL, TO_CALL
from heartbeat_core.rollups.refresh import (
    RefreshResult,
    StoredRollup,
    build_identity,
    day_ranges,
    day_start,
    stored_rollups,
    with_reach,
)
from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse.config import WarehouseConfig, WarehouseError
from heartbeat_core.warehouse.engines import Engine, EngineQueryError, open_engine
from heartbeat_core.warehouse.transpile import TranspileError, moment_literal, transpile

log = logging.getLogger(__name__)

# Unbounded sides of a full build: inside every engine's timestamp range (ClickHouse DateTime64: 1900–2299)
_EARLIEST = datetime(1900, 1, 2, tzinfo=UTC)
_LATEST = datetime(2299, 12, 30, tzinfo=UTC)
# A refresh is no metric: a full build groups every landed row once (Postgres' refresh has no statement timeout
# either); the engine's limit only stops a runaway build
REFRESH_TIMEOUT_S = 1800.0


def engine_sql(
    rollup: StoredRollup, engine: str, tz: ZoneInfo, start: datetime | None, end: datetime | None
) -> str:
    """The rollup's query over [start, end) of its time column, in the engine's dialect."""
    literal = moment_literal(engine, tz)
    bound = TO_CALL.sub(literal(end or _LATEST), FROM_CALL.sub(literal(start or _EARLIEST), rollup.sql))
    return transpile(bound, engine)


def _cursor_literal(watermark: str, engine: str, tz: ZoneInfo) -> str:
    """The stored watermark as the engine compares it: a moment (ISO text), a number, or text."""
    try:
        return moment_literal(engine, tz)(datetime.fromisoformat(watermark))
    except ValueError:
        pass
    try:
        float(watermark)
        return watermark
    except ValueError:
        return "'" + watermark.replace("'", "''") + "'"


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


class _Plan:
    """The statements of one rollup on one engine."""

    def __init__(self, engine: Engine, rollup: StoredRollup, tz: ZoneInfo):
        self.engine, self.rollup, self.tz = engine, rollup, tz
        self.dialect = engine.config.engine
        self.table = f'rollups."{rollup.rollup_id}"'
        self.limits = {"timeout_s": REFRESH_TIMEOUT_S, "timezone": tz.key}

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.engine.query(sql, **self.limits).rows  # type: ignore[arg-type]

    def run(self, sql: str) -> None:
        self.engine.execute(sql, **self.limits)  # type: ignore[arg-type]

    def exists(self) -> bool:
        found = self.rows(
            "SELECT count(*) FROM information_schema.tables"
            f" WHERE table_schema = 'rollups' AND table_name = '{self.rollup.rollup_id}'"
        )
        return bool(found and found[0][0])

    def watermark(self) -> str | None:
        found = self.rows(f"SELECT max({self.rollup.cursor_column}) FROM {self.rollup.source_table}")
        return _as_text(found[0][0]) if found else None

    def watch_watermark(self) -> str | None:
        watch = self.rollup.watched
        if watch is None:
            return None
        found = self.rows(f"SELECT max({watch.cursor_column}) FROM {watch.table}")
        return _as_text(found[0][0]) if found else None

    def touched_days(self, watermark: str, watch_watermark: str | None) -> list[date]:
        r, watch = self.rollup, self.rollup.watched
        changed = f"{r.cursor_column} > {_cursor_literal(watermark, self.dialect, self.tz)}"
        if watch is not None and watch_watermark is not None:
            keys = (
                f"SELECT {watch.key_column} FROM {watch.table}"
                f" WHERE {watch.cursor_column} > {_cursor_literal(watch_watermark, self.dialect, self.tz)}"
            )
            changed = f"({changed} OR {watch.source_column} IN ({keys}))"
        query = f"SELECT DISTINCT CAST({r.time_column} AS DATE) AS day FROM {r.source_table} WHERE {changed} ORDER BY 1"  # the day in the project's zone, as the rollup's own `day` (transpiled alike)
        return [row[0] for row in self.rows(transpile(query, self.dialect)) if row[0] is not None]

    def build_all(self) -> int:
        query = engine_sql(self.rollup, self.dialect, self.tz, None, None)
        if self.dialect == "clickhouse":
            self.run("CREATE DATABASE IF NOT EXISTS rollups")
            self.run(f"DROP TABLE IF EXISTS {self.table}")
            self.run(
                f'CREATE TABLE {self.table} ENGINE = MergeTree ORDER BY ("day") SETTINGS allow_nullable_key = 1'
                f' AS SELECT * FROM ({query}) AS hb_rows ORDER BY "day"'
            )
        else:
            self.run("CREATE SCHEMA IF NOT EXISTS rollups")
            self.run(
                f'CREATE OR REPLACE TABLE {self.table} AS SELECT * FROM ({query}) AS hb_rows ORDER BY "day"'
            )
        found = self.rows(f'SELECT count(DISTINCT "day") FROM {self.table}')
        return int(found[0][0]) if found and found[0][0] is not None else 0

    def rebuild(self, first: date, last: date) -> None:
        start, end = day_start(first, self.tz), day_start(last + timedelta(days=1), self.tz)
        query = engine_sql(self.rollup, self.dialect, self.tz, start, end)
        delete = (
            f"DELETE FROM {self.table} WHERE \"day\" BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'"
        )
        insert = f'INSERT INTO {self.table} SELECT * FROM ({query}) AS hb_rows ORDER BY "day"'
        if self.dialect == "clickhouse":  # no transactions: a lightweight DELETE, then the days again
            self.run(delete)
            self.run(insert)
        else:  # one call: the engine's cursor is its own connection, so the transaction spans only this
            self.run(f"BEGIN TRANSACTION; {delete}; {insert}; COMMIT")


def _state(
    conn: psycopg.Connection[Any], warehouse: str, rollup_id: str
) -> tuple[str | None, str | None, str | None]:
    row = conn.execute(
        "SELECT built_hash, watermark, watch_watermark FROM heartbeat.warehouse_rollup_state"
        " WHERE warehouse = %s AND rollup_id = %s",
        (warehouse, rollup_id),
    ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


_SAVE = """
INSERT INTO heartbeat.warehouse_rollup_state AS s (warehouse, rollup_id, built_hash, watermark, watch_watermark,
    refreshed_at, days_rebuilt, refresh_ms, error, error_at)
VALUES (%(warehouse)s, %(id)s, %(built)s, %(watermark)s, %(watch)s, now(), %(days)s, %(ms)s, NULL, NULL)
ON CONFLICT (warehouse, rollup_id) DO UPDATE SET built_hash = excluded.built_hash, watermark = excluded.watermark,
    watch_watermark = excluded.watch_watermark, refreshed_at = now(), days_rebuilt = excluded.days_rebuilt, refresh_ms = excluded.refresh_ms, error = NULL,
    error_at = NULL
"""
_FAIL = """
INSERT INTO heartbeat.warehouse_rollup_state AS s (warehouse, rollup_id, error, error_at)
VALUES (%(warehouse)s, %(id)s, %(error)s, now())
ON CONFLICT (warehouse, rollup_id) DO UPDATE SET error = excluded.error, error_at = now()
"""


def _with_reach(plan: _Plan, touched: list[date], reach_days: int) -> list[date]:
    """A touched day and the `reach_days` after it (their rows look back at it), up to the newest day stored
    — as the Postgres refresh does (`rollups.refresh.with_reach`)."""
    if not reach_days or not touched:
        return touched
    stored = plan.rows(f'SELECT max("day") FROM {plan.table}')
    return with_reach(
        touched, reach_days, stored[0][0] if stored and isinstance(stored[0][0], date) else None
    )


def refresh_on_engine(
    conn: psycopg.Connection[Any], engine: Engine, rollup: StoredRollup, tz: ZoneInfo
) -> RefreshResult:
    """One rollup on a writer engine; the state is committed to the read model, a failure recorded, not raised."""
    started = timer.perf_counter()
    warehouse = engine.config.url
    plan = _Plan(engine, rollup, tz)
    try:
        built, watermark, watch_watermark = _state(conn, warehouse, rollup.rollup_id)
        new_watermark, new_watch = plan.watermark(), plan.watch_watermark()
        unwatched = rollup.watched is not None and watch_watermark is None
        if built != build_identity(rollup, tz) or watermark is None or unwatched or not plan.exists():
            days, full = plan.build_all(), True
        else:
            touched = _with_reach(plan, plan.touched_days(watermark, watch_watermark), rollup.reach_days)
            for first, last in day_ranges(touched):
                plan.rebuild(first, last)
            days, full = len(touched), False
            new_watermark, new_watch = new_watermark or watermark, new_watch or watch_watermark
        ms = int((timer.perf_counter() - started) * 1000)
        with conn.transaction():
            conn.execute(_SAVE, {"warehouse": warehouse, "id": rollup.rollup_id, "built": build_identity(rollup, tz),
                                 "watermark": new_watermark, "watch": new_watch, "days": days, "ms": ms})  # fmt: skip
        return RefreshResult(rollup.rollup_id, days, full, timer.perf_counter() - started)
    except (EngineQueryError, TranspileError, WarehouseError) as exc:
        error = f"rollup {rollup.rollup_id} refresh on {engine.name} failed: {str(exc).splitlines()[0]}"
        log.warning("%s", error)
        with conn.transaction():
            conn.execute(_FAIL, {"warehouse": warehouse, "id": rollup.rollup_id, "error": error})
        return RefreshResult(rollup.rollup_id, 0, False, timer.perf_counter() - started, error)


def refresh_read_by(
    conn: psycopg.Connection[Any], config: WarehouseConfig, metrics: Sequence[RegistryMetric]
) -> dict[str, RefreshResult]:
    """The rollups these metrics read, refreshed on the engine through one writer opened for the purpose."""
    wanted = sorted(set().union(*(reads_rollups(m) for m in metrics))) if metrics else []
    stored = stored_rollups(conn, wanted) if wanted else []
    conn.commit()
    if not stored:
        return {}
    tz = get_settings().tz
    try:
        if config.scheme == "duckdb" and config.path is not None and not config.path.exists():
            raise WarehouseError(f"no DuckDB file at {config.path} (land the marts first)")  # none made here
        writer = open_engine(config, read_only=False)
    except WarehouseError as exc:
        error = f"rollups not refreshed on {config.label}: {exc}"
        return {r.rollup_id: RefreshResult(r.rollup_id, 0, False, 0.0, error) for r in stored}
    try:
        return {r.rollup_id: refresh_on_engine(conn, writer, r, tz) for r in stored}
    finally:
        writer.close()


def ready(conn: psycopg.Connection[Any], warehouse: str, rollup_ids: set[str]) -> bool:
    """Whether every one of these rollups is built on this engine from the file as synced now (and zone), with
    no failure since: only then does a metric read the engine's table for whole days."""
    if not rollup_ids:
        return False
    tz = get_settings().tz
    rows = conn.execute(
        "SELECT r.file_hash, s.built_hash, s.error FROM heartbeat.rollup_registry r"
        " JOIN heartbeat.warehouse_rollup_state s ON s.rollup_id = r.rollup_id AND s.warehouse = %s"
        " WHERE r.rollup_id = ANY(%s) AND r.retired_at IS NULL",
        (warehouse, sorted(rollup_ids)),
    ).fetchall()
    return len(rows) == len(rollup_ids) and all(
        built == f"{file_hash}@{tz.key}" and error is None for file_hash, built, error in rows
    )
