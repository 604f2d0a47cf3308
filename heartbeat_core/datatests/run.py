"""Run declared data tests against landed tables, read-only under the metric statement limits, and keep
each verdict in `heartbeat.source_test` (first failing / last passing times carried across runs).

Every test is one predicate over its table's rows ("the rows that break it"), so counting and sampling are the
same two statements for every kind; a test that cannot run (missing table or column, timeout) is an `error`
naming file, source, table and key, and never stops the others.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core import clock
from heartbeat_core.datatests.incremental import (
    Since,
    Window,
    config_changed_at,
    last_runs,
    since_for,
    table_window,
)
from heartbeat_core.datatests.spec import TestSpec, declared_tests
from heartbeat_core.datatests.volume import latest_load, per_day, per_load, record_load
from heartbeat_core.formatting import counted
from heartbeat_core.ingest.config import AnySource, PostgresSource, WebhookSource, resolved_tables
from heartbeat_core.redaction import redact
from heartbeat_core.settings import get_settings

log = logging.getLogger(__name__)
SAMPLE_ROWS = 5


@dataclass
class TestResult:
    spec: TestSpec
    status: str  # pass | fail | error
    failing_rows: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    mode: str = "full"  # full | incremental (only the rows landed since the last run)
    rows_checked: int | None = None
    mark: str | None = None  # the newest load id or cursor value the run saw (incremental's next start)
    seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.spec.source,
            "table": self.spec.table,
            "test": self.spec.test,
            "columns": list(self.spec.columns),
            "status": self.status,
            "failing_rows": self.failing_rows,
            "sample": self.sample,
            "message": self.message,
            "mode": self.mode,
            "rows_checked": self.rows_checked,
        }


def _ident(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def _predicate(spec: TestSpec, rel: sql.Composable) -> tuple[sql.Composable, list[Any]]:
    """The rows of `t` that break the test (`rel`: the rows in scope, for a key's duplicates)."""
    cols = [sql.SQL("t.{}").format(sql.Identifier(c)) for c in spec.columns]
    if spec.test == "not_null":
        return sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(c) for c in cols), []
    if spec.test == "unique":  # used for the sample rows only: the count sums the duplicate groups
        plain = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
        dup = sql.SQL(
            "({}) IN (SELECT {} FROM {} GROUP BY {} HAVING count(*) > 1 ORDER BY {} LIMIT {})"
        ).format(sql.SQL(", ").join(cols), plain, rel, plain, plain, sql.Literal(SAMPLE_ROWS))
        return dup, []
    if spec.test == "accepted_values":
        return sql.SQL("{c} IS NOT NULL AND {c}::text <> ALL(%s)").format(c=cols[0]), [list(spec.values)]
    assert spec.to_source and spec.to_table and spec.to_column
    return (
        sql.SQL("{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {o} o WHERE o.{oc} = {c})").format(
            c=cols[0], o=_ident(spec.to_source, spec.to_table), oc=sql.Identifier(spec.to_column)
        ),
        [],
    )


def _scope(spec: TestSpec, since: Since | None) -> tuple[sql.Composable, sql.Composable, list[Any]]:
    """`WITH` clause, the relation named `t` in the queries, and its parameters: the whole table, or its rows
    landed since the last run, and for `unique` every row sharing a key with one of them."""
    table = _ident(spec.source, spec.table)
    if since is None:
        return sql.SQL(""), table, []
    condition, params = since
    new = sql.SQL("SELECT * FROM {} WHERE {}").format(table, condition)
    if spec.test == "unique":
        plain = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
        new = sql.SQL("SELECT * FROM {t} WHERE ({k}) IN (SELECT {k} FROM {t} WHERE {c})").format(
            t=table, k=plain, c=condition
        )
    return sql.SQL("WITH scope AS MATERIALIZED ({}) ").format(new), sql.Identifier("scope"), params


def _shown(value: Any) -> Any:
    """A sample cell as JSON, secrets masked."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return redact(str(value))


def landed_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> set[str]:
    """The table's columns (none: not landed), from the catalogue itself (information_schema is slower)."""
    rows = conn.execute(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0"
        " AND NOT a.attisdropped",
        (_ident(schema, table).as_string(conn),),
    ).fetchall()
    return {r[0] for r in rows}


