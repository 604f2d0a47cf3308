"""Keep `rollups.<id>` current: rebuild only the business days that newly landed rows touch.

All the SQL a refresh runs is built here, by `touched_days_sql` and `rebuild_statements`, from the definition
alone (no Postgres-only syntax beyond `::date` for the day in the session's time zone), so the warehouse engine
can run the same plan elsewhere. `refresh_rollup` runs it on the marts connection:

1. The stored table is missing or built from another version of the file: drop it, rebuild every day.
2. Otherwise read the days (of the time column) of every row whose change cursor is past the watermark —
   new rows, late-arriving rows of earlier days, rows changed since (a reversal landed today touches the day
   its entry was created) — plus, for a rollup with a reach of N days, the N days after each (their rows look
   back at it), and rebuild those days only, in contiguous ranges: one DELETE and one INSERT each. A rollup
   that joins a dimension (`-- watch:`) also rebuilds the days of the landed rows whose key a dimension row
   changed past its own watermark carries (a client's new tier moves its rows of every day).
3. Record the new watermark, the days rebuilt, the time taken; a failure records its reason instead (the
   metrics that read the rollup then carry it as their error) and never stops another rollup.
"""

from __future__ import annotations

import logging
import time as timer
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from heartbeat_core.rollups.definition import FROM_CALL, TO_CALL, Watch, parse_watch

log = logging.getLogger(__name__)

# A full build groups every landed row once: sorting it in memory rather than in temp files (the server's
# default 4 MB spilled a scale-50 build to disk). Only the refresh's own transaction uses it.
REFRESH_WORK_MEM = "256MB"


@dataclass(frozen=True)
class StoredRollup:
    """A rollup as the registry holds it (what compute and refresh need, without the project files)."""

    rollup_id: str
    source_table: str
    cursor_column: str
    time_column: str
    sql: str
    file_hash: str
    built_hash: str | None = None
    watermark: str | None = None
    error: str | None = None
    reach_days: int = 0  # a day's rows depend on source rows of up to this many days before it
    index_columns: str = ""  # more indexes: `;` between them, each its columns comma-separated
    watch: str = ""  # a dimension the query joins: `schema.table (cursor c) key = column` (definition.Watch)
    watch_watermark: str | None = None

    @property
    def table(self) -> str:
        return f'rollups."{self.rollup_id}"'

    @property
    def watched(self) -> Watch | None:
        return parse_watch(self.watch) if self.watch else None


@dataclass(frozen=True)
class RefreshResult:
    rollup_id: str
    days_rebuilt: int
    full: bool
    seconds: float
    error: str | None = None


def _literal(moment: datetime | None, infinite: str) -> str:
    return f"'{moment.isoformat()}'::timestamptz" if moment else f"'{infinite}'::timestamptz"


def bind_range(sql: str, start: datetime | None, end: datetime | None) -> str:
    """The rollup SQL over [start, end) of its time column; None is unbounded on that side."""
    return TO_CALL.sub(_literal(end, "infinity"), FROM_CALL.sub(_literal(start, "-infinity"), sql))


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Midnight of `day` in the project's zone: the boundary the rollup's `day` column splits at."""
    return datetime.combine(day, time.min, tzinfo=tz)


def touched_days_sql(rollup: StoredRollup) -> str:
    """The business days of the rows changed past the watermark (parameter `watermark`)."""
    return (
        f"SELECT DISTINCT ({rollup.time_column})::date FROM {rollup.source_table}"
        f" WHERE {rollup.cursor_column} > %(watermark)s ORDER BY 1"
    )


def mirror_table(rollup_id: str) -> str:
    """Where a rollup keeps its watched columns as of its last refresh (`-- watch: …, columns …`)."""
    return f'rollups."{rollup_id}__watched"'


def changed_keys_sql(rollup: StoredRollup, watch: Watch) -> str:
    """The keys of the dimension rows changed past the watch watermark (parameter `watermark`); with
    `columns`, only those whose columns differ from the mirror's, or that it does not hold yet."""
    changed = (
        f"SELECT w.{watch.key_column} FROM {watch.table} w WHERE w.{watch.cursor_column} > %(watermark)s"
    )
    if not watch.columns:
        return changed
    now = ", ".join(f"w.{c}" for c in watch.columns)
    before = ", ".join(f"m.{c}" for c in watch.columns)
    return (
        f"SELECT w.{watch.key_column} FROM {watch.table} w LEFT JOIN {mirror_table(rollup.rollup_id)} m"
        f" ON m.{watch.key_column} = w.{watch.key_column} WHERE w.{watch.cursor_column} > %(watermark)s"
        f" AND (m.{watch.key_column} IS NULL OR ROW({now}) IS DISTINCT FROM ROW({before}))"
    )


