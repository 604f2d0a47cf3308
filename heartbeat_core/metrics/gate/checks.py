"""The gate as an ordered list of named checks, and the walk that runs them on one file."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.metrics.gate import (
    detail,
    entities,
    header,
    history,
    plan,
    projection,
    scale,
    segments,
    sql,
    value,
    warehouse,
)
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Limits, Outcome, ValidationReport, skipped
from heartbeat_core.metrics.shared_sql import SharedSQL, fragment_dir
from heartbeat_core.settings import get_settings


@dataclass(frozen=True)
class GateCheck:
    """One named check. Unless `runs_unparsed`, a file that does not parse skips it."""

    name: str
    run: Callable[[GateContext], Outcome]
    runs_unparsed: bool = False


# The order is the report's order; the value run happens on the first check that needs it (read_only).
REGISTRY: tuple[GateCheck, ...] = (
    GateCheck("parses", header.parses, runs_unparsed=True),
    GateCheck("header_complete", header.header_complete),
    GateCheck("no_todo", header.no_todo, runs_unparsed=True),
    GateCheck("lines_consistent", header.lines_consistent, runs_unparsed=True),
    GateCheck("sources_exist", header.sources_exist),
    GateCheck("no_correlated_subqueries", sql.no_correlated_subqueries),
    GateCheck("point_in_time", sql.point_in_time),
    GateCheck("transpiles", warehouse.transpiles),  # warehouse mode (issue 17)
    GateCheck("read_only", value.read_only),
    GateCheck("value_one_numeric_row", value.value_one_numeric_row),
    GateCheck("timing", value.timing),
    GateCheck("explain", plan.explain),
    GateCheck("detail_rows", detail.detail_rows),
    GateCheck("entity_keys", entities.entity_keys),
    GateCheck("history_matches", history.history_matches),
    GateCheck("segment_rows", segments.segment_rows),
    GateCheck("rollup_matches_raw", scale.rollup_matches_raw),
    GateCheck("scales_with_rows", scale.scales_with_rows),
    GateCheck("plan_at_scale", projection.plan_at_scale),
)
CHECKS: tuple[str, ...] = tuple(check.name for check in REGISTRY)


def validate_file(
    path: Path,
    conn: psycopg.Connection[Any],
    *,
    limits: Limits | None = None,
    now: datetime | None = None,
) -> ValidationReport:
    """Run every check on one metric file against the marts database behind `conn`."""
    settings = get_settings()
    if not conn.autocommit:  # every SQL step opens its own (read-only) transaction
        conn.commit()
        conn.autocommit = True
    text = path.read_text(encoding="utf-8")
    shared = SharedSQL(fragment_dir(path, settings.shared_sql_override))
    definition, problems, line_problems = header.parse_with_lines(text, path.stem, str(path), shared)
    ctx = GateContext(
        path=path,
        text=text,
        conn=conn,
        limits=limits or Limits(),
        now=now or clock.now(),
        tz=settings.tz,
        sources_path=settings.sources,
        definition=definition,
        parse_problems=problems,
        line_problems=line_problems,
        shared=shared,
    )
    report = ValidationReport(path.stem, str(path))
    for check in REGISTRY:
        if definition is None and not check.runs_unparsed:
            outcome = skipped("the file does not parse")
        else:
            outcome = check.run(ctx)
        report.checks.append(outcome.named(check.name))
    run = ctx.computed(value.value_run)
    if run is not None:
        report.value, report.seconds = run.value, run.seconds
    return report


def resolve_target(target: str, metric_defs: Path) -> Path:
    """A metric id (its file in metric_defs) or a path to a file; FileNotFoundError names the closest ids."""
    looks_like_path = target.endswith(".sql") or "/" in target or Path(target).exists()
    path = Path(target) if looks_like_path else metric_defs / f"{target}.sql"
    if path.is_file():
        return path
    known = sorted(p.stem for p in metric_defs.glob("*.sql")) if metric_defs.is_dir() else []
    close = difflib.get_close_matches(path.stem, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise FileNotFoundError(f"no metric file {path}{hint}")