def missing(conn: psycopg.Connection[Any], spec: TestSpec) -> str | None:
    """What the test needs that is not landed, named as the message says it."""
    return missing_in(spec, lambda schema, table: landed_columns(conn, schema, table), "the marts")


def missing_in(spec: TestSpec, columns: Callable[[str, str], set[str]], place: str) -> str | None:
    """What the test needs that `columns(schema, table)` (none: not landed in `place`) does not hold."""
    have = columns(spec.source, spec.table)
    if not have:
        return f"{spec.where}: table {spec.source}.{spec.table} has not landed (no such table in {place})"
    absent = [c for c in spec.columns if c not in have]
    if absent:
        return f"{spec.where}, key {spec.test!r}: column {absent[0]!r} does not exist in {spec.source}.{spec.table}"
    if spec.test == "relationships":
        assert spec.to_source and spec.to_table and spec.to_column
        if spec.to_column not in columns(spec.to_source, spec.to_table):
            return (
                f"{spec.where}, key 'to': column {spec.to_column!r} does not exist in "
                f"{spec.to_source}.{spec.to_table}"
            )
    return None


def _counts(
    conn: psycopg.Connection[Any],
    spec: TestSpec,
    scope: tuple[sql.Composable, sql.Composable, list[Any]],
    where: sql.Composable,
    params: list[Any],
    incremental: bool,
) -> tuple[int, int | None]:
    """Failing rows and rows looked at, each kind in the form the planner runs as one pass: a subquery inside
    `FILTER` would be a per-row subplan (minutes on millions of rows), so `unique` sums its duplicate groups
    and `relationships` counts in a `WHERE` the planner turns into an anti-join (its rows looked at are
    counted only when incremental: the full count would be another pass)."""
    with_, rel, scope_params = scope
    if spec.test == "unique":
        plain = sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns)
        query = sql.SQL(
            "{}SELECT coalesce(sum(n) FILTER (WHERE n > 1), 0), coalesce(sum(n), 0)"
            " FROM (SELECT count(*) AS n FROM {} GROUP BY {}) g"
        ).format(with_, rel, plain)
        row = conn.execute(query, scope_params).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
    if spec.test == "relationships":
        row = conn.execute(
            sql.SQL("{}SELECT count(*) FROM {} t WHERE {}").format(with_, rel, where),
            [*scope_params, *params],
        ).fetchone()
        seen = None
        if incremental:
            seen_row = conn.execute(sql.SQL("{}SELECT count(*) FROM {}").format(with_, rel), scope_params)
            seen = int((seen_row.fetchone() or (0,))[0])
        return (int(row[0]) if row else 0), seen
    query = sql.SQL("{}SELECT count(*) FILTER (WHERE {}), count(*) FROM {} t").format(with_, where, rel)
    row = conn.execute(query, [*scope_params, *params]).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _check(
    conn: psycopg.Connection[Any], spec: TestSpec, since: Since | None
) -> tuple[str, int, list[dict[str, Any]], str | None, int | None]:
    """status, failing rows, sample, message, rows looked at; inside the caller's read-only transaction."""
    if spec.test == "rows_per_day":
        return (*per_day(conn, spec), None)
    if spec.test == "rows_per_load":
        return (*per_load(conn, spec), None)
    with_, rel, scope_params = _scope(spec, since)
    where, params = _predicate(spec, rel)
    failing, checked = _counts(conn, spec, (with_, rel, scope_params), where, params, since is not None)
    sample: list[dict[str, Any]] = []
    if failing:
        order = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in spec.columns)
        sample_q = sql.SQL("{}SELECT t.* FROM {} t WHERE {} ORDER BY {} LIMIT {}").format(
            with_, rel, where, order, sql.Literal(SAMPLE_ROWS)
        )
        cur = conn.execute(sample_q, [*scope_params, *params])
        names = [d.name for d in cur.description or []]
        for values in cur.fetchall():
            sample.append(
                {n: _shown(v) for n, v in zip(names, values, strict=True) if not n.startswith("_dlt")}
            )
    return "fail" if failing else "pass", failing, sample, None, checked


