"""The metric gate: every metric passes `heartbeat metric validate` before it ships.

Each check has a stable name, a status (pass / fail / skip) and evidence an author (or an agent) can
act on. The SQL runs through the compute engine's own point-in-time, read-only, timed machinery
(`heartbeat_core.compute.engine.evaluate`), so what passes here is what compute will run.

Checks, in order:
- `parses`                   the file parses (every problem with file:line);
- `header_complete`          owner, description, how_to_read, period, direction, sources are set;
- `no_todo`                  no TODO marker is left (a scaffold fails until it is finished);
- `lines_consistent`         norm / alert / target agree with the direction;
- `sources_exist`            every source is a marts schema with a `_dlt_loads` table;
- `no_correlated_subqueries` no subquery references a table alias of an outer scope (sqlglot, postgres);
- `point_in_time`            the SQL reads `heartbeat.as_of()` / `window_start()`, never the wall clock;
- `read_only`                the SQL does not write;
- `value_one_numeric_row`    one numeric row now and at three past as-of moments;
- `timing`                   the value SQL runs under the time limit (5 s) on the live data;
- `explain`                  EXPLAIN (ANALYZE, BUFFERS; the estimated plan when too slow): no Seq Scan on a
                             large table, no Nested Loop over a large outer set; names the index that fixes
                             it and the sources.toml line;
- `detail_rows`              the `@detail` SQL runs and returns rows when the value is non-zero;
- `history_matches`          the `@history` section, if any, agrees with `@value` replayed on past days.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
import sqlglot
from psycopg import sql
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from heartbeat_core import clock
from heartbeat_core.compute.engine import MetricSQLError, _begin_point_in_time, evaluate
from heartbeat_core.metrics.definition import (
    DefinitionError,
    MetricDefinition,
    TypicalOptions,
    check_lines,
    parse_metric_text,
)
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.settings import get_settings

Status = Literal["pass", "fail", "skip"]

CHECKS = (
    "parses",
    "header_complete",
    "no_todo",
    "lines_consistent",
    "sources_exist",
    "no_correlated_subqueries",
    "point_in_time",
    "read_only",
    "value_one_numeric_row",
    "timing",
    "explain",
    "detail_rows",
    "history_matches",
)

DEFAULT_TIME_LIMIT_S = 5.0
DEFAULT_LARGE_TABLE_BYTES = 200 * 1024 * 1024
DEFAULT_NESTED_LOOP_OUTER_ROWS = 100_000
PAST_MOMENTS_DAYS = (1, 7, 30)

_TODO = re.compile(r"\bTODO\b")
_LINES_PROBLEM = re.compile(r"^(norm|target) .* for (higher|lower)_is_better")
_WALL_CLOCK_FUNCS = {
    "now",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "localtimestamp",
    "localtime",
}
_POINT_IN_TIME_FUNCS = {"as_of", "window_start", "history_from"}
_WALL_CLOCK_NODES: tuple[type, ...] = tuple(
    getattr(exp, name)
    for name in ("CurrentTimestamp", "CurrentDate", "CurrentTime", "Localtimestamp", "Localtime")
    if hasattr(exp, name)
)


@dataclass
class Check:
    name: str
    status: Status
    evidence: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "evidence": self.evidence}
        if self.fix:
            out["fix"] = self.fix
        if self.data:
            out["data"] = self.data
        return out


@dataclass
class ValidationReport:
    metric_id: str
    path: str
    checks: list[Check] = field(default_factory=list)
    value: float | None = None
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return all(c.status == "pass" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "metric_id": self.metric_id,
            "path": self.path,
            "ok": self.ok,
            "failed": [c.name for c in self.failed],
            "value": self.value,
            "seconds": self.seconds,
            "checks": [c.as_json() for c in self.checks],
        }


@dataclass(frozen=True)
class Limits:
    """Thresholds of the gate; tests make them small."""

    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    large_table_bytes: int = DEFAULT_LARGE_TABLE_BYTES
    nested_loop_outer_rows: int = DEFAULT_NESTED_LOOP_OUTER_ROWS


# --------------------------------------------------------------------------------------------- helpers


def to_registry_metric(definition: MetricDefinition) -> RegistryMetric:
    """The compiled form compute runs, built from a parsed (not yet synced) file."""

    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return RegistryMetric(
        metric_id=definition.metric_id,
        name=definition.name,
        period=definition.period,
        unit=definition.unit,
        direction=definition.direction,
        sources=definition.sources,
        value_sql=definition.value_sql,
        detail_sql=definition.detail_sql,
        history_sql=definition.history_sql,
        norm_value=num(definition.norm),
        alert_value=num(definition.alert),
        target_value=num(definition.target),
        typical_method=definition.typical,
        typical_options=definition.typical_options or TypicalOptions(),
        benchmark_mean=None,
        benchmark_stddev=None,
        benchmark_points=None,
        file_path=definition.path,
    )


def resolve_target(target: str, metric_defs: Path) -> Path:
    """A metric id (its file in metric_defs) or a path to a file; FileNotFoundError names the closest ids."""
    looks_like_path = target.endswith(".sql") or "/" in target or Path(target).exists()
    path = Path(target) if looks_like_path else metric_defs / f"{target}.sql"
    if path.is_file():
        return path
    import difflib

    known = sorted(p.stem for p in metric_defs.glob("*.sql")) if metric_defs.is_dir() else []
    close = difflib.get_close_matches(path.stem, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise FileNotFoundError(f"no metric file {path}{hint}")


def _parse(text: str, metric_id: str, shown: str) -> tuple[MetricDefinition | None, list[str], list[str]]:
    """Parse; returns (definition, other problems, line-consistency problems).

    When the only problems are lines that disagree with the direction, the file is parsed again without
    those lines, so every other check still runs and the author sees everything in one pass.
    """
    try:
        return parse_metric_text(text, metric_id, shown), [], []
    except DefinitionError as exc:
        line_problems = [p for p in exc.problems if _LINES_PROBLEM.match(p.message)]
        others = [str(p) for p in exc.problems if not _LINES_PROBLEM.match(p.message)]
        lines_msgs = [str(p) for p in line_problems]
        if others or not line_problems:
            return None, others, lines_msgs
        stripped = "\n".join(
            "--" if re.match(r"^--\s?(norm|alert|target)\s*:", line.strip()) else line
            for line in text.splitlines()
        )
        try:
            return parse_metric_text(stripped, metric_id, shown), [], lines_msgs
        except DefinitionError as again:
            return None, [str(p) for p in again.problems], lines_msgs


def _sections(definition: MetricDefinition) -> Iterator[tuple[str, str]]:
    for name, text in (
        ("value", definition.value_sql),
        ("detail", definition.detail_sql),
        ("history", definition.history_sql),
    ):
        if text:
            yield name, text


# --------------------------------------------------------------------------------------------- static


def _outer_aliases(scope: Scope) -> set[str]:
    aliases: set[str] = set()
    parent = scope.parent
    while parent is not None:
        aliases.update(parent.sources)
        parent = parent.parent
    return aliases


def correlated_subqueries(query: str) -> list[str]:
    """Subqueries that reference a table alias of an outer scope, as `subquery → alias.column`.

    Raises sqlglot.errors.ParseError when the SQL does not parse in the postgres dialect.
    """
    found: list[str] = []
    seen: set[str] = set()
    for statement in sqlglot.parse(query, dialect="postgres"):
        if statement is None:
            continue
        for scope in traverse_scope(statement):
            if scope.parent is None:
                continue
            own = set(scope.sources)
            outer = _outer_aliases(scope)
            refs = sorted(
                {
                    c.sql(dialect="postgres")
                    for c in scope.columns
                    if c.table and c.table not in own and c.table in outer
                }
            )
            if not refs:
                continue
            text = scope.expression.sql(dialect="postgres")
            if text in seen:
                continue
            seen.add(text)
            short = text if len(text) <= 120 else text[:117] + "..."
            found.append(f"({short}) references {', '.join(refs)} of an outer query")
    return found


def _function_names(query: str) -> tuple[set[str], set[str]]:
    """(point-in-time functions used, wall-clock functions used)."""
    used: set[str] = set()
    wall: set[str] = set()
    for statement in sqlglot.parse(query, dialect="postgres"):
        if statement is None:
            continue
        for node in statement.walk():
            if isinstance(node, _WALL_CLOCK_NODES):
                wall.add(
                    "now() / current_timestamp"
                    if isinstance(node, exp.CurrentTimestamp)
                    else node.sql(dialect="postgres").lower().rstrip("()")
                )
            elif isinstance(node, exp.Anonymous):
                name = str(node.name).lower()
                if name in _WALL_CLOCK_FUNCS:
                    wall.add(f"{name}()")
                if name in _POINT_IN_TIME_FUNCS:
                    used.add(f"heartbeat.{name}()")
            elif isinstance(node, exp.Column | exp.Var) and str(node.name).lower() in (
                "localtimestamp",
                "current_timestamp",
                "current_date",
            ):
                wall.add(str(node.name).lower())
    return used, wall


# --------------------------------------------------------------------------------------------- explain


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []) or []:
        yield from _plan_nodes(child)


def _table_columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows]


def existing_indexes(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, list[str]]:
    """Index name → its key columns, in order, for one table."""
    qualified = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    rows = conn.execute(
        "SELECT i.relname, array_agg(a.attname::text ORDER BY k.ord) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
        " WHERE x.indrelid = to_regclass(%s) GROUP BY i.relname ORDER BY i.relname",
        (qualified,),
    ).fetchall()
    return {r[0]: list(r[1]) for r in rows}


def _covering_index(indexes: dict[str, list[str]], columns: list[str]) -> str | None:
    """An existing index that leads with the first suggested column (it would serve the filter)."""
    for name, keys in indexes.items():
        if columns and keys and keys[0] == columns[0]:
            return f"{name} ({', '.join(keys)})"
    return None


def _relation_size(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    qualified = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    row = conn.execute("SELECT pg_total_relation_size(to_regclass(%s))", (qualified,)).fetchone()
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


def analyze_plan(
    conn: psycopg.Connection[Any], plan: dict[str, Any], limits: Limits, sources_path: Path | None
) -> tuple[list[PlanFinding], list[str]]:
    """(problems, notes) of one EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) plan."""
    findings: list[PlanFinding] = []
    notes: list[str] = []
    sizes: dict[tuple[str, str], int] = {}

    def size(schema: str, table: str) -> int:
        if (schema, table) not in sizes:
            sizes[schema, table] = _relation_size(conn, schema, table)
        return sizes[schema, table]

    for node in _plan_nodes(plan):
        node_type = node.get("Node Type")
        loops = int(node.get("Actual Loops", 1) or 1)
        if node.get("Parent Relationship") == "SubPlan" and loops > limits.nested_loop_outer_rows:
            findings.append(
                PlanFinding(
                    "SubPlan",
                    str(node.get("Subplan Name") or "subquery"),
                    f"runs {loops} times, once per outer row: a correlated subquery; rewrite as a JOIN "
                    "(or a CTE grouped by the key) + conditional aggregation",
                    [],
                    None,
                )
            )
        if node_type == "Seq Scan" and node.get("Relation Name"):
            schema, table = node.get("Schema") or "public", node["Relation Name"]
            nbytes = size(schema, table)
            label = f"{schema}.{table}"
            if nbytes <= limits.large_table_bytes:
                notes.append(f"Seq Scan on {label} ({nbytes / 1048576:.1f} MB, under the large-table limit)")
                continue
            condition = node.get("Filter") or ""
            columns = _index_columns_from(condition, _table_columns(conn, schema, table), node.get("Alias"))
            detail = (
                f"{nbytes / 1048576:.1f} MB > {limits.large_table_bytes / 1048576:g} MB, "
                f"{int(_rows(node))} row(s) kept × {int(node.get('Actual Loops', 1))} loop(s)"
                + (f", filter {_short(condition)}" if condition else ", no filter: the whole table is read")
            )
            covering = _covering_index(existing_indexes(conn, schema, table), columns)
            if covering:
                detail += (
                    f"; index {covering} exists but the planner reads the whole table: the filter is not"
                    " selective, narrow it or aggregate from a smaller table"
                )
                columns = []
            findings.append(
                PlanFinding(
                    "Seq Scan",
                    label,
                    detail,
                    columns,
                    sources_toml_line(schema, table, columns, sources_path) if columns else None,
                )
            )
        elif node_type == "Nested Loop":
            children = node.get("Plans", []) or []
            if len(children) < 2:
                continue
            outer, inner = children[0], children[1]
            outer_rows = int(_rows(outer) * float(outer.get("Actual Loops", 1)))
            if outer_rows <= limits.nested_loop_outer_rows:
                continue
            scan = next((n for n in _plan_nodes(inner) if n.get("Relation Name")), None)
            if scan is None:
                findings.append(
                    PlanFinding(
                        "Nested Loop",
                        "(subplan)",
                        f"outer set of {outer_rows} rows > {limits.nested_loop_outer_rows}; "
                        "restructure as a hash join (join on equality, aggregate first)",
                        [],
                        None,
                    )
                )
                continue
            schema, table = scan.get("Schema") or "public", scan["Relation Name"]
            condition = " AND ".join(
                c for c in (node.get("Join Filter"), scan.get("Index Cond"), scan.get("Filter")) if c
            )
            join_columns: list[str] = []
            if scan.get("Node Type") not in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
                join_columns = _index_columns_from(
                    condition, _table_columns(conn, schema, table), scan.get("Alias")
                )
            detail = (
                f"outer set of {outer_rows} rows > {limits.nested_loop_outer_rows}, inner {scan.get('Node Type')}"
                + (f" on condition {_short(condition)}" if condition else "")
                + (
                    ""
                    if join_columns
                    else "; restructure the query so the planner can hash join (equality join, aggregate first)"
                )
            )
            findings.append(
                PlanFinding(
                    "Nested Loop",
                    f"{schema}.{table}",
                    detail,
                    join_columns,
                    sources_toml_line(schema, table, join_columns, sources_path) if join_columns else None,
                )
            )
    return findings, notes


def explain_value(
    conn: psycopg.Connection[Any], metric: RegistryMetric, as_of: datetime, *, analyze: bool = True
) -> tuple[dict[str, Any], float]:
    """EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) of the value SQL, read-only, with the as-of settings."""
    with conn.transaction():
        _begin_point_in_time(conn, metric, as_of)
        row = conn.execute(
            (
                b"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) "
                if analyze
                else b"EXPLAIN (VERBOSE, FORMAT JSON) "
            )
            + metric.value_sql.encode()
        ).fetchone()
    assert row is not None
    document = row[0]
    if isinstance(document, str):
        import json

        document = json.loads(document)
    top = document[0]
    return top["Plan"], float(top.get("Execution Time", 0.0))


# --------------------------------------------------------------------------------------------- @history

HISTORY_DAYS_CHECKED = (1, 2, 7)


def _history_check(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    definition: MetricDefinition,
    now: datetime,
    value_failed: bool,
) -> Check:
    """@history (a faster backfill) must give the same numbers as @value replayed on those days."""
    if not definition.history_sql:
        return Check("history_matches", "pass", "no @history section")
    if value_failed:
        return Check("history_matches", "skip", "the value SQL did not run")
    tz = get_settings().tz
    today = clock.business_day(now, tz)
    first = today - timedelta(days=max(HISTORY_DAYS_CHECKED))
    try:
        with conn.transaction():
            _begin_point_in_time(conn, metric, now)
            conn.execute("SELECT set_config('heartbeat.history_from', %s, true)", (first.isoformat(),))
            with conn.cursor() as cur:
                cur.execute(definition.history_sql.encode())
                if cur.description is None or len(cur.description) != 2:
                    return Check(
                        "history_matches", "fail", "@history must return two columns: (as_of_date, value)"
                    )
                rows = cur.fetchall()
    except psycopg.Error as exc:
        return Check("history_matches", "fail", f"@history: {str(exc).strip().splitlines()[0]}")
    by_day: dict[Any, Any] = {}
    for day_value, value in rows:
        day = day_value.date() if isinstance(day_value, datetime) else day_value
        by_day[day] = value
    mismatches: list[str] = []
    compared: list[str] = []
    for days in HISTORY_DAYS_CHECKED:
        day = today - timedelta(days=days)
        if day not in by_day:
            mismatches.append(f"{day}: no @history row")
            continue
        try:
            replay = evaluate(conn, metric, clock.end_of_business_day(day, tz), with_detail=False).value
        except MetricSQLError as exc:
            mismatches.append(f"{day}: @value failed ({exc})")
            continue
        got = None if by_day[day] is None else float(by_day[day])
        same = (got is None and replay is None) or (
            got is not None and replay is not None and abs(got - replay) <= 1e-6 * max(1.0, abs(replay))
        )
        compared.append(f"{day}: {got} = {replay}" if same else f"{day}: @history {got} ≠ @value {replay}")
        if not same:
            mismatches.append(compared[-1])
    if mismatches:
        return Check(
            "history_matches",
            "fail",
            "; ".join(mismatches),
            fix="@history must compute, per day, exactly what @value computes at that day's end",
        )
    return Check("history_matches", "pass", f"{len(rows)} @history row(s); " + "; ".join(compared))


# --------------------------------------------------------------------------------------------- the gate


def validate_file(
    path: Path,
    conn: psycopg.Connection[Any],
    *,
    limits: Limits | None = None,
    now: datetime | None = None,
) -> ValidationReport:
    """Run every check on one metric file against the marts database behind `conn`."""
    limits = limits or Limits()
    settings = get_settings()
    if not conn.autocommit:  # every SQL step opens its own (read-only) transaction
        conn.commit()
        conn.autocommit = True
    text = path.read_text(encoding="utf-8")
    metric_id = path.stem
    report = ValidationReport(metric_id, str(path))
    add = report.checks.append

    definition, problems, line_problems = _parse(text, metric_id, str(path))
    if definition is None:
        add(Check("parses", "fail", "; ".join(problems) or "does not parse", data={"problems": problems}))
    else:
        add(
            Check(
                "parses",
                "pass",
                f"period {definition.period}, unit {definition.unit}, direction {definition.direction}, "
                f"sources {', '.join(definition.sources)}; sections "
                + ", ".join(f"@{name}" for name, _ in _sections(definition)),
            )
        )

    # header_complete
    if definition is None:
        add(Check("header_complete", "skip", "the file does not parse"))
    else:
        missing = [
            key
            for key, value in (
                ("owner", definition.owner),
                ("description", definition.description),
                ("how_to_read", definition.how_to_read),
                ("period", definition.period),
                ("direction", definition.direction),
                ("sources", ",".join(definition.sources)),
            )
            if not value or _TODO.search(value)
        ]
        if missing:
            add(
                Check(
                    "header_complete",
                    "fail",
                    f"missing or TODO: {', '.join(missing)}",
                    fix="set " + ", ".join(f"`-- {k}: ...`" for k in missing) + " in the header",
                )
            )
        else:
            add(
                Check("header_complete", "pass", f"owner {definition.owner}; description and how_to_read set")
            )

    todo_lines = [str(n) for n, line in enumerate(text.splitlines(), 1) if _TODO.search(line)]
    if todo_lines:
        add(
            Check(
                "no_todo",
                "fail",
                f"{len(todo_lines)} TODO marker(s) left on line(s) {', '.join(todo_lines)} of {path.name}",
                fix="resolve every TODO, then validate again",
            )
        )
    else:
        add(Check("no_todo", "pass", "no TODO markers"))

    if line_problems:
        add(Check("lines_consistent", "fail", "; ".join(line_problems)))
    elif definition is None:
        add(Check("lines_consistent", "skip", "the file does not parse"))
    else:
        lines = [
            f"{name} {value}"
            for name, value in (
                ("norm", definition.norm),
                ("alert", definition.alert),
                ("target", definition.target),
            )
            if value is not None
        ]
        extra = check_lines(definition.direction, definition.norm, definition.alert, definition.target)
        if extra:
            add(Check("lines_consistent", "fail", "; ".join(extra)))
        else:
            add(
                Check(
                    "lines_consistent",
                    "pass",
                    (", ".join(lines) + f" agree with {definition.direction}") if lines else "no lines set",
                )
            )

    if definition is None:
        for name in CHECKS[4:]:
            add(Check(name, "skip", "the file does not parse"))
        return report

    # sources_exist
    absent: list[str] = []
    present: list[str] = []
    for source in definition.sources:
        row = conn.execute(
            "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
            (source, f'"{source}"._dlt_loads'),
        ).fetchone()
        has_schema, has_loads = (bool(row[0]), bool(row[1])) if row else (False, False)
        if not has_schema:
            absent.append(f"{source}: no such schema in marts")
        elif not has_loads:
            absent.append(f"{source}: schema without a _dlt_loads table (never landed by ingest)")
        else:
            present.append(source)
    conn.commit()
    if absent:
        add(Check("sources_exist", "fail", "; ".join(absent), fix="name the dlt datasets the SQL reads"))
    else:
        add(Check("sources_exist", "pass", f"{', '.join(present)}: landed schemas with _dlt_loads"))

    # no_correlated_subqueries + point_in_time (static, sqlglot)
    correlated: list[str] = []
    unparsable: list[str] = []
    used: set[str] = set()
    wall: set[str] = set()
    for section, query in _sections(definition):
        try:
            correlated += [f"@{section}: {c}" for c in correlated_subqueries(query)]
            section_used, section_wall = _function_names(query)
            if section != "history":
                used |= section_used
            wall |= {f"@{section}: {w}" for w in section_wall}
        except sqlglot.errors.SqlglotError as exc:
            unparsable.append(f"@{section}: sqlglot cannot parse it ({str(exc).splitlines()[0][:160]})")
    if unparsable:
        add(Check("no_correlated_subqueries", "fail", "; ".join(unparsable)))
    elif correlated:
        add(
            Check(
                "no_correlated_subqueries",
                "fail",
                "; ".join(correlated),
                fix="rewrite as a JOIN (or a CTE grouped by the key) + conditional aggregation",
            )
        )
    else:
        add(Check("no_correlated_subqueries", "pass", "no subquery references an outer query"))
    if unparsable:
        add(Check("point_in_time", "skip", "the SQL does not parse with sqlglot"))
    elif wall:
        add(
            Check(
                "point_in_time",
                "fail",
                f"reads the wall clock: {', '.join(sorted(wall))}",
                fix="use heartbeat.as_of() / heartbeat.window_start() so backfill replays past days",
            )
        )
    elif not used:
        add(
            Check(
                "point_in_time",
                "fail",
                "@value never reads heartbeat.as_of() or heartbeat.window_start(): every past day would get today's value",
                fix="bound the rows by heartbeat.as_of() (snapshot) or [window_start(), as_of()) (windows)",
            )
        )
    else:
        add(Check("point_in_time", "pass", f"reads {', '.join(sorted(used))}"))

    # read_only + value_one_numeric_row + timing (the compute engine's evaluate)
    metric = to_registry_metric(definition)
    now = now or clock.now()
    moments = [("now", now)] + [
        (
            f"{days}d ago",
            clock.end_of_business_day(
                clock.business_day(now, settings.tz) - timedelta(days=days), settings.tz
            ),
        )
        for days in PAST_MOMENTS_DAYS
    ]
    values: list[str] = []
    error: str | None = None
    now_ms: int | None = None
    started = time.perf_counter()
    for label, moment in moments:
        try:
            result = evaluate(conn, metric, moment, with_detail=False)
        except MetricSQLError as exc:
            error = f"at {label} ({moment:%Y-%m-%d %H:%M}): {exc}"
            break
        finally:
            conn.rollback()
        values.append(f"{label}: {'NULL' if result.value is None else f'{result.value:g}'}")
        if label == "now":
            now_ms = result.duration_ms
            report.value = result.value
            if now_ms / 1000 >= limits.time_limit_s:
                values.append("past moments not run: the value SQL is over the time limit")
                break
    report.seconds = round(time.perf_counter() - started, 3)
    timed_out = error is not None and "timed out" in error
    wrote = error is not None and "tries to write" in error
    if wrote:
        add(Check("read_only", "fail", error or "", fix="metric SQL only reads: remove INSERT/UPDATE/DELETE"))
    elif error is not None and not timed_out:
        add(Check("read_only", "pass", "no write attempted before the SQL failed"))
    else:
        add(Check("read_only", "pass", "ran in a READ ONLY transaction"))
    if error is None:
        add(Check("value_one_numeric_row", "pass", "; ".join(values)))
    elif wrote or timed_out:
        add(Check("value_one_numeric_row", "skip", "the SQL did not complete"))
    else:
        add(Check("value_one_numeric_row", "fail", error))
    if timed_out:
        add(
            Check(
                "timing",
                "fail",
                error or "",
                fix="look at the explain check: a missing index or a correlated subquery",
            )
        )
    elif now_ms is None:
        add(Check("timing", "skip", "the value SQL did not run at now"))
    elif now_ms / 1000 >= limits.time_limit_s:
        add(
            Check(
                "timing",
                "fail",
                f"@value took {now_ms / 1000:.2f} s ≥ {limits.time_limit_s:g} s on the live data",
                fix="add the index the explain check names, or restructure the query",
                data={"seconds": now_ms / 1000},
            )
        )
    else:
        add(
            Check(
                "timing",
                "pass",
                f"@value took {now_ms / 1000:.3f} s (< {limits.time_limit_s:g} s)",
                data={"seconds": now_ms / 1000},
            )
        )

    # explain: ANALYZE when the query runs in time; the estimated plan when it is too slow to run again
    slow = timed_out or (now_ms is not None and now_ms / 1000 >= limits.time_limit_s)
    if error is not None and not timed_out:
        add(Check("explain", "skip", "the value SQL did not run"))
    else:
        try:
            plan, execution_ms = explain_value(conn, metric, now, analyze=not slow)
            findings, notes = analyze_plan(conn, plan, limits, settings.sources)
            conn.commit()
        except psycopg.Error as exc:
            conn.rollback()
            add(Check("explain", "fail", f"EXPLAIN failed: {str(exc).splitlines()[0]}"))
        else:
            data: dict[str, Any] = {"execution_ms": round(execution_ms, 2), "analyzed": not slow}
            if findings:
                data["findings"] = [
                    {"kind": f.kind, "table": f.table, "detail": f.detail, "index_columns": f.index_columns,
                     "sources_toml": f.toml}
                    for f in findings
                ]  # fmt: skip
                fixes = [f"add to {settings.sources.name}:\n{f.toml}" for f in findings if f.toml]
                add(
                    Check(
                        "explain",
                        "fail",
                        "; ".join(f.describe() for f in findings),
                        fix="\n".join(fixes) if fixes else "restructure the query",
                        data=data,
                    )
                )
            else:
                plan_summary = (
                    f"plan {plan.get('Node Type')}, executed in {execution_ms:.1f} ms"
                    if not slow
                    else f"estimated plan {plan.get('Node Type')} (too slow to run again under ANALYZE)"
                )
                add(Check("explain", "pass", "; ".join([plan_summary, *notes[:3]]), data=data))

    # detail_rows
    if not definition.detail_sql:
        add(Check("detail_rows", "pass", "no @detail section"))
    elif error is not None:
        add(Check("detail_rows", "skip", "the value SQL did not run"))
    else:
        try:
            result = evaluate(conn, metric, now, with_detail=True)
        except MetricSQLError as exc:
            conn.rollback()
            add(Check("detail_rows", "fail", str(exc)))
        else:
            conn.rollback()
            rows = len(result.detail["rows"]) if result.detail else 0
            if result.detail is None:
                add(Check("detail_rows", "fail", "@detail returned no result set"))
            elif rows == 0 and result.value not in (None, 0):
                add(
                    Check(
                        "detail_rows",
                        "fail",
                        f"@detail returned no rows while the value is {result.value:g}",
                        fix="the detail must list the rows behind a non-zero value (same filters as @value)",
                    )
                )
            else:
                more = "+" if result.detail.get("truncated") else ""
                add(
                    Check(
                        "detail_rows",
                        "pass",
                        f"@detail returned {rows}{more} row(s) ({', '.join(result.detail['columns'])})",
                    )
                )

    add(_history_check(conn, metric, definition, now, error is not None))
    return report
