"""Read a source database's catalogue, read-only, and propose how each table lands.

`introspect_postgres(url, schema)` connects with `default_transaction_read_only`, reads tables, primary keys,
foreign keys, sizes and columns, and picks per table: the cursor (an `updated_at`-like timestamp, else a
growing integer key), the write disposition, the business timestamp (when a row happened: the column starter
metrics count by, so they backfill), a status column and an amount column, and the post-ingest indexes the
starter metrics and joins need. Any problem is one `IntrospectError` line naming what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

from heartbeat_core.formatting import plural
from heartbeat_core.ingest.config import IDENT
from heartbeat_core.metrics.scaffold import pick_time_column
from heartbeat_core.redaction import redact, url_secrets

_UPDATED = re.compile(
    r"^(updated|modified|changed|last_modified|last_updated|updated_on|modified_on)(_at|_time|_on)?$"
)
_TIME_TYPES = ("timestamp with time zone", "timestamp without time zone")
_INT_TYPES = ("integer", "bigint", "smallint")
_STATUS = re.compile(r"^(status|state|.*_status|.*_state)$")
_AMOUNT = re.compile(r"^(amount|total|price|value|.*_amount|.*_total|amount_.*)$")
_NUMERIC_TYPES = ("numeric", "double precision", "real", "integer", "bigint")
_BAD_STATUS = re.compile(r"(cancel|fail|reject|error|refund|declin|void|lost|churn)", re.I)
MAX_STATUS_VALUES = 20


class IntrospectError(ValueError):
    """The source cannot be introspected or planned; one line naming what to fix."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass
class TablePlan:
    name: str
    columns: list[Column]
    primary_key: list[str]
    rows: int
    size_bytes: int
    foreign_keys: list[str] = field(default_factory=list)
    cursor: str | None = None
    write_disposition: str = "merge"
    business_time: str | None = None
    status_column: str | None = None
    status_values: list[str] = field(default_factory=list)
    amount_column: str | None = None
    indexes: list[str] = field(default_factory=list)
    reason: str = ""

    def type_of(self, column: str) -> str:
        return next((c.type for c in self.columns if c.name == column), "")


@dataclass
class SchemaPlan:
    schema: str
    database: str
    role: str
    tables: list[TablePlan]


def connect_read_only(url: str, env_name: str) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(url, connect_timeout=10, options="-c default_transaction_read_only=on")
    except psycopg.Error as exc:
        reason = redact(
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url_secrets(url)
        )
        raise IntrospectError(
            f"cannot connect with ${env_name}: {reason} (check the URL in ${env_name})"
        ) from None
    conn.read_only = True
    return conn


def _check_schema(conn: psycopg.Connection[Any], schema: str) -> tuple[str, str]:
    row = conn.execute(
        "SELECT current_database(), current_user, to_regnamespace(%s) IS NOT NULL,"
        " CASE WHEN to_regnamespace(%s) IS NULL THEN false ELSE has_schema_privilege(%s, 'USAGE') END",
        (schema, schema, schema),
    ).fetchone()
    assert row is not None
    database, role, exists, usage = str(row[0]), str(row[1]), bool(row[2]), bool(row[3])
    if not exists:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)' ORDER BY 1"
            ).fetchall()
        ]
        raise IntrospectError(
            f"schema {schema!r} does not exist in database {database} (schemas there: {', '.join(names) or 'none'})"
        )
    if not usage:
        raise IntrospectError(
            f"role {role} lacks USAGE on schema {schema}: GRANT USAGE ON SCHEMA {schema} TO {role}"
        )
    return database, role


