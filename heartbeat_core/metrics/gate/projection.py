"""The planner-estimate side of the scale gate (issue 19): judge a metric at a larger size without a copy.

A user rarely has a copy of their marts fifty times larger, and one with billion-row marts does not want the
gate to run a metric for minutes to learn it is slow. Both can ask Postgres for the plan of the value SQL as
compute binds it (EXPLAIN, no ANALYZE: planning only) and read from the planner's row estimates what the
plan does when the data grows by a factor: every scan's input grows with the data (a bigger bank has more
clients and more payments a day), a per-key lookup inside a nested loop does not, an aggregate to one row
does not. What grows faster than the rows read is flagged:

- a sort, hash or hash aggregate whose projected size passes the metric transaction's `work_mem` (spills to
  temp files: several passes over the data instead of one);
- a `count(DISTINCT …)`, which sorts its whole input inside the aggregate, past `work_mem` likewise;
- a nested loop whose both sides grow (the work is outer × inner: the square of the data);
- a sequential scan over a whole large table to keep a time window of it (the scan grows with the history the
  table holds, the window does not);
- the projected time over the time limit: the plan's cost × the factor (× the factor again under a quadratic
  loop), in seconds by the ratio of seconds to cost units measured on the data at hand.

The same reading at factor 1 is how the gate judges marts that are already large (`run_rows`: above that many
estimated rows read the gate does not run the value at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core.compute.binding import METRIC_WORK_MEM
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.plan import (
    _covering_index,
    _index_columns_from,
    _qualified,
    _table_columns,
    existing_indexes,
    explain_value,
    plan_nodes,
    sources_toml_line,
)
from heartbeat_core.metrics.gate.report import Limits, Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.scale import measure
from heartbeat_core.metrics.gate.value import value_run
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.settings import get_settings

_SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan", "Sample Scan"}
# Bytes a row takes in memory beyond its data width (PostgreSQL's tuple header and sort slot, or hash entry).
# Measured, not derived: a HashAggregate of 584 k groups of width 60 used 53 MB at demo scale 50 (≈ 91 bytes a
# group); a count(DISTINCT) sorts one datum a row (its SortTuple, ≈ 32 bytes), whatever the input width.
_SORT_ROW_OVERHEAD = 40
_HASH_ROW_OVERHEAD = 40
_DATUM_SORT_ROW = 32
# A nested loop comparing more pairs than this is the shape that turns minutes when both sides grow.
QUADRATIC_PAIRS = 10_000_000
# Milliseconds per planner cost unit when the run at hand is too short to calibrate on, or is not run. On the
# demo world at scale 50 (2-core bench VM, bench/bench_scale_gate.py, RESULTS.md "Compute at scale") the ratio
# spans 0.5 ms per 1,000 units (index range scans of a day, priced as random reads of cached pages) to 23 (a
# month hashed per client): 5 sits between them, so a time from it is an order of magnitude, not a figure.
DEFAULT_MS_PER_COST = 0.005
CALIBRATION_FLOOR_MS = 5.0
_WINDOW_CONSTANT = re.compile(r"'[^']+'::timestamp with time zone")


@dataclass(frozen=True)
class ScaleFinding:
    kind: str  # spill | quadratic | whole_table | time
    detail: str
    fix: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail, "fix": self.fix}


@dataclass
class Projection:
    """What the plan becomes at `factor` × the data: rows its scans read, cost, and what grows too fast."""

    factor: float
    rows_read: float = 0.0
    cost_here: float = 0.0
    cost: float = 0.0
    findings: list[ScaleFinding] = field(default_factory=list)

    def seconds(self, ms_per_cost: float) -> float:
        return self.cost * ms_per_cost / 1000


@dataclass(frozen=True)
class Memory:
    """The metric transaction's memory for one sort (work_mem) and one hash (× hash_mem_multiplier)."""

    sort_bytes: int
    hash_bytes: int


def _bytes(setting: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kMGT]?B)?\s*", setting)
    if not match:
        raise ValueError(f"not a memory size: {setting!r}")
    scale = {"": 1024, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "B": 1}[match.group(2) or ""]
    return int(match.group(1)) * scale