def watched_days_sql(rollup: StoredRollup, watch: Watch) -> str:
    """The business days of the landed rows whose key a changed dimension row carries: the keys as an array,
    so each is an index range on the landed table."""
    return (
        f"SELECT DISTINCT ({rollup.time_column})::date FROM {rollup.source_table}"
        f" WHERE {watch.source_column} = ANY (ARRAY({changed_keys_sql(rollup, watch)})) ORDER BY 1"
    )


def mirror_statements(rollup: StoredRollup, watch: Watch, *, full: bool) -> list[str]:
    """Keep the watched columns as the rebuilt days read them: all rows on a full build, else the rows
    changed past the watch watermark (parameter `watermark`)."""
    table, key = mirror_table(rollup.rollup_id), watch.key_column
    columns = ", ".join((key, *watch.columns))
    if full:
        return [
            f"DROP TABLE IF EXISTS {table}",
            f"CREATE TABLE {table} AS SELECT {columns} FROM {watch.table}",
            f"CREATE INDEX ON {table} ({key})",
        ]
    changed = f"{watch.table}.{watch.cursor_column} > %(watermark)s"
    return [
        f"DELETE FROM {table} m USING {watch.table} WHERE m.{key} = {watch.table}.{key} AND {changed}",
        f"INSERT INTO {table} SELECT {columns} FROM {watch.table} WHERE {changed}",
    ]


def watermark_sql(rollup: StoredRollup) -> str:
    return f"SELECT max({rollup.cursor_column})::text FROM {rollup.source_table}"


def watch_watermark_sql(watch: Watch) -> str:
    return f"SELECT max({watch.cursor_column})::text FROM {watch.table}"


def create_statements(rollup: StoredRollup) -> list[str]:
    """(Re)create the empty stored table with the query's own columns and types, indexed by day."""
    return [
        f"DROP TABLE IF EXISTS {rollup.table}",
        f"CREATE TABLE {rollup.table} AS {bind_range(rollup.sql, None, None)} WITH NO DATA",
        f'CREATE INDEX ON {rollup.table} ("day")',
        *(
            f"CREATE INDEX ON {rollup.table} ({columns})"
            for columns in rollup.index_columns.split(";")
            if columns.strip()
        ),
    ]


def rebuild_statements(
    rollup: StoredRollup, first: date | None, last: date | None, tz: ZoneInfo
) -> list[str]:
    """Replace days first..last (inclusive; None: every day) by the query over their time range."""
    if first is None or last is None:
        return [
            f"DELETE FROM {rollup.table}",
            _insert(rollup, None, None),
        ]
    start, end = day_start(first, tz), day_start(last + timedelta(days=1), tz)
    return [
        f"DELETE FROM {rollup.table} WHERE \"day\" BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'",
        _insert(rollup, start, end),
    ]


