"""Questions ingest asks of the landed copies in the Postgres marts: does a table exist, has it rows, where
does its cursor stand. Marts is the truth about what has landed, whatever local dlt state says.
(`store.PostgresMarts` answers through these; in warehouse mode `warehouse.marts` asks the engine instead.)"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    name = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def has_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    if not table_exists(conn, schema, table):
        return False
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(sql.Identifier(schema), sql.Identifier(table))
    row = conn.execute(q).fetchone()
    return bool(row and row[0])


def max_cursor(conn: psycopg.Connection[Any], schema: str, table: str, cursor: str) -> Any:
    """The newest cursor value landed in a table."""
    q = sql.SQL("SELECT max({}) FROM {}.{}").format(
        sql.Identifier(cursor), sql.Identifier(schema), sql.Identifier(table)
    )
    try:
        row = conn.execute(q).fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def drop_table(conn: psycopg.Connection[Any], schema: str, table: str) -> None:
    conn.execute(sql.SQL("DROP TABLE {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
    conn.commit()
