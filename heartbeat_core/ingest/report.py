"""What `heartbeat sources status` and `heartbeat sources report` show (and the MCP tool can reuse).

- `sources_status()`: per configured source, the last attempt and its outcome (from
  `heartbeat.source_state`), the last completed load (`_dlt_loads`), the data watermark, and freshness.
- `replace_report()`: per landed table, its write disposition as dlt recorded it and its size — the
  seed's hidden-cost rule: a replace table is reloaded in full every run, so a large one is a problem.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.db.connection import connect
from heartbeat_core.ingest.config import AnySource, load_sources, resolved_tables
from heartbeat_core.readmodel.freshness import last_completed_load, one_source_as_of
from heartbeat_core.readmodel.status import resolve_freshness

RUN_TABLE = "heartbeat_ingest_run"

LARGE_REPLACE_BYTES = 50 * 1024 * 1024


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _freshness_period(schedule: str) -> str:
    # an hourly source is late after a day (amber) and broken after two; a daily one gets three days
    return "24h" if schedule == "daily" else "snapshot"


def sources_status(
    conn: psycopg.Connection[Any] | None = None,
    sources: dict[str, AnySource] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    config = sources if sources is not None else load_sources()
    moment = now or datetime.now(UTC)
    own = conn is None
    c = conn or connect(autocommit=True)
    try:
        states: dict[str, dict[str, Any]] = {}
        with c.cursor(row_factory=psycopg.rows.dict_row) as cur:
            for row in cur.execute("SELECT * FROM heartbeat.source_state"):
                states[row["source"]] = row
        out = []
        for name in list(config) + sorted(set(states) - set(config)):
            spec = config.get(name)
            state = states.get(name, {})
            as_of = one_source_as_of(c, name)
            fresh = resolve_freshness(_freshness_period(spec.schedule if spec else "hourly"), as_of, moment)
            out.append(
                {
                    "source": name,
                    "kind": spec.kind if spec else state.get("kind"),
                    "configured": spec is not None,
                    "schedule": spec.schedule if spec else None,
                    "tables": [t.name for t in resolved_tables(spec)] if spec else [],
                    "last_attempt_at": _iso(state.get("last_attempt_at")),
                    "last_success_at": _iso(state.get("last_success_at")),
                    "last_status": state.get("last_status") or "never",
                    "last_error": state.get("last_error"),
                    "last_rows": state.get("last_rows"),
                    "last_duration_s": state.get("last_duration_s"),
                    "last_load_at": _iso(last_completed_load(c, name)),
                    "data_watermark": _iso(state.get("data_watermark")),
                    "source_as_of": _iso(as_of),
                    "freshness": fresh.freshness,
                    "freshness_reason": fresh.reason,
                }
            )
        return out
    finally:
        if own:
            c.close()


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
