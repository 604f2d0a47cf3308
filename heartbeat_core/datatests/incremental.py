"""Which rows a data test looks at inside the recompute job: only those landed since its last run, where that
is enough to know the verdict, else the whole table.

Incremental when all of these hold: the test is of a kind a new row can break only by itself or with its own
key (`not_null`, `accepted_values`, `unique`: a new row checked against every row sharing its key); its last
verdict was a pass (a failing test is recounted in full, so its failing rows and samples stay whole and it
turns green only when the table is clean); `sources.toml` has not changed since (a changed value list applies
to old rows too); and the dlt load it last saw is still in the source's `_dlt_loads`. `relationships` always
run in full (a referenced row can go), as do the row-volume tests (they count by their own rules) and drift.
A run by hand (`heartbeat sources test`) is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.datatests.spec import TestSpec

INCREMENTAL_TESTS = ("not_null", "accepted_values", "unique")


@dataclass(frozen=True)
class LastRun:
    status: str
    load_id: str | None
    checked_at: datetime


def last_runs(conn: psycopg.Connection[Any], source: str) -> dict[tuple[str, str], LastRun]:
    """Each stored test of the source: `(table, test key)` → its last verdict and the load it saw."""
    rows = conn.execute(
        "SELECT table_name, test_key, status, checked_load_id, checked_at FROM heartbeat.source_test"
        " WHERE source = %s",
        (source,),
    ).fetchall()
    return {(r[0], r[1]): LastRun(r[2], r[3], r[4]) for r in rows}


def loads_after(conn: psycopg.Connection[Any], source: str, load_id: str) -> list[str] | None:
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
    last: LastRun | None,
    config_at: datetime | None,
    cache: dict[str, list[str] | None],
) -> list[str] | None:
    """The loads whose rows the test checks this time, or None for the whole table."""
    if spec.test not in INCREMENTAL_TESTS or spec.problem or last is None or last.status != "pass":
        return None
    if last.load_id is None or (config_at is not None and config_at >= last.checked_at):
        return None
    if last.load_id not in cache:
        cache[last.load_id] = loads_after(conn, spec.source, last.load_id)
    return cache[last.load_id]
