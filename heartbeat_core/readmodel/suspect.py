"""Suspect flags (issue 18): a failing data test on a landed table marks the metrics whose SQL reads that table
(table-level lineage, `metrics.lineage`; through a rollup to the tables it is built from), with the test as the
reason; the value and colour stay as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock
from heartbeat_core.formatting import format_moment, format_number
from heartbeat_core.metrics.lineage import metric_tables, tables_read
from heartbeat_core.readmodel.annotations import Flag
from heartbeat_core.settings import get_settings

if TYPE_CHECKING:
    from heartbeat_core.readmodel.snapshot import MetricState


@dataclass(frozen=True)
class FailingTest:
    source: str
    table: str
    test: str
    columns: tuple[str, ...]
    failing_rows: int | None
    since: datetime | None
    message: str | None = None

    @property
    def line(self) -> str:
        """`webbank.entry unique(payment_id): 1,204 failing rows`; `aml.x schema changed: dropped y`."""
        if self.test == "schema":
            return f"{self.source}.{self.table} schema changed: {self.message}"
        rows = f": {format_number(self.failing_rows, 'count')} failing rows" if self.failing_rows else ""
        return f"{self.source}.{self.table} {self.test}({', '.join(self.columns)}){rows}"


def failing_tests(conn: psycopg.Connection[Any]) -> list[FailingTest]:
    """Tests whose latest verdict is `fail`, per table the row-level ones first (a duplicate key says more than
    the day's row count it swells); none before migration 0010 has run."""
    exists = conn.execute("SELECT to_regclass('heartbeat.source_test') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT source, table_name, test, columns, failing_rows, first_failing_at, message"
            " FROM heartbeat.source_test"
            " WHERE status = 'fail' ORDER BY source, table_name, test IN ('rows_per_day', 'rows_per_load'), test_key"
        )
        rows = cur.fetchall()
    return [
        FailingTest(
            r["source"],
            r["table_name"],
            r["test"],
            tuple(r["columns"]),
            r["failing_rows"],
            r["first_failing_at"],
            r["message"],
        )
        for r in rows
    ]


def _rollup_tables(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], frozenset[tuple[str, str]]]:
    """`rollups.<id>` → the landed tables its SQL reads: a metric that reads a rollup reads those too."""
    exists = conn.execute("SELECT to_regclass('heartbeat.rollup_registry') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        "SELECT rollup_id, sql FROM heartbeat.rollup_registry WHERE retired_at IS NULL"
    ).fetchall()
    return {("rollups", rollup_id): tables_read(text or "") for rollup_id, text in rows}


def suspects_by_metric(conn: psycopg.Connection[Any], metric_ids: list[str]) -> dict[str, list[FailingTest]]:
    """The failing tests behind each metric (only metrics that read a failing table appear)."""
    failing = failing_tests(conn)
    if not failing or not metric_ids:
        return {}
    rows = conn.execute(
        "SELECT metric_id, value_sql, detail_sql FROM heartbeat.metric_registry WHERE metric_id = ANY(%s)",
        (metric_ids,),
    ).fetchall()
    rollups = _rollup_tables(conn)
    out: dict[str, list[FailingTest]] = {}
    for metric_id, value_sql, detail_sql in rows:
        read = metric_tables(value_sql or "", detail_sql)
        tables = read.union(*(rollups.get(t, frozenset()) for t in read))
        hits = [t for t in failing if (t.source, t.table) in tables]
        if hits:
            out[metric_id] = hits
    return out


def attach_suspects(conn: psycopg.Connection[Any], states: list[MetricState]) -> None:
    """Add a `suspect` flag per metric that reads a table with a failing data test."""
    found = suspects_by_metric(conn, [s.metric_id for s in states])
    for state in states:
        tests = found.get(state.metric_id)
        if tests:
            more = f" (+{len(tests) - 1} more)" if len(tests) > 1 else ""
            reason = f"data test failed: {tests[0].line}{more}"
            since = min((t.since for t in tests if t.since), default=None)
            state.flags.append(Flag(kind="suspect", reason=reason, since=since))


def test_lines(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """Per source, one line per data test that fails or cannot run: "fail webbank.entry unique(payment_id):
    1,204 failing rows since 01:12 UTC (5.8 h ago)" (what `sources_status` and the REST sources list carry)."""
    exists = conn.execute("SELECT to_regclass('heartbeat.source_test') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        "SELECT source, table_name, test, columns, status, failing_rows, message, first_failing_at"
        " FROM heartbeat.source_test WHERE status <> 'pass' ORDER BY source, table_name, test_key"
    ).fetchall()
    out: dict[str, list[str]] = {}
    now, tz = clock.now(), get_settings().tz
    for source, table, test, columns, status, failing, message, since in rows:
        if status == "fail":
            line = FailingTest(source, table, test, tuple(columns), failing, since, message).line
            when = f" since {format_moment(since, now, tz)}" if since else ""
            out.setdefault(source, []).append(f"fail {line}{when}")
        else:
            out.setdefault(source, []).append(f"error {source}.{table} {test}: {message}")
    return out


def test_results(conn: psycopg.Connection[Any], source: str | None = None) -> list[dict[str, Any]]:
    """Every stored data-test verdict (the REST sources list): status, failing rows, redacted samples, first
    failing and last passing moments."""
    exists = conn.execute("SELECT to_regclass('heartbeat.source_test') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT source, table_name AS table, test, columns, status, failing_rows, sample, message, checked_at,"
            " first_failing_at, last_passing_at FROM heartbeat.source_test"
            " WHERE %(source)s::text IS NULL OR source = %(source)s"
            " ORDER BY source, table_name, test IN ('rows_per_day', 'rows_per_load'), test_key",
            {"source": source},
        )
        return list(cur.fetchall())
