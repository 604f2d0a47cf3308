"""The `explain` check: EXPLAIN the value SQL (ANALYZE, BUFFERS; the estimated plan when it is too slow to
run again) and fail on a Seq Scan of a large table, a Nested Loop over a large outer set or a SubPlan run
once per outer row, naming the index that fixes it and the sources.toml lines that declare it."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlglot
from psycopg import sql
from sqlglot import exp

from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.formatting import counted
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Limits, Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.settings import get_settings

_INDEXED_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Heap Scan")


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []) or []:
        yield from plan_nodes(child)


def _qualified(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)


def _table_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def existing_indexes(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, list[str]]:
    """Index name → its key columns, in order, for one table."""
    rows = conn.execute(
        "SELECT i.relname, array_agg(a.attname::text ORDER BY k.ord) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
        " WHERE x.indrelid = to_regclass(%s) GROUP BY i.relname ORDER BY i.relname",
        (_qualified(conn, schema, table),),
    ).fetchall()
    return {r[0]: list(r[1]) for r in rows}


def _covering_index(indexes: dict[str, list[str]], columns: list[str]) -> str | None:
    """An existing index that leads with the first suggested column (it would serve the filter)."""
    for name, keys in indexes.items():
        if columns and keys and keys[0] == columns[0]:
            return f"{name} ({', '.join(keys)})"
    return None


def _relation_size(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    row = conn.execute(
        "SELECT pg_total_relation_size(to_regclass(%s))", (_qualified(conn, schema, table),)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rows(node: dict[str, Any]) -> float:
    """Rows a plan node produced per loop: actual under ANALYZE, else the planner's estimate."""
    return float(node.get("Actual Rows", node.get("Plan Rows", 0)) or 0)


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _index_columns_from(condition: str, columns: list[str], alias: str | None) -> list[str]:
    """Columns of one table named in a plan condition: equality columns first, then range columns."""
    known = {c.lower(): c for c in columns}
    equal: list[str] = []
    other: list[str] = []

    def add(target: list[str], name: str) -> None:
        col = known.get(name.lower())
        if col and col not in equal and col not in other:
            target.append(col)

    try:
        tree = sqlglot.parse_one(condition, dialect="postgres")
    except sqlglot.errors.SqlglotError:
        tree = None
    if tree is not None:
        for node in tree.walk():
            if isinstance(node, exp.Column) and (not node.table or alias is None or node.table == alias):
                parent = node.parent
                while isinstance(parent, exp.Paren | exp.Cast):
                    parent = parent.parent
                add(equal if isinstance(parent, exp.EQ | exp.In | exp.Is) else other, node.name)
    else:  # fall back to identifiers that are columns of the table
        for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", condition):
            add(other, name)
    # equality columns lead (a B-tree serves `=` then a range); range columns after
    return equal + other


def sources_toml_line(schema: str, table: str, columns: list[str], sources_path: Path | None) -> str:
    """The exact lines to add to sources.toml so ingest creates the index after every load."""
    spec = ", ".join(columns)
    existing: list[str] = []
    section_exists = False
    if sources_path and sources_path.is_file():
        try:
            data = tomllib.loads(sources_path.read_text(encoding="utf-8"))
            tables = data.get("sources", {}).get(schema, {}).get("tables", {})
            section_exists = table in tables
            existing = [str(s) for s in tables.get(table, {}).get("indexes", [])]
        except (tomllib.TOMLDecodeError, OSError, AttributeError):
            existing = []
    items = ", ".join(f'"{s}"' for s in [*existing, spec] if s)
    note = "  # the section exists: replace its indexes line" if section_exists else ""
    return f"[sources.{schema}.tables.{table}]{note}\nindexes = [{items}]"


@dataclass
class PlanFinding:
    kind: str
    table: str
    detail: str
    index_columns: list[str]
    toml: str | None

    def describe(self) -> str:
        text = (
            f"{self.table} {self.detail}"
            if self.kind == "SubPlan"
            else f"{self.kind} on {self.table}: {self.detail}"
        )
        if self.index_columns:
            text += f"; an index on {self.table} ({', '.join(self.index_columns)}) would fix it"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "detail": self.detail,
            "index_columns": self.index_columns,
            "sources_toml": self.toml,
        }


