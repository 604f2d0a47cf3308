"""Static checks of the SQL text (sqlglot, postgres dialect): no correlated subquery, and point in time
(the SQL reads `heartbeat.as_of()` / `window_start()`, never the wall clock)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from heartbeat_core.metrics.gate.context import GateContext, sections
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.rollups.read import reads

_WALL_CLOCK_FUNCS = {
    "now",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "localtimestamp",
    "localtime",
}
_WALL_CLOCK_WORDS = ("localtimestamp", "current_timestamp", "current_date")
_POINT_IN_TIME_FUNCS = {"as_of", "window_start", "history_from"}
_WALL_CLOCK_NODES: tuple[type, ...] = tuple(
    getattr(exp, name)
    for name in ("CurrentTimestamp", "CurrentDate", "CurrentTime", "Localtimestamp", "Localtime")
    if hasattr(exp, name)
)


def _outer_aliases(scope: Scope) -> set[str]:
    aliases: set[str] = set()
    parent = scope.parent
    while parent is not None:
        aliases.update(parent.sources)
        parent = parent.parent
    return aliases


def _outer_references(scope: Scope) -> list[str]:
    """Columns of a subquery scope that name a table alias of an outer scope (not its own)."""
    own = set(scope.sources)
    outer = _outer_aliases(scope)
    return sorted(
        {
            c.sql(dialect="postgres")
            for c in scope.columns
            if c.table and c.table not in own and c.table in outer
        }
    )


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
            refs = _outer_references(scope) if scope.parent is not None else []
            if not refs:
                continue
            text = scope.expression.sql(dialect="postgres")
            if text in seen:
                continue
            seen.add(text)
            short = text if len(text) <= 120 else text[:117] + "..."
            found.append(f"({short}) references {', '.join(refs)} of an outer query")
    return found


def function_names(query: str) -> tuple[set[str], set[str]]:
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
            elif isinstance(node, exp.Column | exp.Var) and str(node.name).lower() in _WALL_CLOCK_WORDS:
                wall.add(str(node.name).lower())
    return used, wall


@dataclass
class SqlScan:
    """What sqlglot found in every section, shared by the two static checks."""

    correlated: list[str] = field(default_factory=list)
    unparsable: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # point-in-time functions of @value / @detail
    wall: set[str] = field(default_factory=set)


def scan_sql(ctx: GateContext) -> SqlScan:
    scan = SqlScan()
    for section, query in sections(ctx.parsed):
        try:
            scan.correlated += [f"@{section}: {c}" for c in correlated_subqueries(query)]
            section_used, section_wall = function_names(query)
            if section != "history":  # @history is bounded by history_from(); it cannot stand in for @value
                scan.used |= section_used
            scan.wall |= {f"@{section}: {w}" for w in section_wall}
        except sqlglot.errors.SqlglotError as exc:
            scan.unparsable.append(f"@{section}: sqlglot cannot parse it ({str(exc).splitlines()[0][:160]})")
    return scan


def no_correlated_subqueries(ctx: GateContext) -> Outcome:
    scan = ctx.once(scan_sql)
    if scan.unparsable:
        return failed("; ".join(scan.unparsable))
    if scan.correlated:
        return failed(
            "; ".join(scan.correlated),
            fix="rewrite as a JOIN (or a CTE grouped by the key) + conditional aggregation",
        )
    return passed("no subquery references an outer query")


def point_in_time(ctx: GateContext) -> Outcome:
    scan = ctx.once(scan_sql)
    if scan.unparsable:
        return skipped("the SQL does not parse with sqlglot")
    if scan.wall:
        return failed(
            f"reads the wall clock: {', '.join(sorted(scan.wall))}",
            fix="use heartbeat.as_of() / heartbeat.window_start() so backfill replays past days",
        )
    rollups = sorted(reads(ctx.parsed.value_sql))
    if not scan.used and rollups:  # a rollup reference is the rollup over [window_start(), as_of())
        return passed(f"reads {', '.join(f'rollups.{r}' for r in rollups)} over the metric's window")
    if not scan.used:
        return failed(
            "@value never reads heartbeat.as_of() or heartbeat.window_start(): every past day would get today's value",
            fix="bound the rows by heartbeat.as_of() (snapshot) or [window_start(), as_of()) (windows)",
        )
    return passed(f"reads {', '.join(sorted(scan.used) + [f'rollups.{r}' for r in rollups])}")
