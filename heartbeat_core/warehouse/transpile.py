"""One metric SQL, many engines: Postgres-dialect metric sections rewritten for DuckDB, ClickHouse, ...

Metric files stay in Postgres dialect (pasteable into psql). For an engine, a section is
1. bound: `heartbeat.as_of()`, `window_start(...)`, `history_from()` become constants through compute's own
   `Moments.bind` (the moments Postgres computed for the metric), written in the engine's literal form, and
   `heartbeat.period_interval('7d')` becomes its interval;
2. parsed with sqlglot (Postgres), rewritten where sqlglot's own translation would change the answer (exact
   percentiles, epoch of a timestamp difference, bare `numeric`, decimal constants, `bool_or`), checked for
   constructs the engine lacks, and generated in the engine's dialect.

A construct that cannot be carried over raises `TranspileError` naming it and the override to write
(`-- @value[clickhouse]`): such a section is the engine's own SQL and is only bound, never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from heartbeat_core.compute.binding import PERIOD_INTERVALS, Moments
from heartbeat_core.metrics.registry import RegistryMetric

SECTIONS = ("value", "detail", "history", "segments")
# Scale of a `numeric` without one, and of decimal constants on ClickHouse: Postgres keeps every digit,
# DuckDB's bare DECIMAL is (18,3) and ClickHouse's (10,0) — either would round rates and shares away.
DECIMAL_SCALE = 10
_PERIOD_INTERVAL = re.compile(
    r"\bheartbeat\s*\.\s*period_interval\s*\(\s*'("
    + "|".join(PERIOD_INTERVALS)
    + r")'(?:\s*::\s*text)?\s*\)",
    re.IGNORECASE,
)
_HELPER = re.compile(r"\bheartbeat\s*\.\s*([a-z_]+)\s*\(", re.IGNORECASE)


class TranspileError(ValueError):
    """A section cannot run on the engine as written: the construct, and the override section to write."""

    def __init__(self, section: str, engine: str, construct: str, *, override_helps: bool = True):
        self.section, self.engine, self.construct = section, engine, construct
        advice = (
            f"; write the {engine} query under `{self.override}` in the metric file" if override_helps else ""
        )
        super().__init__(f"@{section} does not transpile to {engine}: {construct}{advice}")

    @property
    def override(self) -> str:
        return f"-- @{self.section}[{self.engine}]"


@dataclass(frozen=True)
class EngineSQL:
    """A section ready for the engine, and whether it came from an override section."""

    sql: str
    override: bool


def section_source(metric: RegistryMetric, section: str, engine: str) -> tuple[str | None, bool]:
    """The section's text for the engine: its `-- @section[engine]` override if the file has one."""
    override = metric.engine_sql.get(f"{section}[{engine}]")
    if override:
        return override, True
    sections = {"value": metric.value_sql, "detail": metric.detail_sql, "history": metric.history_sql}
    return {**sections, "segments": metric.segments_sql}[section], False


def quoted(name: str) -> str:
    """A name as a double-quoted SQL identifier (Postgres and DuckDB; transpile carries it to ClickHouse)."""
    return '"' + name.replace('"', '""') + '"'


def moment_literal(engine: str, tz: ZoneInfo) -> Callable[[datetime], str]:
    """A moment as the engine reads it: wall time in the metric's zone, which is each engine's session zone
    (set by `engines`), so `as_of()::date` is the business day there as it is in Postgres."""

    def literal(moment: datetime) -> str:
        wall = moment.astimezone(tz).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        if engine == "clickhouse":
            return f"toDateTime64('{wall}', 6)"
        return f"CAST('{wall}' AS TIMESTAMP)"

    return literal


def bind(sql: str, moments: Moments, engine: str, tz: ZoneInfo) -> str:
    """The `heartbeat.*` helpers as constants; any other `heartbeat.` function is named in the error."""
    sql = _PERIOD_INTERVAL.sub(lambda m: f"interval '{PERIOD_INTERVALS[m.group(1).lower()]}'", sql)
    sql = moments.bind(sql, moment_literal(engine, tz))
    left = _HELPER.search(sql)
    if left:
        raise TranspileError(
            "value", engine, f"heartbeat.{left.group(1)}() is not a helper warehouse mode binds"
        )
    return sql