def _insert(rollup: StoredRollup, start: datetime | None, end: datetime | None) -> str:
    """Rows in day order, so the table stays clustered by day: a 30-day read touches a month of pages, not
    pages scattered over the whole table (a hash aggregate's output order is random)."""
    query = bind_range(rollup.sql, start, end)
    return f'INSERT INTO {rollup.table} SELECT * FROM ({query}) AS hb_rows ORDER BY "day"'


def with_reach(days: list[date], reach_days: int, newest_stored: date | None) -> list[date]:
    """The days to rebuild: each touched day (sorted) and the `reach_days` after it, whose rows look back at
    it, up to the newer of the last touched day and the newest day stored (`newest_stored`)."""
    last = max(days[-1], newest_stored) if newest_stored else days[-1]
    every = {day + timedelta(days=k) for day in days for k in range(reach_days + 1)}
    return sorted(day for day in every if day <= last)


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of days, so a week of touched days is one statement, not seven."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def build_identity(rollup: StoredRollup, tz: ZoneInfo) -> str:
    """What the stored days depend on: the file, and the zone whose midnights split them into days."""
    return f"{rollup.file_hash}@{tz.key}"


def _rebuild(
    conn: psycopg.Connection[Any], rollup: StoredRollup, tz: ZoneInfo
) -> tuple[int, bool, str | None, str | None]:
    """The refresh's statements in the caller's transaction: (days rebuilt, full build?, new watermark, new
    watch watermark)."""
    watermark = _scalar(conn, watermark_sql(rollup))
    watch = rollup.watched
    watch_watermark = _scalar(conn, watch_watermark_sql(watch)) if watch else None
    if _stale(conn, rollup, tz):
        return _build_all(conn, rollup, tz), True, watermark, watch_watermark
    touched = _touched(conn, rollup)
    if rollup.reach_days and touched:
        stored_last = conn.execute(f'SELECT max("day") FROM {rollup.table}'.encode()).fetchone()
        touched = with_reach(touched, rollup.reach_days, stored_last[0] if stored_last else None)
    for first, last in day_ranges(touched):
        for statement in rebuild_statements(rollup, first, last, tz):
            conn.execute(statement.encode())
    if watch is not None and watch.columns:
        for statement in mirror_statements(rollup, watch, full=False):
            conn.execute(statement.encode(), {"watermark": rollup.watch_watermark})
    return len(touched), False, watermark or rollup.watermark, watch_watermark or rollup.watch_watermark


def _build_all(conn: psycopg.Connection[Any], rollup: StoredRollup, tz: ZoneInfo) -> int:
    """Every day (and the watched columns' mirror) from scratch; returns the days built."""
    watch = rollup.watched
    mirror = mirror_statements(rollup, watch, full=True) if watch is not None and watch.columns else []
    for statement in (*create_statements(rollup), *rebuild_statements(rollup, None, None, tz), *mirror):
        conn.execute(statement.encode())
    count = conn.execute(f'SELECT count(DISTINCT "day") FROM {rollup.table}'.encode()).fetchone()
    return int(count[0]) if count else 0


def _touched(conn: psycopg.Connection[Any], rollup: StoredRollup) -> list[date]:
    """The days of rows changed past the watermark, and of the rows whose watched dimension row changed."""
    touched = _days(conn, touched_days_sql(rollup), rollup.watermark)
    watch = rollup.watched
    if watch is not None:
        touched = sorted(
            set(touched) | set(_days(conn, watched_days_sql(rollup, watch), rollup.watch_watermark))
        )
    return touched


def _stale(conn: psycopg.Connection[Any], rollup: StoredRollup, tz: ZoneInfo) -> bool:
    """Whether the stored table (or the watched columns' mirror) is missing, or from another file or zone."""
    watch = rollup.watched
    tables = [rollup.table] + (
        [mirror_table(rollup.rollup_id)] if watch is not None and watch.columns else []
    )
    found = conn.execute("SELECT bool_and(to_regclass(t) IS NOT NULL) FROM unnest(%s::text[]) t", (tables,))
    row = found.fetchone()
    return (
        rollup.built_hash != build_identity(rollup, tz)
        or not (row and row[0])
        or rollup.watermark is None
        or (watch is not None and rollup.watch_watermark is None)
    )