def memory(conn: psycopg.Connection[Any]) -> Memory:
    row = conn.execute("SELECT current_setting('hash_mem_multiplier')::float8").fetchone()
    sort = _bytes(METRIC_WORK_MEM)
    return Memory(sort, int(sort * float(row[0] if row else 2.0)))


def estimated_plan(conn: psycopg.Connection[Any], metric: RegistryMetric, as_of: datetime) -> dict[str, Any]:
    """EXPLAIN (VERBOSE, FORMAT JSON) of the value SQL as compute binds it: planning only, nothing runs."""
    return explain_value(conn, metric, as_of, analyze=False)[0]


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1048576:,.0f} MB"


def _rows(n: float) -> str:
    return f"{n / 1e6:,.1f} M" if n >= 1e6 else f"{n:,.0f}"


@dataclass
class _Walker:
    """One pass over the plan, bottom-up for growth, top-down for loops (how often a subtree runs)."""

    conn: psycopg.Connection[Any]
    limits: Limits
    factor: float
    mem: Memory
    sources_path: Path | None
    projection: Projection
    tables: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def table(self, node: dict[str, Any]) -> tuple[float, int]:
        """(estimated rows, bytes) of the table a scan reads."""
        key = (node.get("Schema") or "public", str(node.get("Relation Name")))
        if key not in self.tables:
            row = self.conn.execute(
                "SELECT greatest(c.reltuples, 0), pg_total_relation_size(c.oid) FROM pg_class c"
                " WHERE c.oid = to_regclass(%s)",
                (_qualified(self.conn, *key),),
            ).fetchone()
            self.tables[key] = (float(row[0]), int(row[1])) if row else (0.0, 0)
        return self.tables[key]

    def walk(self, node: dict[str, Any], loops: float, lookup: bool = False) -> bool:
        """Judge one node run `loops` times (projected); True when its output grows with the data."""
        kind = str(node.get("Node Type"))
        children = node.get("Plans", []) or []
        if kind == "Nested Loop" and len(children) >= 2:
            return self.nested_loop(node, children, loops)
        grows_below = False
        for child in children:
            child_loops = loops
            if child.get("Parent Relationship") == "SubPlan":
                child_loops = loops * max(float(node.get("Plan Rows", 1)), 1.0) * self.factor
            grows_below = self.walk(child, child_loops) or grows_below
        if kind in _SCANS:
            return self.scan(node, loops, lookup)
        self.memory_use(node, children, loops, grows_below)
        # a limit or a plain aggregate (to one row) does not grow, whatever it reads
        return grows_below and not (
            kind == "Limit" or (kind == "Aggregate" and node.get("Strategy") == "Plain")
        )

    def scan(self, node: dict[str, Any], loops: float, lookup: bool) -> bool:
        rows, nbytes = self.table(node) if node.get("Relation Name") else (0.0, 0)
        grows = not lookup
        g = self.factor if grows else 1.0
        read_here = rows if node.get("Node Type") == "Seq Scan" else float(node.get("Plan Rows", 0))
        self.projection.rows_read += read_here * g * loops
        if node.get("Node Type") == "Seq Scan":
            self.whole_table(node, rows, nbytes)
        return grows

    def whole_table(self, node: dict[str, Any], rows: float, nbytes: int) -> None:
        condition = str(node.get("Filter") or "")
        kept = float(node.get("Plan Rows", 0))
        if not _WINDOW_CONSTANT.search(condition) or rows <= 0 or kept > rows / 2:
            return
        if nbytes * self.factor <= self.limits.large_table_bytes:
            return
        schema, table = node.get("Schema") or "public", str(node["Relation Name"])
        columns = _index_columns_from(condition, _table_columns(self.conn, schema, table), node.get("Alias"))
        covering = _covering_index(existing_indexes(self.conn, schema, table), columns)
        if covering or not columns:
            fix = (
                f"the index {covering} exists but the planner reads the whole table: read a rollup of"
                " the days (rollups/) instead of raw rows"
                if covering
                else "read a rollup of the days (rollups/) instead of raw rows"
            )
        else:
            fix = "add to sources.toml:\n" + sources_toml_line(schema, table, columns, self.sources_path)
        self.projection.findings.append(
            ScaleFinding(
                "whole_table",
                f"Seq Scan on {schema}.{table} reads all {_rows(rows * self.factor)} rows"
                f" ({_mb(nbytes * self.factor)}) to keep a time window of ~{_rows(kept * self.factor)}:"
                " the scan grows with the history the table holds, not with the window",
                fix,
            )
        )

    def nested_loop(self, node: dict[str, Any], children: list[dict[str, Any]], loops: float) -> bool:
        outer, inner = children[0], children[1]
        outer_grows = self.walk(outer, loops)
        outer_rows = float(outer.get("Plan Rows", 0)) * (self.factor if outer_grows else 1.0)
        lookup = _is_key_lookup(inner)
        inner_grows = self.walk(inner, loops * max(outer_rows, 1.0), lookup=lookup)
        for extra in children[2:]:
            self.walk(extra, loops)
        inner_rows = float(inner.get("Plan Rows", 0)) * (self.factor if inner_grows else 1.0)
        pairs = outer_rows * max(inner_rows, 1.0) * loops
        if outer_grows and inner_grows and pairs > QUADRATIC_PAIRS:
            self.projection.cost += float(node.get("Total Cost", 0.0)) * (self.factor**2 - self.factor)
            self.projection.findings.append(
                ScaleFinding(
                    "quadratic",
                    f"Nested Loop: {_rows(outer_rows)} outer rows × {_rows(inner_rows)} inner rows a loop ="
                    f" {_rows(pairs)} pairs — both sides grow, so the work grows with the square of the data"
                    + (
                        f" (join filter {str(node.get('Join Filter'))[:120]})"
                        if node.get("Join Filter")
                        else ""
                    ),
                    "join on an equality key the planner can hash (aggregate each side first), or bound the"
                    " inner side by a key lookup",
                )
            )
        return outer_grows or inner_grows

    def memory_use(
        self, node: dict[str, Any], children: list[dict[str, Any]], loops: float, grows: bool
    ) -> None:
        kind = str(node.get("Node Type"))
        g = self.factor if grows else 1.0
        rows = float(node.get("Plan Rows", 0)) * g
        width = float(node.get("Plan Width", 0))
        if kind == "Sort":
            self.spill("Sort", rows * (width + _SORT_ROW_OVERHEAD), self.mem.sort_bytes, rows)
        elif kind == "Hash":
            self.spill("Hash", rows * (width + _HASH_ROW_OVERHEAD), self.mem.hash_bytes, rows)
        elif kind == "Aggregate" and node.get("Strategy") in {"Hashed", "Mixed"}:
            self.spill("HashAggregate", rows * (width + _HASH_ROW_OVERHEAD), self.mem.hash_bytes, rows)
        output = " ".join(str(o) for o in node.get("Output", []) or [])
        if kind == "Aggregate" and "DISTINCT" in output.upper() and children:
            child = children[0]
            in_rows = float(child.get("Plan Rows", 0)) * g
            self.spill("count(DISTINCT) sort", in_rows * _DATUM_SORT_ROW, self.mem.sort_bytes, in_rows)

    def spill(self, what: str, need: float, has: int, rows: float) -> None:
        if need <= has:
            return
        budget = "work_mem" if has == self.mem.sort_bytes else "work_mem × hash_mem_multiplier"
        self.projection.findings.append(
            ScaleFinding(
                "spill",
                f"{what} of {_rows(rows)} rows ≈ {_mb(need)} > {budget} {_mb(has)}: spills to temp files",
                "aggregate fewer, narrower rows (a rollup of the days, pre-aggregate per key before the"
                " join or distinct)",
            )
        )


