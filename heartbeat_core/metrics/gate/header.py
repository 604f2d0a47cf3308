"""Checks on the file and its header: it parses, the header is complete, no TODO is left, the lines agree
with the direction, and the sources it names have landed in marts."""

from __future__ import annotations

import re
from pathlib import Path

from heartbeat_core.formatting import counted
from heartbeat_core.metrics.definition import (
    DefinitionError,
    MetricDefinition,
    check_lines,
    parse_metric_text,
)
from heartbeat_core.metrics.gate.context import GateContext, sections
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.shared_sql import SharedSQL

TODO = re.compile(r"\bTODO\b")
_LINES_PROBLEM = re.compile(r"^(norm|target) .* for (higher|lower)_is_better")
_LINE_KEY = re.compile(r"^--\s?(norm|alert|target)\s*:")


def parse_with_lines(
    text: str, metric_id: str, shown: str, shared: SharedSQL | None = None
) -> tuple[MetricDefinition | None, list[str], list[str]]:
    """Parse; returns (definition, other problems, line-consistency problems).

    When the only problems are lines that disagree with the direction, the file is parsed again without
    those lines, so every other check still runs and the author sees everything in one pass.
    """
    try:
        return parse_metric_text(text, metric_id, shown, shared), [], []
    except DefinitionError as exc:
        line_problems = [p for p in exc.problems if _LINES_PROBLEM.match(p.message)]
        others = [str(p) for p in exc.problems if not _LINES_PROBLEM.match(p.message)]
        lines_msgs = [str(p) for p in line_problems]
        if others or not line_problems:
            return None, others, lines_msgs
        stripped = "\n".join("--" if _LINE_KEY.match(line.strip()) else line for line in text.splitlines())
        try:
            return parse_metric_text(stripped, metric_id, shown, shared), [], lines_msgs
        except DefinitionError as again:
            return None, [str(p) for p in again.problems], lines_msgs


def parses(ctx: GateContext) -> Outcome:
    d = ctx.definition
    if d is None:
        problems = ctx.parse_problems
        return failed("; ".join(problems) or "does not parse", data={"problems": problems})
    return passed(
        f"period {d.period}, unit {d.unit}, direction {d.direction}, "
        f"sources {', '.join(d.sources)}; sections " + ", ".join(f"@{name}" for name, _ in sections(d))
    )


def header_complete(ctx: GateContext) -> Outcome:
    d = ctx.parsed
    missing = [
        key
        for key, value in (
            ("owner", d.owner),
            ("description", d.description),
            ("how_to_read", d.how_to_read),
            ("period", d.period),
            ("direction", d.direction),
            ("sources", ",".join(d.sources)),
        )
        if not value or TODO.search(value)
    ]
    if missing:
        return failed(
            f"missing or TODO: {', '.join(missing)}",
            fix="set " + ", ".join(f"`-- {k}: ...`" for k in missing) + " in the header",
        )
    return passed(f"owner {d.owner}; description and how_to_read set")


def no_todo(ctx: GateContext) -> Outcome:
    """No TODO in the metric file nor in a shared_sql fragment it includes: a fragment's SQL is the metric's."""
    found = _todo_lines(ctx.path.name, ctx.text)
    for fragment in ctx.shared.included(ctx.text):
        shown = Path(fragment.path)
        found += _todo_lines(f"{shown.parent.name}/{shown.name}", fragment.text)
    if found:
        return failed(
            f"{counted(len(found), 'TODO marker')} left: {', '.join(found)}",
            fix="resolve every TODO (the metric file and the shared_sql fragments it includes), then validate again",
            data={"todo": found},
        )
    return passed("no TODO markers")


def _todo_lines(shown: str, text: str) -> list[str]:
    """`file:line` of each line holding a TODO marker."""
    return [f"{shown}:{n}" for n, line in enumerate(text.splitlines(), 1) if TODO.search(line)]


def lines_consistent(ctx: GateContext) -> Outcome:
    if ctx.line_problems:
        return failed("; ".join(ctx.line_problems))
    d = ctx.definition
    if d is None:
        return skipped("the file does not parse")
    extra = check_lines(d.direction, d.norm, d.alert, d.target)
    if extra:
        return failed("; ".join(extra))
    lines = [
        f"{name} {value}"
        for name, value in (("norm", d.norm), ("alert", d.alert), ("target", d.target))
        if value is not None
    ]
    return passed((", ".join(lines) + f" agree with {d.direction}") if lines else "no lines set")


def sources_exist(ctx: GateContext) -> Outcome:
    absent: list[str] = []
    present: list[str] = []
    for source in ctx.parsed.sources:
        row = ctx.conn.execute(
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
    ctx.conn.commit()
    if absent:
        return failed("; ".join(absent), fix="name the dlt datasets the SQL reads")
    return passed(f"{', '.join(present)}: landed schemas with _dlt_loads")
