"""Freshness of sources: when did the data a metric reads last move forward?

`source_as_of` is the one function compute (and `heartbeat sources status`) asks. Per source it
takes the older of two clocks:

- the latest completed dlt load (`<source>._dlt_loads.inserted_at` with `status = 0`) at or before
  `at`, so a source whose loads fail goes stale;
- the data watermark (`heartbeat.source_state.data_watermark`, the newest cursor value landed in the
  tables `sources.toml` says count), so a source whose loads succeed but whose data stopped moving
  goes stale too — the silent break the load timestamp alone misses.

Across several sources the oldest wins. A source that never loaded (no schema, no `_dlt_loads`,
no completed load) makes the answer None.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql


def _table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    qualified = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def last_completed_load(
    conn: psycopg.Connection[Any], source: str, at: datetime | None = None
) -> datetime | None:
    """The newest completed load of one source at or before `at` (now when None); None if there is none."""
    if not _table_exists(conn, source, "_dlt_loads"):
        return None
    query = sql.SQL("SELECT max(inserted_at) FROM {}._dlt_loads WHERE status = 0").format(
        sql.Identifier(source)
    )
    params: tuple[Any, ...] = ()
    if at is not None:
        query = query + sql.SQL(" AND inserted_at <= %s")
        params = (at,)
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def data_watermark(conn: psycopg.Connection[Any], source: str) -> datetime | None:
    """The newest cursor value landed for a source, as recorded by ingest; None when not tracked."""
    if not _table_exists(conn, "heartbeat", "source_state"):
        return None
    row = conn.execute(
        "SELECT data_watermark FROM heartbeat.source_state WHERE source = %s", (source,)
    ).fetchone()
    return row[0] if row else None


def one_source_as_of(
    conn: psycopg.Connection[Any], source: str, at: datetime | None = None
) -> datetime | None:
    """The older of the last completed load and the data watermark; None when the source never loaded."""
    loaded = last_completed_load(conn, source, at)
    if loaded is None:
        return None
    watermark = data_watermark(conn, source)
    if watermark is None:
        return loaded
    return min(loaded, watermark)


def source_as_of(
    conn: psycopg.Connection[Any], sources: Sequence[str], at: datetime | None = None
) -> datetime | None:
    """How fresh the data of these sources is at `at`: the oldest per-source value; None if any never loaded.

    An empty `sources` gives None (nothing to vouch for the data).
    """
    oldest: datetime | None = None
    if not sources:
        return None
    for source in dict.fromkeys(sources):
        value = one_source_as_of(conn, source, at)
        if value is None:
            return None
        if oldest is None or value < oldest:
            oldest = value
    return oldest