@dataclass
class _PlanReader:
    """Walks one plan: each node kind that can make a metric slow has its own reader below."""

    conn: psycopg.Connection[Any]
    limits: Limits
    sources_path: Path | None
    findings: list[PlanFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)

    def read(self, node: dict[str, Any]) -> None:
        self.subplan(node)
        reader = _NODE_READERS.get(str(node.get("Node Type")))
        if reader is not None:
            reader(self, node)

    def size(self, schema: str, table: str) -> int:
        if (schema, table) not in self.sizes:
            self.sizes[schema, table] = _relation_size(self.conn, schema, table)
        return self.sizes[schema, table]

    def index_columns(self, condition: str, schema: str, table: str, alias: str | None) -> list[str]:
        return _index_columns_from(condition, _table_columns(self.conn, schema, table), alias)

    def finding(self, kind: str, schema: str, table: str, detail: str, columns: list[str]) -> None:
        toml = sources_toml_line(schema, table, columns, self.sources_path) if columns else None
        self.findings.append(PlanFinding(kind, f"{schema}.{table}", detail, columns, toml))

    def subplan(self, node: dict[str, Any]) -> None:
        loops = int(node.get("Actual Loops", 1) or 1)
        if node.get("Parent Relationship") == "SubPlan" and loops > self.limits.nested_loop_outer_rows:
            detail = (
                f"runs {loops} times, once per outer row: a correlated subquery; rewrite as a JOIN "
                "(or a CTE grouped by the key) + conditional aggregation"
            )
            name = str(node.get("Subplan Name") or "subquery")
            self.findings.append(PlanFinding("SubPlan", name, detail, [], None))

    def seq_scan(self, node: dict[str, Any]) -> None:
        if not node.get("Relation Name"):
            return
        schema, table = node.get("Schema") or "public", node["Relation Name"]
        nbytes = self.size(schema, table)
        if nbytes <= self.limits.large_table_bytes:
            self.notes.append(
                f"Seq Scan on {schema}.{table} ({nbytes / 1048576:.1f} MB, under the large-table limit)"
            )
            return
        condition = node.get("Filter") or ""
        columns = self.index_columns(condition, schema, table, node.get("Alias"))
        detail = (
            f"{nbytes / 1048576:.1f} MB > {self.limits.large_table_bytes / 1048576:g} MB, "
            f"{counted(int(_rows(node)), 'row')} kept × {counted(int(node.get('Actual Loops', 1)), 'loop')}"
            + (f", filter {_short(condition)}" if condition else ", no filter: the whole table is read")
        )
        covering = _covering_index(existing_indexes(self.conn, schema, table), columns)
        if covering:
            detail += (
                f"; index {covering} exists but the planner reads the whole table: the filter is not"
                " selective, narrow it or aggregate from a smaller table"
            )
            columns = []
        self.finding("Seq Scan", schema, table, detail, columns)

    def nested_loop(self, node: dict[str, Any]) -> None:
        children = node.get("Plans", []) or []
        if len(children) < 2:
            return
        outer, inner = children[0], children[1]
        outer_rows = int(_rows(outer) * float(outer.get("Actual Loops", 1)))
        limit = self.limits.nested_loop_outer_rows
        if outer_rows <= limit:
            return
        scan = next((n for n in plan_nodes(inner) if n.get("Relation Name")), None)
        if scan is None:
            detail = (
                f"outer set of {outer_rows} rows > {limit}; "
                "restructure as a hash join (join on equality, aggregate first)"
            )
            self.findings.append(PlanFinding("Nested Loop", "(subplan)", detail, [], None))
            return
        schema, table = scan.get("Schema") or "public", scan["Relation Name"]
        condition = " AND ".join(
            c for c in (node.get("Join Filter"), scan.get("Index Cond"), scan.get("Filter")) if c
        )
        columns: list[str] = []
        if scan.get("Node Type") not in _INDEXED_SCANS:
            columns = self.index_columns(condition, schema, table, scan.get("Alias"))
        detail = (
            f"outer set of {outer_rows} rows > {limit}, inner {scan.get('Node Type')}"
            + (f" on condition {_short(condition)}" if condition else "")
            + (
                ""
                if columns
                else "; restructure the query so the planner can hash join (equality join, aggregate first)"
            )
        )
        self.finding("Nested Loop", schema, table, detail, columns)


