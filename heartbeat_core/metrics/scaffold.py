"""`heartbeat metric new ID --source SCHEMA [--table T]`: a metric file started from the landed data.

The header is filled where the catalog tells us (sources, a period guess, the timestamp column that bounds
the window, the owner from `git config user.email`); everything else is a TODO marker. The validate gate
fails on any TODO (`no_todo`, `header_complete`), so a scaffold cannot ship unfinished.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core.metrics.definition import EMAIL, SLUG

# Timestamp columns that usually mean "when the row happened", best first.
_TIME_NAMES = (
    "created_at",
    "create_time",
    "created",
    "create_at",
    "occurred_at",
    "event_time",
    "timestamp",
    "inserted_at",
    "opened_at",
    "issued_at",
    "day",
    "date",
    "updated_at",
)
_TIME_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")


class ScaffoldError(ValueError):
    """The scaffold cannot be written; the message says why."""


@dataclass(frozen=True)
class Scaffold:
    path: Path
    metric_id: str
    source: str
    table: str
    period: str
    time_column: str | None
    owner: str | None
    text: str


def git_email(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "config", "user.email"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    email = out.stdout.strip()
    if not email or not EMAIL.match(email) or "noreply" in email.lower():
        return None
    return email


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, int]]:
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname NOT LIKE '\\_dlt\\_%%'"
        " ORDER BY pg_total_relation_size(c.oid) DESC, c.relname",
        (schema,),
    ).fetchall()
    return [(r[0], int(r[1])) for r in rows]


def _columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def pick_time_column(columns: list[tuple[str, str]]) -> str | None:
    """The column that most likely says when a row happened (None when the table has no time column)."""
    timed = [name for name, kind in columns if kind in _TIME_TYPES and not name.startswith("_dlt")]
    for wanted in _TIME_NAMES:
        if wanted in timed:
            return wanted
    for name in timed:
        if re.search(r"(creat|time|date|_at$)", name) and "updat" not in name:
            return name
    return timed[0] if timed else None


def _quote(name: str, keywords: set[str]) -> str:
    """An identifier as SQL needs it: quoted when it is a reserved word or not a plain lowercase name."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in keywords:
        return name
    return '"' + name.replace('"', '""') + '"'


def guess_period(metric_id: str, time_column: str | None) -> str:
    for suffix in ("24h", "7d", "30d"):
        if metric_id.endswith(f"_{suffix}"):
            return suffix
    if "funnel" in metric_id:
        return "funnel"
    return "24h" if time_column else "snapshot"


def render(
    metric_id: str,
    source: str,
    table: str,
    period: str,
    time_column: str | None,
    owner: str | None,
    other_tables: list[str],
) -> str:
    name = metric_id.replace("_", " ").capitalize()
    header = [
        f"-- name: {name}",
        f"-- period: {period}",
        "-- unit: count  -- TODO: count, pct, money:EUR, seconds, or a counted noun (clients, payments...)",
        "-- direction: higher_is_better  -- TODO: which way is bad? higher_is_better or lower_is_better",
        f"-- sources: {source}",
    ]
    if owner:
        header.append(f"-- owner: {owner}")
    header += [
        "-- description: TODO: one sentence: what is counted, over which window.",
        "-- how_to_read: TODO: when is the value bad, and what should someone do about it.",
        "-- methodology: TODO: the exact rule (filters, joins, edge cases).",
    ]
    body = ["", "-- @value"]
    if not owner:
        body.append("-- TODO: add `-- owner: you@example.com` to the header (who answers for this number)")
    if other_tables:
        body.append(f"-- other tables in {source}: {', '.join(other_tables[:12])}")
    body.append("-- TODO: replace count(*) with what the metric means; JOIN + conditional aggregation,")
    body.append("--       never a correlated subquery; never now() or current_date.")
    body.append("-- TODO: add a `-- @detail` section listing the rows behind a non-zero value.")
    if time_column and period != "snapshot":
        body += [
            "SELECT count(*) AS value",
            f"FROM {source}.{table}",
            f"WHERE {time_column} >= heartbeat.window_start() AND {time_column} < heartbeat.as_of();",
        ]
    elif time_column:
        body += [
            "-- TODO: a snapshot counts the state as of heartbeat.as_of(): rows created before it,",
            "--       not yet resolved by then.",
            "SELECT count(*) AS value",
            f"FROM {source}.{table}",
            f"WHERE {time_column} < heartbeat.as_of();",
        ]
    else:
        body += [
            f"-- TODO: {source}.{table} has no timestamp column: bound the rows by heartbeat.as_of()",
            "--       so backfill replays past days (the point_in_time check fails until then).",
            "SELECT count(*) AS value",
            f"FROM {source}.{table};",
        ]
    return "\n".join(header + body) + "\n"


def scaffold_metric(
    conn: psycopg.Connection[Any],
    metric_id: str,
    source: str,
    metric_defs: Path,
    table: str | None = None,
    *,
    owner: str | None = None,
    write: bool = True,
) -> Scaffold:
    """Write `metric_defs/<metric_id>.sql`; ScaffoldError on a bad or taken id, an unknown schema or table."""
    if not SLUG.match(metric_id):
        raise ScaffoldError(f"{metric_id!r} is not a metric id: use lowercase letters, digits and _ (a slug)")
    path = metric_defs / f"{metric_id}.sql"
    if path.exists():
        raise ScaffoldError(f"metric {metric_id!r} exists already: {path}")
    row = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = 'heartbeat' AND tablename = 'metric_registry'"
    ).fetchone()
    if row:
        taken = conn.execute(
            "SELECT file_path FROM heartbeat.metric_registry WHERE metric_id = %s AND retired_at IS NULL",
            (metric_id,),
        ).fetchone()
        if taken:
            raise ScaffoldError(f"metric {metric_id!r} exists already in the registry ({taken[0]})")
    tables = _tables(conn, source)
    if not tables:
        schemas = [
            r[0]
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace n WHERE EXISTS (SELECT 1 FROM pg_class c"
                " WHERE c.relnamespace = n.oid AND c.relname = '_dlt_loads') ORDER BY 1"
            )
        ]
        raise ScaffoldError(f"no landed source {source!r} in marts (landed: {', '.join(schemas) or 'none'})")
    names = [t for t, _ in tables]
    if table is None:
        table = names[0]
    elif table not in names:
        raise ScaffoldError(f"no table {source}.{table} (tables: {', '.join(names)})")
    time_column = pick_time_column(_columns(conn, source, table))
    period = guess_period(metric_id, time_column)
    keywords = {r[0] for r in conn.execute("SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'")}
    quoted = None if time_column is None else _quote(time_column, keywords)
    if owner is None:
        owner = git_email(metric_defs if metric_defs.is_dir() else Path.cwd())
    text = render(
        metric_id,
        _quote(source, keywords),
        _quote(table, keywords),
        period,
        quoted,
        owner,
        [n for n in names if n != table],
    )
    if write:
        metric_defs.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    return Scaffold(path, metric_id, source, table, period, time_column, owner, text)