def _scalar(conn: psycopg.Connection[Any], sql: str) -> str | None:
    row = conn.execute(sql.encode()).fetchone()
    return row[0] if row else None


def _days(conn: psycopg.Connection[Any], sql: str, watermark: str | None) -> list[date]:
    return [row[0] for row in conn.execute(sql.encode(), {"watermark": watermark}) if row[0] is not None]


def _vacuum(conn: psycopg.Connection[Any], rollup: StoredRollup) -> None:
    """VACUUM (ANALYZE) the rebuilt table: statistics size the day ranges right, and the visibility map lets
    metrics read it by index-only scans (a probe per client, a month of narrow rows) without heap visits.
    VACUUM cannot run in a transaction: only when the caller's connection is idle (it is after compute's
    commit); otherwise ANALYZE alone."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute(f"ANALYZE {rollup.table}".encode())
        return
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute(f"VACUUM (ANALYZE) {rollup.table}".encode())
    finally:
        conn.autocommit = autocommit


def refresh_rollup(conn: psycopg.Connection[Any], rollup: StoredRollup, tz: ZoneInfo) -> RefreshResult:
    """Bring one rollup up to date in one transaction; a failure is recorded in the registry, not raised."""
    started = timer.perf_counter()
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('TimeZone', %s, true), set_config('jit', 'off', true),"
                " set_config('work_mem', %s, true)",
                (tz.key, REFRESH_WORK_MEM),
            )
            days, full, watermark, watch_watermark = _rebuild(conn, rollup, tz)
            ms = int((timer.perf_counter() - started) * 1000)
            conn.execute(
                "UPDATE heartbeat.rollup_registry SET built_hash = %s, watermark = %s, watch_watermark = %s,"
                " refreshed_at = now(), days_rebuilt = %s, refresh_ms = %s, error = NULL, error_at = NULL"
                " WHERE rollup_id = %s",
                (build_identity(rollup, tz), watermark, watch_watermark, days, ms, rollup.rollup_id),
            )
        if days:
            _vacuum(conn, rollup)
        return RefreshResult(rollup.rollup_id, days, full, timer.perf_counter() - started)
    except psycopg.Error as exc:
        reason = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
        error = f"rollup {rollup.rollup_id} refresh failed: {reason}"
        log.warning("%s", error)
        with conn.transaction():
            conn.execute(
                "UPDATE heartbeat.rollup_registry SET error = %s, error_at = now() WHERE rollup_id = %s",
                (error, rollup.rollup_id),
            )
        return RefreshResult(rollup.rollup_id, 0, False, timer.perf_counter() - started, error)


_COLUMNS = (
    "rollup_id, source_table, cursor_column, time_column, sql, file_hash, built_hash, watermark, error,"
    " reach_days, index_columns, watch, watch_watermark"
)


def stored_rollups(conn: psycopg.Connection[Any], ids: list[str] | None = None) -> list[StoredRollup]:
    """The active rollups (or those of `ids`), as synced. Read in its own transaction block, so an idle
    connection stays idle: each refresh then commits alone and can VACUUM what it rebuilt."""
    with conn.transaction():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM heartbeat.rollup_registry WHERE retired_at IS NULL"
            " AND (%(ids)s::text[] IS NULL OR rollup_id = ANY(%(ids)s)) ORDER BY rollup_id",
            {"ids": ids},
        ).fetchall()
    return [StoredRollup(*row) for row in rows]


def refresh_all(conn: psycopg.Connection[Any], tz: ZoneInfo) -> dict[str, RefreshResult]:
    """Refresh every active rollup, each alone: one failing never stops the next."""
    return {r.rollup_id: refresh_rollup(conn, r, tz) for r in stored_rollups(conn)}