def _is_key_lookup(inner: dict[str, Any]) -> bool:
    """An inner side that reads a fixed number of rows per outer row: an index scan on equality only."""
    if inner.get("Node Type") not in {"Index Scan", "Index Only Scan"}:
        return False
    condition = str(inner.get("Index Cond") or "")
    return " = " in condition and not re.search(r"[<>]", condition)


def project(
    conn: psycopg.Connection[Any],
    plan: dict[str, Any],
    factor: float,
    limits: Limits,
    sources_path: Path | None,
    mem: Memory | None = None,
) -> Projection:
    """Read one estimated plan at `factor` × the data."""
    projection = Projection(factor=factor, cost_here=float(plan.get("Total Cost", 0.0)))
    projection.cost = projection.cost_here * factor
    walker = _Walker(conn, limits, factor, mem or memory(conn), sources_path, projection)
    walker.walk(plan, 1.0)
    return projection


def calibrate(here_ms: float | None, cost_here: float) -> tuple[float, str]:
    """Milliseconds per cost unit, from the run at hand when it is long enough to time (else the default)."""
    if here_ms is None or here_ms < CALIBRATION_FLOOR_MS or cost_here <= 0:
        why = "not run here" if here_ms is None else f"the run here took {here_ms:.1f} ms, too short to time"
        return DEFAULT_MS_PER_COST, f"{DEFAULT_MS_PER_COST * 1000:.1f} ms per 1,000 cost units ({why})"
    ratio = here_ms / cost_here
    return ratio, f"{ratio * 1000:.2f} ms per 1,000 cost units, measured here"


