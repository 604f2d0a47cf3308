"""The metric gate: every metric passes `heartbeat metric validate` before it ships.

Each check has a stable name, a status (pass / fail / skip) and evidence an author (or an agent) can
act on. The SQL runs through the compute engine's own point-in-time, read-only, timed machinery
(`heartbeat_core.compute.engine.evaluate`), so what passes here is what compute will run.

The checks, in the order of `checks.REGISTRY`, one module per family:
- header.py  `parses` (every problem with file:line), `header_complete` (owner, description, how_to_read,
             period, direction, sources set), `no_todo` (no TODO in the file or its included
             shared_sql fragments: a scaffold fails until it is finished),
             `lines_consistent` (norm / alert / target agree with the direction), `sources_exist` (every
             source is a marts schema with a `_dlt_loads` table);
- sql.py     `no_correlated_subqueries` (no subquery references a table alias of an outer scope),
             `point_in_time` (the SQL reads `heartbeat.as_of()` / `window_start()`, never the wall clock);
- warehouse.py `transpiles` (each section carries over to DuckDB and ClickHouse with sqlglot, or has its
             `-- @value[clickhouse]` override; fails only for the configured warehouse's engine);
- value.py   `read_only` (the SQL does not write), `value_one_numeric_row` (one numeric row now and at
             three past as-of moments), `timing` (under the time limit, 5 s, on the live data);
- plan.py    `explain` (EXPLAIN ANALYZE, or the estimated plan when too slow: no Seq Scan on a large
             table, no Nested Loop over a large outer set; names the index and the sources.toml line);
- detail.py  `detail_rows` (the `@detail` SQL returns rows when the value is non-zero);
- entities.py `entity_keys` (the declared entity key / label / weight columns exist in the @detail rows, the
             key is unique per row, the weight is numeric);
- history.py `history_matches` (`@history`, if any, agrees with `@value` replayed on past days);
- segments.py `segment_rows` (`@segments`, if any, returns dimension, segment, value plus numerator and
             denominator or weight, at most 50 segments per dimension);
- scale.py   `rollup_matches_raw` (a metric reading rollups gives the value of its rollups' windows read from
             raw rows), `scales_with_rows` (on a larger copy, `--scale-url`, its time grows no faster than the
             rows it reads, and stays under the time limit);
- projection.py `plan_at_scale` (without a copy: the planner's row estimates × `--scale-factor` flag sorts and
             hashes that would spill, nested loops whose both sides grow, whole-table scans kept to a time
             window, and the projected time; above `--run-rows` estimated rows the value is not run at all).
"""

from heartbeat_core.metrics.gate.checks import CHECKS, REGISTRY, GateCheck, resolve_target, validate_file
from heartbeat_core.metrics.gate.context import GateContext, to_registry_metric
from heartbeat_core.metrics.gate.plan import (
    PlanFinding,
    analyze_plan,
    existing_indexes,
    explain_value,
    sources_toml_line,
)
from heartbeat_core.metrics.gate.report import (
    DEFAULT_LARGE_TABLE_BYTES,
    DEFAULT_NESTED_LOOP_OUTER_ROWS,
    DEFAULT_RUN_ROWS,
    DEFAULT_TIME_LIMIT_S,
    Check,
    Limits,
    Outcome,
    Status,
    ValidationReport,
)
from heartbeat_core.metrics.gate.sql import correlated_subqueries, function_names

__all__ = [
    "CHECKS",
    "DEFAULT_LARGE_TABLE_BYTES",
    "DEFAULT_NESTED_LOOP_OUTER_ROWS",
    "DEFAULT_RUN_ROWS",
    "DEFAULT_TIME_LIMIT_S",
    "REGISTRY",
    "Check",
    "GateCheck",
    "GateContext",
    "Limits",
    "Outcome",
    "PlanFinding",
    "Status",
    "ValidationReport",
    "analyze_plan",
    "correlated_subqueries",
    "existing_indexes",
    "explain_value",
    "function_names",
    "resolve_target",
    "sources_toml_line",
    "to_registry_metric",
    "validate_file",
]
