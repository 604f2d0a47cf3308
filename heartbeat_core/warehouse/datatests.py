"""Data tests in warehouse mode: the declared tests of `sources.toml` run where the marts live.

Each test is the same predicate as on Postgres (`datatests.run`: "the rows that break it"), written once in
Postgres dialect and transpiled to the engine's (`transpile`), run read-only under the metric statement limit:

| test | on the engine |
|---|---|
| `not_null`, `accepted_values`, `unique`, `relationships` | yes: failing rows counted, up to 5 sampled; always over the whole table (`mode = full`): the incremental windows read `_dlt_load_id` and cursors through Postgres |
| `rows_per_day` | yes: the same hours of past same weekdays counted on the engine, judged by the same band |
| `rows_per_load` | yes: the newest load from the engine's own `_dlt_loads`, its row count from the read model (`load_volume`, counted by ingest as it lands) |
| schema drift | Postgres sources: yes (read from the upstream database, not the marts); other sources: **not run** — their columns would be the engine's types, which the accepted catalogue (Postgres types) cannot be compared with; the result is an `error` saying so, never a pass |

A test that cannot run is an `error` naming file, source, table and key, as on Postgres.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from heartbeat_core import clock
from heartbeat_core.datatests.run import SAMPLE_ROWS, TestResult, _shown, missing_in
from heartbeat_core.datatests.spec import TestSpec
from heartbeat_core.datatests.volume import PER_DAY, day_verdict, load_verdict
from heartbeat_core.redaction import redact
from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse.engines import Engine, EngineQueryError, Result
from heartbeat_core.warehouse.transpile import TranspileError, moment_literal, quoted, transpile

NOT_RUN = "not run in warehouse mode"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rel(schema: str, table: str) -> str:
    return f"{quoted(schema)}.{quoted(table)}"


def _run(engine: Engine, sql: str, limit: int | None = None) -> Result:
    return engine.query(
        transpile(sql, engine.config.engine), timeout_s=get_settings().metric_statement_timeout_s,
        timezone="UTC", limit=limit,
    )  # fmt: skip


def _columns(engine: Engine, schema: str, table: str) -> set[str]:
    found = engine.query(
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_schema = {_text(schema)} AND table_name = {_text(table)}",
        timeout_s=get_settings().metric_statement_timeout_s,
        timezone="UTC",
    )
    return {str(r[0]) for r in found.rows}


def missing(engine: Engine, spec: TestSpec) -> str | None:
    """What the test needs that the engine does not hold, as `datatests.run.missing` says it."""
    return missing_in(spec, lambda schema, table: _columns(engine, schema, table), engine.name)


def predicate(spec: TestSpec) -> str:
    """The rows of `t` that break the test, in Postgres dialect (transpiled before it runs)."""
    cols = [f"t.{quoted(c)}" for c in spec.columns]
    rel = _rel(spec.source, spec.table)
    if spec.test == "not_null":
        return " OR ".join(f"{c} IS NULL" for c in cols)
    if spec.test == "unique":  # the sample's rows: those of the first duplicate groups
        plain = ", ".join(quoted(c) for c in spec.columns)
        return (
            f"({', '.join(cols)}) IN (SELECT {plain} FROM {rel} GROUP BY {plain} HAVING count(*) > 1"
            f" ORDER BY {plain} LIMIT {SAMPLE_ROWS})"
        )
    if spec.test == "accepted_values":
        allowed = ", ".join(_text(v) for v in spec.values) or "NULL"
        return f"{cols[0]} IS NOT NULL AND CAST({cols[0]} AS TEXT) NOT IN ({allowed})"
    assert spec.to_source and spec.to_table and spec.to_column
    other, column = _rel(spec.to_source, spec.to_table), quoted(spec.to_column)
    return (
        f"{cols[0]} IS NOT NULL AND {cols[0]} NOT IN"
        f" (SELECT o.{column} FROM {other} o WHERE o.{column} IS NOT NULL)"
    )


def counts_sql(spec: TestSpec) -> str:
    """Failing rows and rows looked at, in one pass over the table."""
    rel = _rel(spec.source, spec.table)
    if spec.test == "unique":
        plain = ", ".join(f"t.{quoted(c)}" for c in spec.columns)
        return (
            "SELECT coalesce(sum(CASE WHEN g.n > 1 THEN g.n ELSE 0 END), 0), coalesce(sum(g.n), 0)"
            f" FROM (SELECT count(*) AS n FROM {rel} t GROUP BY {plain}) AS g"
        )
    return f"SELECT coalesce(sum(CASE WHEN {predicate(spec)} THEN 1 ELSE 0 END), 0), count(*) FROM {rel} t"


def _rows_test(engine: Engine, spec: TestSpec) -> TestResult:
    found = _run(engine, counts_sql(spec)).rows
    failing, checked = (int(found[0][0] or 0), int(found[0][1] or 0)) if found else (0, 0)
    sample: list[dict[str, Any]] = []
    if failing:
        order = ", ".join(f"t.{quoted(c)}" for c in spec.columns)
        rel = _rel(spec.source, spec.table)
        shown = _run(
            engine, f"SELECT t.* FROM {rel} t WHERE {predicate(spec)} ORDER BY {order} LIMIT {SAMPLE_ROWS}"
        )
        sample = [
            {n: _shown(v) for n, v in zip(shown.columns, row, strict=True) if not n.startswith("_dlt")}
            for row in shown.rows
        ]
    status = "fail" if failing else "pass"
    return TestResult(spec, status, failing, sample, None, mode="full", rows_checked=checked)


def day_series(engine: Engine, spec: TestSpec, now: datetime) -> list[tuple[Any, float | None]]:
    """`volume.day_series` on the engine: today's and past same weekdays' rows up to now's time of day."""
    midnight = datetime.combine(now.date(), datetime.min.time(), now.tzinfo)
    elapsed = now - midnight
    days = [midnight - timedelta(weeks=k) for k in range(PER_DAY.window_days // 7, -1, -1)]
    literal = moment_literal(engine.config.engine, ZoneInfo("UTC"))
    col = f"t.{quoted(spec.columns[0])}"
    ranges = " OR ".join(f"({col} >= {literal(d)} AND {col} <= {literal(d + elapsed)})" for d in days)
    query = f"SELECT CAST({col} AS DATE) AS d, count(*) FROM {_rel(spec.source, spec.table)} t WHERE {ranges} GROUP BY 1"
    found = {row[0]: row[1] for row in _run(engine, query).rows}
    if not found:
        return [(now.date(), 0.0)]
    first = min(found)
    return [(d.date(), float(found.get(d.date(), 0))) for d in days if d.date() >= first]


def latest_load(engine: Engine, source: str) -> str | None:
    """The source's newest completed dlt load in the engine's own `_dlt_loads` (None: never landed there)."""
    try:
        found = _run(
            engine,
            f"SELECT load_id FROM {_rel(source, '_dlt_loads')} WHERE status = 0 ORDER BY inserted_at DESC LIMIT 1",
        ).rows
    except EngineQueryError:
        return None
    return str(found[0][0]) if found else None


def run_one_test(engine: Engine, conn: psycopg.Connection[Any], spec: TestSpec) -> TestResult:
    """One declared test on the engine; a failure to run is an error naming the declaration."""
    if spec.problem:
        return TestResult(spec, "error", message=spec.problem)
    try:
        absent = missing(engine, spec)
        if absent:
            return TestResult(spec, "error", message=absent)
        if spec.test == "rows_per_day":
            now = clock.now()
            return TestResult(spec, *day_verdict(spec, day_series(engine, spec, now), now))
        if spec.test == "rows_per_load":
            with conn.transaction():
                verdict = load_verdict(conn, spec, latest_load(engine, spec.source))
            return TestResult(spec, *verdict)
        return _rows_test(engine, spec)
    except (EngineQueryError, TranspileError) as exc:
        first = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return TestResult(spec, "error", message=f"{spec.where}: on {engine.name}: {first}")


def not_run(spec: TestSpec, why: str) -> TestResult:
    """A test warehouse mode does not run: an error that says so, never a silent pass."""
    return TestResult(spec, "error", message=f"{spec.where}: {NOT_RUN}: {why}")