def run_one_test(conn: psycopg.Connection[Any], spec: TestSpec, since: Since | None = None) -> TestResult:
    """One test in its own read-only transaction with the metric statement timeout; `since`: which rows landed
    since its last run (only they are checked), None for the whole table."""
    if spec.problem:
        return TestResult(spec, "error", message=spec.problem)
    timeout_ms = int(get_settings().metric_statement_timeout_s * 1000)
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(timeout_ms),))
            absent = missing(conn, spec)
            if absent:
                return TestResult(spec, "error", message=absent)
            status, failing, sample, message, checked = _check(conn, spec, since)
    except psycopg.Error as exc:
        first = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return TestResult(spec, "error", message=f"{spec.where}: {first}")
    mode = "incremental" if since is not None else "full"
    return TestResult(spec, status, failing, sample, message, mode=mode, rows_checked=checked)


_UPSERT = """
INSERT INTO heartbeat.source_test AS s (source, table_name, test_key, test, columns, status, failing_rows,
    sample, message, checked_at, first_failing_at, last_passing_at, job_id, checked_mark, checked_mode,
    checked_rows)
VALUES (%(source)s, %(table)s, %(key)s, %(test)s, %(columns)s, %(status)s, %(failing)s, %(sample)s,
    %(message)s, %(now)s, CASE WHEN %(status)s = 'fail' THEN %(now)s END,
    CASE WHEN %(status)s = 'pass' THEN %(now)s END, %(job_id)s, %(load_id)s, %(mode)s, %(checked)s)
ON CONFLICT (source, table_name, test_key) DO UPDATE SET
    test = EXCLUDED.test, columns = EXCLUDED.columns, status = EXCLUDED.status,
    failing_rows = EXCLUDED.failing_rows, sample = EXCLUDED.sample, message = EXCLUDED.message,
    checked_at = EXCLUDED.checked_at, job_id = EXCLUDED.job_id, checked_mark = EXCLUDED.checked_mark,
    checked_mode = EXCLUDED.checked_mode, checked_rows = EXCLUDED.checked_rows,
    first_failing_at = CASE WHEN EXCLUDED.status <> 'fail' THEN NULL
                            WHEN s.status = 'fail' THEN s.first_failing_at ELSE EXCLUDED.checked_at END,
    last_passing_at = CASE WHEN EXCLUDED.status = 'pass' THEN EXCLUDED.checked_at ELSE s.last_passing_at END
"""


def store_results(
    conn: psycopg.Connection[Any], source: str, results: list[TestResult], job_id: int | None = None
) -> None:
    """Upsert the source's verdicts and forget the tests it no longer declares."""
    now = clock.now()
    with conn.transaction():
        for r in results:
            conn.execute(
                _UPSERT,
                {
                    "source": r.spec.source,
                    "table": r.spec.table,
                    "key": r.spec.key,
                    "test": r.spec.test,
                    "columns": list(r.spec.columns),
                    "status": r.status,
                    "failing": r.failing_rows,
                    "sample": json.dumps(r.sample),
                    "message": r.message,
                    "now": now,
                    "job_id": job_id,
                    "load_id": r.mark,
                    "mode": r.mode,
                    "checked": r.rows_checked,
                },
            )
        keys = [f"{r.spec.table}/{r.spec.key}" for r in results]
        conn.execute(
            "DELETE FROM heartbeat.source_test WHERE source = %s AND NOT (table_name || '/' || test_key = ANY(%s))",
            (source, keys),
        )


def _windows(
    conn: psycopg.Connection[Any], source: AnySource, tables: set[str], load_id: str | None
) -> dict[str, Window | None]:
    cursors = {t.name: t.cursor for t in resolved_tables(source) if t.write_disposition != "replace"}
    return {t: table_window(conn, source.name, t, cursors.get(t), load_id) for t in sorted(tables)}


