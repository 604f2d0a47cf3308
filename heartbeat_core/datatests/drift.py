"""Schema drift: compare each declared table's upstream catalogue with the accepted snapshot.

dlt reports added columns and type variants but lets drops and renames pass (a renamed column lands as a new
one while the old one silently turns NULL), so for postgres sources the source database's own catalogue is
read (read-only); other kinds compare the landed table's columns. A column dropped while another of the same
type appears is reported as a probable rename.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.datatests.run import TestResult
from heartbeat_core.datatests.spec import TestSpec
from heartbeat_core.ingest.config import AnySource, PostgresSource, WebhookSource
from heartbeat_core.redaction import redact

# information_schema.columns' `data_type`, read from the catalogue itself (the view costs ~0.4 s a source on a
# busy server, every job): the type without modifiers, ARRAY, or USER-DEFINED; a domain as its base type.
_COLUMNS_SQL = """
SELECT c.relname, a.attname,
       CASE WHEN b.typelem <> 0 AND b.typlen = -1 THEN 'ARRAY'
            WHEN b.typnamespace = 'pg_catalog'::regnamespace THEN format_type(b.oid, NULL)
            ELSE 'USER-DEFINED' END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE c.relnamespace = to_regnamespace(%s) AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT LIKE '\\_dlt%%'
"""


def _read(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {t: {} for t in tables}
    for table, column, kind in conn.execute(_COLUMNS_SQL, (schema, tables)).fetchall():
        out[table][column] = kind
    return out


def upstream_catalogue(marts: psycopg.Connection[Any], source: AnySource) -> dict[str, dict[str, str]]:
    """`{landed table: {column: type}}` as the source shows it now (an empty dict: table not found)."""
    if isinstance(source, WebhookSource):
        return {}
    if not isinstance(source, PostgresSource):
        return _read(marts, source.name, sorted(source.tables))
    from heartbeat_core.ingest.connections import source_url

    upstream = {name: (t.source_table or name) for name, t in source.tables.items()}
    url = source_url(source.name, source.connection_env, source.fallback_database)
    with psycopg.connect(url, connect_timeout=10, options="-c default_transaction_read_only=on") as conn:
        found = _read(conn, source.source_schema, sorted(set(upstream.values())))
    return {name: found.get(table, {}) for name, table in upstream.items()}


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What changed, in words: dropped, added, retyped, and a drop plus an add of one type as a rename."""
    dropped = [c for c in before if c not in after]
    added = [c for c in after if c not in before]
    out = []
    for old in list(dropped):
        twin = next((new for new in added if after[new] == before[old]), None)
        if twin is not None:
            out.append(f"renamed {old} → {twin}?")
            dropped.remove(old)
            added.remove(twin)
    out += [f"dropped {c}" for c in dropped] + [f"added {c} ({after[c]})" for c in added]
    out += [f"retyped {c} {before[c]} → {after[c]}" for c in before if c in after and before[c] != after[c]]
    return out


def _baseline(conn: psycopg.Connection[Any], source: str) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        "SELECT table_name, columns FROM heartbeat.source_catalog WHERE source = %s", (source,)
    ).fetchall()
    return {r[0]: dict(r[1]) for r in rows}


def accept(conn: psycopg.Connection[Any], source: str, table: str, columns: dict[str, str]) -> None:
    conn.execute(
        """INSERT INTO heartbeat.source_catalog (source, table_name, columns, taken_at) VALUES (%s, %s, %s, %s)
           ON CONFLICT (source, table_name) DO UPDATE SET columns = EXCLUDED.columns, taken_at = EXCLUDED.taken_at""",
        (source, table, json.dumps(columns), clock.now()),
    )


def drift_results(
    conn: psycopg.Connection[Any], source: AnySource, where: str, accept_all: bool = False
) -> list[TestResult]:
    """One `schema` result per declared table: pass, fail (what changed since the accepted snapshot), or error."""
    tables = [] if isinstance(source, WebhookSource) else sorted(source.tables)
    try:
        now_seen = upstream_catalogue(conn, source)
    except (psycopg.Error, RuntimeError) as exc:
        message = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return [
            TestResult(TestSpec(source.name, t, "schema", ()), "error", message=f"{where}: {message}")
            for t in tables
        ]
    accepted = _baseline(conn, source.name)
    results = []
    for table in tables:
        spec = TestSpec(
            source.name, table, "schema", (), where=f"{where}: source {source.name!r}, table {table!r}"
        )
        seen = now_seen.get(table, {})
        if not seen:
            results.append(TestResult(spec, "error", message=f"{spec.where}: the table is not in the source"))
            continue
        if table not in accepted or accept_all:
            accept(conn, source.name, table, seen)
            results.append(TestResult(spec, "pass"))
            continue
        diff = changes(accepted[table], seen)
        status = "fail" if diff else "pass"
        results.append(TestResult(spec, status, len(diff) if diff else 0, message="; ".join(diff) or None))
    return results