def for_engine(
    metric: RegistryMetric, section: str, engine: str, moments: Moments, tz: ZoneInfo
) -> EngineSQL | None:
    """The section bound and transpiled for `engine`; None when the metric has no such section."""
    text, override = section_source(metric, section, engine)
    if not text:
        return None
    try:
        bound = bind(text, moments, engine, tz)
    except TranspileError as exc:
        raise TranspileError(section, engine, exc.construct) from None
    if override:
        return EngineSQL(bound, True)
    return EngineSQL(transpile(bound, engine, section), False)


def transpile(sql: str, engine: str, section: str = "value") -> str:
    """Bound Postgres SQL in the engine's dialect; `TranspileError` names what does not carry over."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except SqlglotError as exc:
        raise TranspileError(section, engine, f"sqlglot cannot parse it ({_first_line(exc)})") from None
    tree = trees[0] if len(trees) == 1 else None
    if any(t.find(*_WRITES) is not None for t in trees):
        raise TranspileError(
            section, engine, "it tries to write: metric SQL only reads (one SELECT)", override_helps=False
        )
    if not isinstance(tree, exp.Query):
        raise TranspileError(
            section, engine, "not one SELECT statement (metric SQL only reads)", override_helps=False
        )
    try:
        return _rewrite(tree, engine, section).sql(dialect=engine, unsupported_level=ErrorLevel.RAISE)
    except TranspileError:
        raise
    except Exception as exc:  # sqlglot's own errors, and any slip of a generator: the construct, not a crash
        raise TranspileError(section, engine, f"sqlglot: {_first_line(exc)}") from None


_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _rewrite(tree: Any, engine: str, section: str) -> Any:  # sqlglot 26-30 differ in its node base class
    for check in _UNSUPPORTED.get(engine, ()):
        found = check(tree)
        if found:
            raise TranspileError(section, engine, found)
    tree = tree.transform(_fix_formats)
    tree = tree.transform(_bare_decimal)
    if engine in ("bigquery", "snowflake"):  # untested here: only the rewrites whose output was read
        tree = tree.transform(_cloud_epoch)
    if engine == "clickhouse":
        # two passes: a replaced node's new children are not visited again, and the percentile's key
        # (an epoch difference) must be rewritten before it moves into the quantile call
        tree = tree.transform(_clickhouse_names)
        tree = tree.transform(_clickhouse_in)
        tree = tree.transform(_clickhouse_node)
        tree = tree.transform(_clickhouse_percentile)
        tree = tree.transform(_clickhouse_day)  # last: its argument is already rewritten
    return tree


def _clickhouse_names(node: exp.Expression) -> exp.Expression:
    """`SELECT e.client_id FROM e` yields a column named `client_id` in Postgres, `e.client_id` in ClickHouse (it
    names a result by its expression's text), so a CTE's qualified column could not be read as `cte.client_id`:
    each unaliased qualified column of a SELECT gets its own name as alias (changed in place)."""
    if isinstance(node, exp.Select):
        node.set(
            "expressions",
            [exp.alias_(e, e.name) if _plain_qualified(e) else e for e in node.expressions],
        )
    return node


def _plain_qualified(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and bool(node.table) and isinstance(node.this, exp.Identifier)


def _clickhouse_day(node: exp.Expression) -> exp.Expression:
    """`x::date` is the business day in the session's zone in Postgres; ClickHouse casts a DateTime64 in the
    column's own zone (landed `DateTime64(6, 'UTC')`: the UTC day), so the day is taken in `timeZone()`, the
    session zone (a Date or a date string is unchanged by it)."""
    if (
        isinstance(node, exp.Cast)
        and node.to.this == exp.DataType.Type.DATE32
        and not (isinstance(node.this, exp.Literal) and node.this.is_string)
    ):
        return exp.Anonymous(this="toDate32", expressions=[node.this.copy(), exp.Anonymous(this="timeZone")])
    return node


def _bare_decimal(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build(f"DECIMAL(38, {DECIMAL_SCALE})")
    return node


def _fix_formats(node: exp.Expression) -> exp.Expression:
    """`to_char(ts, 'Mon YYYY')`: sqlglot maps YYYY but leaves Postgres' month-name tokens as text."""
    if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
        text = node.args["format"].this
        for token, strftime in (("Month", "%B"), ("Mon", "%b"), ("Day", "%A"), ("Dy", "%a")):
            text = re.sub(rf"(?<!%){token}", strftime, text)
        node.set("format", exp.Literal.string(text))
    return node


def _clickhouse_node(node: exp.Expression) -> exp.Expression:
    """ClickHouse forms that keep Postgres' answer (its own defaults would not)."""
    if (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.to.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMP)
    ):
        # '2026-12-02T07:00:00+00:00'::timestamptz (a rollup's bound range): an ISO moment with its offset,
        # which ClickHouse's CAST does not read
        return exp.Anonymous(
            this="parseDateTime64BestEffort", expressions=[node.this.copy(), exp.Literal.number(6)]
        )
    if isinstance(node, exp.Extract) and node.name.lower() == "epoch":
        return _epoch(node)
    if isinstance(node, exp.Div):
        # ClickHouse divides a Decimal at the dividend's scale (sum of a numeric(14,2) / a count keeps 2
        # digits, truncated); Postgres keeps 16+ significant digits, so the dividend gets scale 10
        # (changed in place, so the operands are still visited)
        node.set("this", _decimal(node.this.copy()))
        return node
    if isinstance(node, exp.Sub) and _date_difference(node):
        # date - date: whole days in Postgres; ClickHouse cannot subtract two Date32 (the operands rewritten
        # here: a replaced node's children are not visited again)
        later, earlier = (side.copy().transform(_clickhouse_node) for side in (node.this, node.expression))
        return exp.Anonymous(this="dateDiff", expressions=[exp.Literal.string("day"), earlier, later])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DATE:
        return exp.DataType.build("Date32", dialect="clickhouse")  # landed dates are Date32 (Arrow date32)
    if isinstance(node, exp.LogicalOr):
        return exp.Max(this=node.this.copy())
    if isinstance(node, exp.LogicalAnd):
        return exp.Min(this=node.this.copy())
    if isinstance(node, exp.DataType) and node.this in (
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
    ):
        return exp.DataType.build("DateTime64(6)", dialect="clickhouse")
    if isinstance(node, exp.Literal) and node.is_number and "." in node.this and "e" not in node.this.lower():
        # Postgres reads 100.0 as an exact numeric: ClickHouse's Float64 would round half to even
        return _decimal(exp.Literal.string(node.this))
    return node