def _count(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    row = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()
    return int(row[0]) if row else 0


_TABLES_SQL = """
SELECT c.relname, c.oid, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid),
       has_table_privilege(c.oid, 'SELECT'),
       coalesce((SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))
                 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
       coalesce((SELECT array_agg(DISTINCT a.attname)
                 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
                 WHERE k.conrelid = c.oid AND k.contype = 'f'), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


def _tables(conn: psycopg.Connection[Any], schema: str, role: str) -> list[TablePlan]:
    rows = conn.execute(_TABLES_SQL, (schema,)).fetchall()
    if not rows:
        raise IntrospectError(f"schema {schema!r} has no tables")
    denied = [r[0] for r in rows if not r[4]]
    if denied:
        raise IntrospectError(
            f"role {role} lacks SELECT on {', '.join(f'{schema}.{t}' for t in denied[:5])}: "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"
        )
    bad = [r[0] for r in rows if not IDENT.match(r[0])]
    if bad:
        raise IntrospectError(
            f"{plural(len(bad), 'table name')} {', '.join(bad)} "
            f"{plural(len(bad), 'is not a lowercase identifier', 'are not lowercase identifiers')}; "
            f"pass --exclude for {plural(len(bad), 'it', 'them')}"
        )
    plans = []
    for name, _oid, reltuples, size, _sel, pk, fks in rows:
        columns = [
            Column(c, t)
            for c, t in conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, name),
            ).fetchall()
        ]
        rows_n = int(reltuples) or _count(conn, schema, name)  # never analysed: count (small tables)
        plans.append(TablePlan(name, columns, list(pk), rows_n, int(size), sorted(fks)))
    return plans


def pick_cursor(table: TablePlan) -> tuple[str | None, str]:
    """The incremental column and the write disposition that goes with it; (None, reason) when there is none."""
    updated = [c.name for c in table.columns if c.type in _TIME_TYPES and _UPDATED.match(c.name)]
    if updated:
        return updated[0], "merge" if table.primary_key else "append"
    if len(table.primary_key) == 1 and table.type_of(table.primary_key[0]) in _INT_TYPES:
        return table.primary_key[0], "append"  # a growing id: rows are added, never changed
    return None, "no updated_at-like timestamp and no growing integer key"


def _status_values(conn: psycopg.Connection[Any], schema: str, table: str, column: str) -> list[str]:
    rows = conn.execute(
        f'SELECT "{column}"::text, count(*) FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
        f" GROUP BY 1 ORDER BY 2 DESC LIMIT {MAX_STATUS_VALUES + 1}"
    ).fetchall()
    return [str(r[0]) for r in rows] if 0 < len(rows) <= MAX_STATUS_VALUES else []


def _patterns(conn: psycopg.Connection[Any], schema: str, table: TablePlan) -> None:
    """Business timestamp, status and amount columns; the indexes starter metrics and joins use."""
    timed = [(c.name, c.type) for c in table.columns if c.type in (*_TIME_TYPES, "date")]
    business = pick_time_column(timed)
    # an updated_at-like column says when a row last changed, not when it happened: no business time then
    table.business_time = None if business is None or _UPDATED.match(business) else business
    for col in table.columns:
        if (
            table.status_column is None
            and _STATUS.match(col.name)
            and col.type in ("text", "character varying", "USER-DEFINED")
        ):
            values = _status_values(conn, schema, table.name, col.name)
            if values:
                table.status_column, table.status_values = col.name, values
        if (
            table.amount_column is None
            and _AMOUNT.match(col.name)
            and col.type in _NUMERIC_TYPES
            and col.name not in table.primary_key
        ):
            table.amount_column = col.name
    wanted = [table.business_time, *table.foreign_keys]
    if table.cursor and table.cursor not in table.primary_key:
        wanted.append(table.cursor)
    table.indexes = [c for c in dict.fromkeys(wanted) if c]


def introspect_postgres(
    url: str, schema: str, env_name: str, exclude: tuple[str, ...] = (), replace: tuple[str, ...] = ()
) -> SchemaPlan:
    """The plan for every table of `schema` (but `exclude`; `replace` ones reload in full); IntrospectError
    with one line on any problem."""
    with connect_read_only(url, env_name) as conn:
        try:
            database, role = _check_schema(conn, schema)
            tables = [t for t in _tables(conn, schema, role) if t.name not in exclude]
            for table in tables:
                table.cursor, table.write_disposition = pick_cursor(table)
                if table.name in replace:
                    table.cursor, table.write_disposition = "", "replace"
                if table.cursor is None:
                    raise IntrospectError(
                        f"table {schema}.{table.name} has {table.write_disposition}: add an updated_at column, "
                        f"or pass --replace {table.name} (reload it in full every run) or --exclude {table.name}"
                    )
                _patterns(conn, schema, table)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise IntrospectError(f"{str(exc).splitlines()[0]} (grant the role read access)") from None
    return SchemaPlan(schema, database, role, tables)
