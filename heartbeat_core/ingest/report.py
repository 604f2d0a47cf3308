"""What `heartbeat sources report` shows: per landed table, its write disposition as dlt recorded it and its
size — the seed's hidden-cost rule: a replace table is reloaded in full every run, so a large one is a problem.

A source's state and freshness (`heartbeat sources status`) is the read model's
`heartbeat_core.readmodel.freshness.sources_status`.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.db.connection import connect
from heartbeat_core.ingest.config import AnySource, load_sources, resolved_tables

RUN_TABLE = "heartbeat_ingest_run"

LARGE_REPLACE_BYTES = 50 * 1024 * 1024


def _stored_dispositions(conn: psycopg.Connection[Any], source: str) -> dict[str, str]:
    """Write dispositions as dlt recorded them in the newest stored schema of the dataset."""
    name = sql.SQL("{}._dlt_version").format(sql.Identifier(source)).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    if not row or not row[0]:
        return {}
    q = sql.SQL("SELECT schema FROM {}._dlt_version ORDER BY inserted_at DESC LIMIT 1").format(
        sql.Identifier(source)
    )
    found = conn.execute(q).fetchone()
    if not found:
        return {}
    try:
        schema = json.loads(found[0])
    except (TypeError, ValueError):
        return {}
    out = {}
    for table, spec in schema.get("tables", {}).items():
        if table.startswith("_dlt"):
            continue
        disposition = spec.get("write_disposition")
        if isinstance(disposition, dict):
            disposition = disposition.get("disposition")
        if disposition:
            out[table] = str(disposition)
    return out


def replace_report(
    conn: psycopg.Connection[Any] | None = None, sources: dict[str, AnySource] | None = None
) -> list[dict[str, Any]]:
    config = sources if sources is not None else load_sources()
    own = conn is None
    c = conn or connect(autocommit=True)
    try:
        out = []
        for name, spec in config.items():
            stored = _stored_dispositions(c, name)
            configured = {t.name: t for t in resolved_tables(spec)}
            extra = sorted(set(stored) - set(configured) - {RUN_TABLE})
            for table in list(configured) + extra:
                resolved = configured.get(table)
                size = c.execute(
                    "SELECT pg_total_relation_size(c.oid), greatest(c.reltuples, 0)::bigint "
                    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
                    (name, table),
                ).fetchone()
                configured_disposition = resolved.write_disposition if resolved else None
                disposition = configured_disposition or stored.get(table)
                replace = disposition == "replace"
                bytes_ = int(size[0]) if size else None
                note = ""
                if replace and bytes_ and bytes_ >= LARGE_REPLACE_BYTES:
                    note = (
                        "large table reloaded in full every run: add a primary key/cursor or a daily schedule"
                    )
                elif replace:
                    note = "reloaded in full every run (fine for a small lookup table)"
                elif resolved is None:
                    note = "landed by dlt but not in sources.toml (a child table?)"
                out.append(
                    {
                        "source": name,
                        "table": table,
                        "kind": spec.kind,
                        "write_disposition": disposition,
                        "last_landed_as": stored.get(table),
                        "cursor": resolved.cursor if resolved else None,
                        "primary_key": resolved.primary_key if resolved else [],
                        "replace": replace,
                        "bytes": bytes_,
                        "rows_estimate": int(size[1]) if size else None,
                        "note": note,
                    }
                )
        return out
    finally:
        if own:
            c.close()
