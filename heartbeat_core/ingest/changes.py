"""Cheap change detection for postgres sources, so a run with nothing new costs milliseconds per
table instead of a reflection, a connectorx query and an arrow round trip.

- A table with a cursor changed when the source has more rows at or past the last landed cursor
  value than dlt already landed at that boundary (`unique_hashes`).
- A table without a cursor (replace, or merge in full) changed when its fingerprint (row count and an
  md5 over its rows) differs from the one recorded after the last successful load; tables too big
  to fingerprint cheaply always reload (`heartbeat sources report` shows them as a hidden cost).

Any doubt (no state, an error) means "changed": the table is extracted as usual.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.ingest.config import PostgresTable, ResolvedTable

FINGERPRINT_MAX_ROWS = 50_000
FINGERPRINT_FILE = "heartbeat_fingerprints.json"


def incremental_state(pipeline: Any, table: str, cursor: str) -> tuple[Any, int] | None:
    """(last_value, rows landed at that value) from the pipeline's incremental state, if any."""
    try:
        sections = pipeline.state.get("sources", {})
    except Exception:
        return None
    for section in sections.values():
        entry = section.get("resources", {}).get(table, {}).get("incremental", {}).get(cursor)
        if entry and entry.get("last_value") is not None:
            return entry["last_value"], len(entry.get("unique_hashes") or [])
    return None


def _source_name(table: ResolvedTable) -> str:
    spec = table.spec
    return (spec.source_table if isinstance(spec, PostgresTable) else None) or table.name


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"t": "date", "v": value.isoformat()}
    if isinstance(value, bool | int | float | str):
        return {"t": type(value).__name__, "v": value}
    return {"t": "str", "v": str(value)}


def _decode(item: dict[str, Any]) -> Any:
    kind, value = item.get("t"), item.get("v")
    if kind == "datetime":
        return datetime.fromisoformat(str(value))
    if kind == "date":
        return date.fromisoformat(str(value))
    return value


def load_saved(workdir: Path) -> dict[str, Any]:
    """What the last successful run recorded: cursor boundaries and fingerprints per table."""
    try:
        data = json.loads((workdir / FINGERPRINT_FILE).read_text())
    except (OSError, ValueError):
        return {"cursors": {}, "prints": {}}
    if not isinstance(data, dict):
        return {"cursors": {}, "prints": {}}
    cursors = {}
    for table, entry in (data.get("cursors") or {}).items():
        try:
            cursors[str(table)] = (_decode(entry["last"]), int(entry["n"]))
        except (KeyError, TypeError, ValueError):
            continue
    return {"cursors": cursors, "prints": {str(k): str(v) for k, v in (data.get("prints") or {}).items()}}


def save_after_load(
    workdir: Path, pipeline: Any, tables: list[ResolvedTable], prints: dict[str, str], failed: set[str]
) -> None:
    """Record the cursor boundaries dlt now holds and the fingerprints of what was just landed."""
    if not workdir.exists():
        return
    saved = load_saved(workdir)
    cursors = {t: {"last": _encode(v), "n": n} for t, (v, n) in saved["cursors"].items()}
    for table in tables:
        if table.name in failed:
            cursors.pop(table.name, None)
            continue
        if table.cursor:
            state = incremental_state(pipeline, table.name, table.cursor)
            if state is not None:
                cursors[table.name] = {"last": _encode(state[0]), "n": state[1]}
    all_prints = {k: v for k, v in saved["prints"].items() if k not in failed}
    all_prints.update({k: v for k, v in prints.items() if k not in failed})
    (workdir / FINGERPRINT_FILE).write_text(json.dumps({"cursors": cursors, "prints": all_prints}))


def fingerprint(conn: psycopg.Connection[Any], schema: str, table: str) -> str | None:
    ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    row = conn.execute(
        "SELECT reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    if row is None or row[0] > FINGERPRINT_MAX_ROWS:
        return None
    q = sql.SQL(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') "
        "FROM {} t"
    ).format(ident)
    found = conn.execute(q).fetchone()
    return str(found[0]) if found else None


def detect_changes(
    conn: psycopg.Connection[Any],
    schema: str,
    tables: list[ResolvedTable],
    saved: dict[str, Any],
) -> tuple[set[str], dict[str, str], dict[str, str]]:
    """Returns (unchanged table names, fingerprints to record after a successful load, errors)."""
    unchanged: set[str] = set()
    new_prints: dict[str, str] = {}
    errors: dict[str, str] = {}
    for table in tables:
        name = _source_name(table)
        ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        try:
            if table.cursor:
                state = saved["cursors"].get(table.name)
                if state is None:
                    continue
                last_value, at_boundary = state
                op = ">="
                if table.primary_key == [
                    table.cursor
                ]:  # a unique cursor is read strictly past the last value
                    op, at_boundary = ">", 0
                q = sql.SQL(
                    "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} " + op + " %s LIMIT %s) x"
                ).format(ident, sql.Identifier(table.cursor))
                row = conn.execute(q, (last_value, at_boundary + 1)).fetchone()
                if row is not None and row[0] <= at_boundary:
                    unchanged.add(table.name)
            else:
                printed = fingerprint(conn, schema, name)
                if printed is None:
                    continue
                new_prints[table.name] = printed
                if saved["prints"].get(table.name) == printed:
                    unchanged.add(table.name)
        except psycopg.errors.UndefinedTable:
            errors[table.name] = f"{schema}.{name} does not exist in the source database"
        except psycopg.Error:
            continue  # any doubt: extract as usual, the extraction reports real problems
    return unchanged, new_prints, errors