_NODE_READERS: dict[str, Callable[[_PlanReader, dict[str, Any]], None]] = {
    "Seq Scan": _PlanReader.seq_scan,
    "Nested Loop": _PlanReader.nested_loop,
}


def analyze_plan(
    conn: psycopg.Connection[Any], plan: dict[str, Any], limits: Limits, sources_path: Path | None
) -> tuple[list[PlanFinding], list[str]]:
    """(problems, notes) of one EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) plan."""
    reader = _PlanReader(conn, limits, sources_path)
    for node in plan_nodes(plan):
        reader.read(node)
    return reader.findings, reader.notes


def explain_value(
    conn: psycopg.Connection[Any], metric: RegistryMetric, as_of: datetime, *, analyze: bool = True
) -> tuple[dict[str, Any], float]:
    """EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) of the value SQL, read-only, with the as-of settings."""
    with conn.transaction():
        moments = begin_point_in_time(conn, metric, as_of)
        row = conn.execute(
            (
                b"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) "
                if analyze
                else b"EXPLAIN (VERBOSE, FORMAT JSON) "
            )
            + moments.bind(metric.value_sql).encode()
        ).fetchone()
    assert row is not None
    document = row[0]
    if isinstance(document, str):
        document = json.loads(document)
    top = document[0]
    return top["Plan"], float(top.get("Execution Time", 0.0))


def explain(ctx: GateContext) -> Outcome:
    """ANALYZE when the query runs in time; the estimated plan when it is too slow to run again."""
    if get_settings().warehouse_url:
        return skipped(
            "warehouse mode: the value runs on the engine, whose plans this check does not judge "
            "(EXPLAIN reads Postgres plans; docs/scale-out.md)"
        )
    run = ctx.once(value_run)
    if run.failed:
        return skipped("the value SQL did not run")
    from heartbeat_core.metrics.gate.projection import estimate  # projection imports this module

    try:
        est = ctx.once(estimate) if run.not_run else None  # value_run planned it already: not EXPLAINed twice
        if est is not None and est.plan is not None:
            plan, execution_ms = est.plan, 0.0
        else:
            plan, execution_ms = explain_value(ctx.conn, ctx.metric, ctx.now, analyze=not run.slow)
        findings, notes = analyze_plan(ctx.conn, plan, ctx.limits, ctx.sources_path)
        ctx.conn.commit()
    except psycopg.Error as exc:
        ctx.conn.rollback()
        return failed(f"EXPLAIN failed: {str(exc).splitlines()[0]}")
    data: dict[str, Any] = {"execution_ms": round(execution_ms, 2), "analyzed": not run.slow}
    if findings:
        data["findings"] = [f.as_json() for f in findings]
        fixes = [f"add to {ctx.sources_path.name}:\n{f.toml}" for f in findings if f.toml]
        return failed(
            "; ".join(f.describe() for f in findings),
            fix="\n".join(fixes) if fixes else "restructure the query",
            data=data,
        )
    summary = (
        f"plan {plan.get('Node Type')}, executed in {execution_ms:.1f} ms"
        if not run.slow
        else f"estimated plan {plan.get('Node Type')} ("
        + (
            "not run: too large, see plan_at_scale)"
            if run.not_run
            else "too slow to run again under ANALYZE)"
        )
    )
    return passed("; ".join([summary, *notes[:3]]), data=data)