@dataclass(frozen=True)
class Estimate:
    """The value SQL's estimated plan on the data at hand and the rows its scans would read (no run)."""

    plan: dict[str, Any] | None
    rows_read: float = 0.0
    error: str | None = None

    @property
    def writes(self) -> bool:
        return self.plan is not None and any(
            n.get("Node Type") == "ModifyTable" for n in plan_nodes(self.plan)
        )


def estimate(ctx: GateContext) -> Estimate:
    """A fact of the gate: planning only, so it is safe on marts of any size."""
    try:
        plan = estimated_plan(ctx.conn, ctx.metric, ctx.now)
        rows = project(ctx.conn, plan, 1.0, ctx.limits, ctx.sources_path).rows_read
    except psycopg.Error as exc:
        return Estimate(None, error=str(exc).strip().splitlines()[0])
    return Estimate(plan, rows)


def plan_at_scale(ctx: GateContext) -> Outcome:
    """Judge the estimated plan at `--scale-factor` × the data (the data at hand without one)."""
    if get_settings().warehouse_url:
        return skipped("warehouse mode: the value runs on the engine, whose plans this check does not read")
    run = ctx.once(value_run)
    if run.failed:
        return skipped("the value SQL did not run")
    factor = ctx.limits.scale_factor or 1.0
    if factor == 1.0 and not run.not_run:  # the run at hand and its plan: the timing and explain checks judge
        return passed("not projected: no --scale-factor given (the value ran; timing and explain judge it)")
    est = ctx.once(estimate)
    if est.plan is None:
        return failed(f"EXPLAIN failed: {est.error}")
    proj = project(ctx.conn, est.plan, factor, ctx.limits, ctx.sources_path)
    findings = list(proj.findings)
    here_ms = None
    if not run.not_run:  # time the plan itself (EXPLAIN ANALYZE), not the transaction around it
        here_ms = (
            float(run.now_ms or 0)
            if run.slow
            else min(measure(ctx.conn, ctx.metric, ctx.now).ms for _ in range(2))  # warm, the faster
        )
    ms_per_cost, how = calibrate(here_ms, proj.cost_here)
    seconds = proj.seconds(ms_per_cost)
    timing = f"projected {seconds:.2f} s at {how}"
    if seconds >= ctx.limits.time_limit_s:
        findings.append(
            ScaleFinding(
                "time",
                f"projected {seconds:.1f} s ≥ the {ctx.limits.time_limit_s:g} s time limit",
                "read a rollup (rollups/) or add the index the explain check names",
            )
        )
    where = f"at ×{factor:g} the data" if factor != 1.0 else "on the data at hand"
    evidence = f"{where} its scans read ~{_rows(proj.rows_read)} rows (planner estimate), {timing}"
    data: dict[str, Any] = {
        "factor": factor,
        "rows_read": round(proj.rows_read),
        "projected_s": round(seconds, 3),
        "findings": [f.as_json() for f in findings],
    }
    if findings:
        fixes = list(dict.fromkeys(f.fix for f in findings))
        return failed(
            evidence + ": " + "; ".join(f.detail for f in findings), fix="\n".join(fixes), data=data
        )
    return passed(evidence, data=data)
