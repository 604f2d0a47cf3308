"""Post-ingest indexes: declared per table in `sources.toml` (merged tables also get one on their
primary key), applied with `CREATE INDEX IF NOT EXISTS` after every load. dlt lands no index at all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.ingest.config import ResolvedTable
from heartbeat_core.ingest.marts import table_exists


def index_name(table: str, cols: Sequence[str]) -> str:
    """`hb_<table>_<cols>`, shortened with a digest to Postgres's 63-character limit."""
    base = f"hb_{table}_{'_'.join(cols)}"
    if len(base) <= 63:
        return base
    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    return f"{base[:54]}_{digest}"


def apply_indexes(conn: psycopg.Connection[Any], schema: str, tables: Sequence[ResolvedTable]) -> list[str]:
    """`CREATE INDEX IF NOT EXISTS` for every configured index of the tables present in `schema`;
    returns one warning per index that could not be built."""
    warnings: list[str] = []
    tuned = False
    existing = {
        r[0]
        for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)).fetchall()
    }
    for table in tables:
        if not table.indexes or not table_exists(conn, schema, table.name):
            continue
        for cols in table.indexes:
            if index_name(table.name, cols) in existing:
                continue  # no lock taken when there is nothing to do
            if not tuned:
                # a first build sorts the whole table: give it memory (the server default is 64 MB)
                conn.execute("SET maintenance_work_mem = '256MB'")
                tuned = True
            try:
                conn.execute(_create_index(schema, table.name, cols))
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0]
                warnings.append(f"index on {schema}.{table.name} ({', '.join(cols)}): {first}")
    if tuned:
        conn.execute("RESET maintenance_work_mem")
    return warnings


def _create_index(schema: str, table: str, cols: Sequence[str]) -> sql.Composed:
    return sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
        sql.Identifier(index_name(table, cols)),
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in cols),
    )