def _clickhouse_in(node: exp.Expression) -> exp.Expression:
    """`x = ANY (ARRAY(SELECT …))` — a key list as one parameter in Postgres — as `x IN (SELECT …)`: sqlglot's
    ClickHouse translation (`has([SELECT …], x)`) does not parse there."""
    listed = _array_of_query(node)
    if listed is None:
        return node
    return exp.In(this=node.this.copy(), query=exp.Subquery(this=listed.copy()))


def _array_of_query(node: exp.Expression) -> exp.Query | None:
    """The query of `x = ANY (ARRAY(SELECT …))`, else None."""
    if not (isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any)):
        return None
    inner = node.expression.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if (
        isinstance(inner, exp.Array)
        and len(inner.expressions) == 1
        and isinstance(inner.expressions[0], exp.Query)
    ):
        return inner.expressions[0]
    return None


def _is_date(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE


_DATE_NAME = re.compile(r"^(day|.*_day|.*_date)$", re.IGNORECASE)


def _date_like(node: exp.Expression) -> bool:
    """A date by its form: a cast to date, a rollup's `day` (a date by the rollup contract) or a column named
    `*_day` / `*_date`, or lag/lead/min/max of one (sqlglot knows no column types without a schema)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Window):
        node = node.this
    if isinstance(node, (exp.Lag, exp.Lead, exp.Max, exp.Min)):
        return _date_like(node.this)
    return _is_date(node) or (isinstance(node, exp.Column) and bool(_DATE_NAME.match(node.name)))


def _date_difference(node: exp.Sub) -> bool:
    """`date - date` (whole days in Postgres; ClickHouse cannot subtract two Date32): a cast to date minus
    anything but a number, or two date-like operands; `date - 7` stays date arithmetic."""
    other = node.expression
    if other.is_number or isinstance(other, exp.Interval):
        return False
    return _is_date(node.this) or (_date_like(node.this) and _date_like(other))


def _decimal(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="toDecimal128", expressions=[node, exp.Literal.number(DECIMAL_SCALE)])


def _clickhouse_percentile(node: exp.Expression) -> exp.Expression:
    """percentile_cont interpolates linearly between the two nearest values: `quantileExactInclusive`, exact,
    never the sampling `quantile` sqlglot would pick."""
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression
        key = order.expressions[0].this if isinstance(order, exp.Order) and order.expressions else None
        level = node.this.this
        if isinstance(level, exp.Anonymous) and level.name == "toDecimal128":  # a parameter stays a constant
            level = exp.Literal.number(level.expressions[0].this)
        if key is not None:
            return exp.ParameterizedAgg(
                this="quantileExactInclusive", expressions=[level.copy()], params=[key.copy()]
            )
    return node


def _epoch(node: exp.Extract) -> exp.Expression:
    """`extract(epoch FROM a - b)`: seconds between two timestamps, to the microsecond."""
    inner = node.expression
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if isinstance(inner, exp.Sub):
        diff = exp.Anonymous(
            this="dateDiff",
            expressions=[exp.Literal.string("microsecond"), inner.expression.copy(), inner.this.copy()],
        )
    else:
        diff = exp.Anonymous(this="toUnixTimestamp64Micro", expressions=[inner.copy()])
    return exp.Paren(this=exp.Div(this=diff, expression=exp.Literal.number(1_000_000)))


def _cloud_epoch(node: exp.Expression) -> exp.Expression:
    """`extract(epoch FROM a - b)` → TIMESTAMP_DIFF (BigQuery) / TIMESTAMPDIFF (Snowflake) in microseconds:
    neither subtracts two timestamps into an interval."""
    if isinstance(node, exp.Extract) and node.name.lower() == "epoch":
        inner = node.expression
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Sub):
            diff = exp.TimestampDiff(
                this=inner.this.copy(), expression=inner.expression.copy(), unit=exp.var("MICROSECOND")
            )
            return exp.Paren(this=exp.Div(this=diff, expression=exp.Literal.number(1_000_000)))
    return node


def _aggregate_percentile(tree: exp.Expression) -> str | None:
    if tree.find(exp.WithinGroup):
        return "percentile_cont(...) WITHIN GROUP (BigQuery has it only as an analytic function, OVER ())"
    return None


def _lateral(tree: exp.Expression) -> str | None:
    return "a LATERAL join (ClickHouse has none; use arrayJoin)" if tree.find(exp.Lateral) else None


def _ordered_string_agg(tree: exp.Expression) -> str | None:
    for agg in tree.find_all(exp.GroupConcat):
        if agg.find(exp.Order):
            return "string_agg(... ORDER BY ...) (ClickHouse's groupConcat keeps no order; use arraySort)"
    return None


def _percentile_disc(tree: exp.Expression) -> str | None:
    return "percentile_disc (no exact ClickHouse twin)" if tree.find(exp.PercentileDisc) else None


_UNSUPPORTED: dict[str, tuple[Callable[[exp.Expression], str | None], ...]] = {
    "clickhouse": (_lateral, _ordered_string_agg, _percentile_disc),
    "bigquery": (_aggregate_percentile,),
}
