"""Which rows a data test looks at inside the recompute job: only those landed since its last run, where that
is enough to know the verdict, else the whole table.

New rows are told apart by dlt's `_dlt_load_id` where the table carries it (rows of the loads completed since
the last run), else by the table's incremental cursor as `sources.toml` resolves it (rows whose cursor is past
the newest value the last run saw: what dlt's own incremental load fetched). Parquet loads (the postgres
connector) carry no load id, so their tables go by cursor; a `replace` table has neither and runs in full.

Incremental when all of these hold: the test is of a kind a new row can break by itself or with its own key
(`not_null`, `accepted_values`, `relationships`, `unique`: a new row checked against every row sharing its
key); its last verdict was a pass (a failing test is recounted in full, so its failing rows and samples stay
whole and it turns green only when the table is clean); its last run was today (UTC): the first job of each
day runs every test in full, which is when a referenced row gone from a replaced lookup or an old row changed
without moving its cursor is found; `sources.toml` has not changed since (a changed value list applies to old
rows too); and the mark it last saw is still meaningful (a load id still in `_dlt_loads`). The row-volume
tests count by their own rules, and drift reads the catalogue. A run by hand (`heartbeat sources test`) is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core import clock
from heartbeat_core.datatests.spec import TestSpec

INCREMENTAL_TESTS = ("not_null", "accepted_values", "relationships", "unique")
Since = tuple[sql.Composable, list[Any]]  # a WHERE over the base table picking the new rows, its parameters


@dataclass(frozen=True)
class LastRun:
    status: str
    mark: str | None
    checked_at: datetime


@dataclass(frozen=True)
class Window:
    """How one table's new rows are found: `load` (by `_dlt_load_id`) or `cursor`; `mark` is the newest load
    id or cursor value now (what this run stores for the next)."""

    kind: str
    mark: str | None
    column: str = "_dlt_load_id"
    type_sql: str = "text"


def last_runs(conn: psycopg.Connection[Any], source: str) -> dict[tuple[str, str], LastRun]:
    """Each stored test of the source: `(table, test key)` → its last verdict and the mark it saw."""
    rows = conn.execute(
        "SELECT table_name, test_key, status, checked_mark, checked_at FROM heartbeat.source_test"
        " WHERE source = %s",
        (source,),
    ).fetchall()
    return {(r[0], r[1]): LastRun(r[2], r[3], r[4]) for r in rows}


def _column_type(conn: psycopg.Connection[Any], schema: str, table: str, column: str) -> str | None:
    row = conn.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
        (sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn), column),
    ).fetchone()
    return str(row[0]) if row else None


def table_window(
    conn: psycopg.Connection[Any], source: str, table: str, cursor: str | None, latest_load: str | None
) -> Window | None:
    """The table's way to its new rows and today's mark, or None (no load id and no cursor: always full)."""
    if _column_type(conn, source, table, "_dlt_load_id") is not None:
        return Window("load", latest_load)
    kind = _column_type(conn, source, table, cursor) if cursor else None
    if cursor is None or kind is None:
        return None
    ident = sql.SQL("{}.{}").format(sql.Identifier(source), sql.Identifier(table))
    row = conn.execute(
        sql.SQL("SELECT max({})::text FROM {}").format(sql.Identifier(cursor), ident)
    ).fetchone()
    return Window("cursor", row[0] if row else None, cursor, kind)


def _loads_after(conn: psycopg.Connection[Any], source: str, load_id: str) -> list[str] | None:
    """The source's completed loads after `load_id` (None when `load_id` is no longer known)."""
    known = conn.execute(
        sql.SQL("SELECT inserted_at FROM {}._dlt_loads WHERE load_id = %s").format(sql.Identifier(source)),
        (load_id,),
    ).fetchone()
    if not known:
        return None
    rows = conn.execute(
        sql.SQL("SELECT load_id FROM {}._dlt_loads WHERE status = 0 AND inserted_at > %s").format(
            sql.Identifier(source)
        ),
        (known[0],),
    ).fetchall()
    return [str(r[0]) for r in rows]


def config_changed_at(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None


def since_for(
    conn: psycopg.Connection[Any],
    spec: TestSpec,
    window: Window | None,
    last: LastRun | None,
    config_at: datetime | None,
) -> Since | None:
    """The new rows the test checks this time, or None for the whole table."""
    if window is None or spec.test not in INCREMENTAL_TESTS or spec.problem:
        return None
    if last is None or last.status != "pass" or last.mark is None:
        return None
    if config_at is not None and config_at >= last.checked_at:
        return None
    if last.checked_at.astimezone(UTC).date() < clock.now().astimezone(UTC).date():
        return None
    if window.kind == "load":
        loads = _loads_after(conn, spec.source, last.mark)
        return None if loads is None else (sql.SQL("_dlt_load_id = ANY(%s)"), [loads])
    condition = sql.SQL("{} > %s::{}").format(sql.Identifier(window.column), sql.SQL(window.type_sql))
    return condition, [last.mark]