def _run_source(
    conn: psycopg.Connection[Any],
    specs: list[TestSpec],
    source: AnySource,
    path: Path,
    landed: dict[str, int] | None,
    engine: Any = None,
) -> list[TestResult]:
    """The declared tests of one source: per-load counts first, then each test on its rows in scope
    (`landed`: the rows per table the job just landed, given only by the job, which runs incrementally).
    `engine`: warehouse mode's engine, where every test runs over the whole table (`warehouse.datatests`)."""
    from heartbeat_core.warehouse import datatests as on_engine

    with conn.transaction():  # each step in its own transaction: a test's must be its first statement
        load_id = on_engine.latest_load(engine, source.name) if engine else latest_load(conn, source.name)
    if load_id is not None:
        for spec in specs:
            if spec.test == "rows_per_load" and not spec.problem:
                with conn.transaction():
                    record_load(conn, spec, load_id, (landed or {}).get(spec.table))
    with conn.transaction():
        tables = {s.table for s in specs if not s.problem}
        windows = {} if engine else _windows(conn, source, tables, load_id)
        last = last_runs(conn, source.name) if landed is not None and not engine else {}
    config_at = config_changed_at(path)
    results = []
    for spec in specs:
        window = windows.get(spec.table)
        with conn.transaction():
            since = since_for(conn, spec, window, last.get((spec.table, spec.key)), config_at)
        started = time.perf_counter()
        result = on_engine.run_one_test(engine, conn, spec) if engine else run_one_test(conn, spec, since)
        result.seconds = time.perf_counter() - started
        result.mark = window.mark if window else None
        results.append(result)
    return results


def _warehouse_engine() -> tuple[Any, str | None]:
    """Warehouse mode's engine (None: tests run on the Postgres marts), or why it cannot be opened."""
    if not get_settings().warehouse_url:
        return None, None
    from heartbeat_core.warehouse import current
    from heartbeat_core.warehouse.config import WarehouseError

    try:
        return current.engine(), None
    except WarehouseError as exc:
        return None, str(exc)


def _drift_not_run(source: AnySource, where: str) -> list[TestResult]:
    """Schema drift of a source whose columns are read from the marts: not judged on an engine's types."""
    from heartbeat_core.warehouse.datatests import not_run

    if isinstance(source, WebhookSource):
        return []
    why = (
        "schema drift of a non-Postgres source compares the landed table's Postgres column types with the "
        "accepted ones; the engine's types differ (run `heartbeat sources test` without HEARTBEAT_WAREHOUSE_URL "
        "against a Postgres landing to check it)"
    )
    return [
        not_run(
            TestSpec(source.name, t, "schema", (), where=f"{where}: source {source.name!r}, table {t!r}"), why
        )
        for t in sorted(source.tables)
    ]


def run_source_tests(
    conn: psycopg.Connection[Any],
    source: str | None = None,
    job_id: int | None = None,
    *,
    accept_schema: bool = False,
    landed: dict[str, int] | None = None,
) -> list[TestResult]:
    """Run and store the tests of one source (or of all), schema drift included; a bad declaration stops
    nothing but itself. `accept_schema` takes today's upstream catalogue as the accepted one. `landed` (the
    recompute job, right after a load: rows per table) makes the run incremental: only rows landed since each
    test's last run are checked where the test allows it."""
    from heartbeat_core.datatests.drift import drift_results
    from heartbeat_core.ingest.config import load_sources

    path = get_settings().sources
    sources = load_sources(path)
    names = sorted(s for s in sources if source is None or s == source)
    specs = declared_tests(sources, str(path), only=source)
    results: list[TestResult] = []
    engine, engine_error = _warehouse_engine()
    for name in names:
        mine = [s for s in specs if s.source == name]
        if engine_error:
            results += [TestResult(s, "error", message=f"{s.where}: {engine_error}") for s in mine]
            continue
        results += _run_source(conn, mine, sources[name], Path(path), landed, engine)
        if engine is not None and not isinstance(sources[name], PostgresSource):
            results += _drift_not_run(sources[name], str(path))
            continue
        results += drift_results(conn, sources[name], str(path), accept_all=accept_schema)
    for name in names:
        store_results(conn, name, [r for r in results if r.spec.source == name], job_id)
    failed = [r for r in results if r.status != "pass"]
    if failed:
        log.info("%d of %s did not pass", len(failed), counted(len(results), "data test"))
    return results
