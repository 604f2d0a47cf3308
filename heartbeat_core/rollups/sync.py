"""`heartbeat sync` for `rollups/`: check each definition against the marts, register it, create its table.

A rollup naming a column its table does not have fails the sync with the file and line (the header key, or
the line of the query Postgres points at); a table that has not landed yet is only a warning, as for metrics,
since sync may run before the first ingest. The stored table is created empty here (so metric files that read
it pass their own check) and filled by the next refresh; an edited file is rebuilt in full by that refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors

from heartbeat_core.metrics.definition import Problem
from heartbeat_core.rollups.definition import RollupDefinition, load_rollups
from heartbeat_core.rollups.refresh import StoredRollup, create_statements, mirror_table
from heartbeat_core.sync_report import SyncReport

_DATE_OID = 1082
_NOT_LANDED = (errors.UndefinedTable, errors.InvalidSchemaName)


def sync_rollups(conn: psycopg.Connection[Any], directory: Path) -> SyncReport:
    """Register every good file of `directory`; retire (and drop) rollups whose file is gone."""
    loaded = load_rollups(directory)
    report = SyncReport(problems=list(loaded.problems))
    existing = dict(
        conn.execute("SELECT rollup_id, file_hash FROM heartbeat.rollup_registry WHERE retired_at IS NULL")
    )
    for definition in loaded.definitions:
        problem, landed = _check(conn, definition, report)
        if problem:
            report.problems.append(problem)
            continue
        previous = existing.get(definition.rollup_id)
        _upsert(conn, definition, rebuild=previous != definition.file_hash)
        if landed and previous != definition.file_hash:
            _create_table(conn, definition)
        bucket = (
            report.added
            if previous is None
            else report.unchanged
            if previous == definition.file_hash
            else report.updated
        )
        bucket.append(definition.rollup_id)
    present = {p.stem for p in directory.glob("*.sql")} if directory.is_dir() else set()
    for gone in sorted(set(existing) - present):
        conn.execute("UPDATE heartbeat.rollup_registry SET retired_at = now() WHERE rollup_id = %s", (gone,))
        conn.execute(f'DROP TABLE IF EXISTS rollups."{gone}", {mirror_table(gone)}'.encode())
        report.retired.append(gone)
    return report


def _check(
    conn: psycopg.Connection[Any], d: RollupDefinition, report: SyncReport
) -> tuple[Problem | None, bool]:
    """(problem, whether the table has landed): the header's columns, then the query, then its `day`."""
    try:
        with conn.transaction():
            conn.execute(f"SELECT {d.cursor_column}, {d.time_column} FROM {d.source_table} LIMIT 0".encode())
    except _NOT_LANDED as exc:
        report.warnings.append(Problem(d.path, d.key_line("table"), f"not checked: {_message(exc)}"))
        return None, False
    except errors.UndefinedColumn as exc:
        key = "time" if f'"{d.time_column}"' in _message(exc) else "cursor"
        return Problem(d.path, d.key_line(key), f"{key}: {_message(exc)} in {d.source_table}"), True
    watch_problem = _check_watch(conn, d, report)
    if watch_problem:
        return watch_problem, True
    try:
        with conn.transaction():
            conn.execute("SET LOCAL statement_timeout = '5s'")
            conn.execute(f"EXPLAIN {d.sql}".encode())  # functions unbound: positions are the file's
            with conn.cursor() as cur:
                cur.execute(f"SELECT * FROM ({d.sql}) AS q LIMIT 0".encode())
                columns = {c.name: c.type_code for c in cur.description or []}
    except _NOT_LANDED as exc:
        report.warnings.append(Problem(d.path, d.sql_start_line, f"not checked: {_message(exc)}"))
        return None, False
    except psycopg.Error as exc:
        position = int(exc.diag.statement_position or 0) - len("EXPLAIN ")
        return Problem(d.path, d.sql_line(position if position > 0 else None), _message(exc)), True
    unknown = [c.strip() for index in d.index_columns for c in index.split(",") if c.strip() not in columns]
    if unknown:
        return Problem(
            d.path, d.key_line("index"), f"index: the query has no column {', '.join(map(repr, unknown))}"
        ), True
    if columns.get("day") != _DATE_OID:
        found = "no `day` column" if "day" not in columns else "`day` is not a date"
        return Problem(
            d.path, d.sql_start_line, f"{found} (expected `({d.time_column})::date AS day`, the business day)"
        ), True
    return None, True


def _check_watch(conn: psycopg.Connection[Any], d: RollupDefinition, report: SyncReport) -> Problem | None:
    """The watched dimension's cursor and key, and the landed table's column holding that key."""
    if d.watch is None:
        return None
    w, line = d.watch, d.key_line("watch")
    watched = (w.cursor_column, w.key_column, *w.columns)
    for table, columns in ((w.table, watched), (d.source_table, (w.source_column,))):
        try:
            with conn.transaction():
                conn.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 0".encode())
        except _NOT_LANDED as exc:
            report.warnings.append(Problem(d.path, line, f"watch not checked: {_message(exc)}"))
        except errors.UndefinedColumn as exc:
            return Problem(d.path, line, f"watch: {_message(exc)} in {table}")
    return None


def _message(exc: psycopg.Error) -> str:
    return (exc.diag.message_primary or str(exc)).strip().splitlines()[0]


def _upsert(conn: psycopg.Connection[Any], d: RollupDefinition, *, rebuild: bool) -> None:
    conn.execute(
        """
        INSERT INTO heartbeat.rollup_registry AS r (rollup_id, name, description, source_table, cursor_column,
            time_column, sql, file_path, file_hash, synced_at, retired_at, reach_days, index_columns, watch)
        VALUES (%(id)s, %(name)s, %(description)s, %(table)s, %(cursor)s, %(time)s, %(sql)s, %(path)s, %(hash)s,
            now(), NULL, %(reach)s, %(index)s, %(watch)s)
        ON CONFLICT (rollup_id) DO UPDATE SET name = excluded.name, description = excluded.description,
            source_table = excluded.source_table, cursor_column = excluded.cursor_column,
            time_column = excluded.time_column, sql = excluded.sql, file_path = excluded.file_path,
            file_hash = excluded.file_hash, synced_at = now(), retired_at = NULL,
            reach_days = excluded.reach_days, index_columns = excluded.index_columns, watch = excluded.watch,
            built_hash = CASE WHEN %(rebuild)s THEN NULL ELSE r.built_hash END
        """,
        {
            "id": d.rollup_id, "name": d.name, "description": d.description, "table": d.source_table,
            "cursor": d.cursor_column, "time": d.time_column, "sql": d.sql, "path": d.path, "hash": d.file_hash,
            "rebuild": rebuild, "reach": d.reach_days, "index": ";".join(d.index_columns),
            "watch": d.watch_spec,
        },
    )  # fmt: skip


def _create_table(conn: psycopg.Connection[Any], d: RollupDefinition) -> None:
    """The empty table with the query's columns, so metrics reading it pass their check before the refresh."""
    stored = StoredRollup(
        d.rollup_id, d.source_table, d.cursor_column, d.time_column, d.sql, d.file_hash,
        reach_days=d.reach_days, index_columns=";".join(d.index_columns), watch=d.watch_spec,
    )  # fmt: skip
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS rollups")
        for statement in create_statements(stored):
            conn.execute(statement.encode())
