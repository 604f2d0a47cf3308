"""`heartbeat metric validate | new`: the gate a metric passes before it ships, and its scaffold."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from heartbeat_cli import metrics_cmd
from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.db import connect
from heartbeat_core.metrics.scaffold import ScaffoldError, scaffold_metric
from heartbeat_core.settings import get_settings

if TYPE_CHECKING:
    from heartbeat_core.metrics.gate import ValidationReport

# The gate's defaults, mirrored from heartbeat_core.metrics.gate (a test keeps them equal): the gate is
# imported inside the command, so sqlglot's import time is not paid by every other command.
DEFAULT_TIME_LIMIT_S = 5.0
DEFAULT_LARGE_TABLE_MB = 200.0
DEFAULT_NESTED_LOOP_OUTER_ROWS = 100_000
DEFAULT_RUN_ROWS = 50_000_000

MARK = {"pass": "PASS", "fail": "FAIL", "skip": "skip"}


def print_report(report: ValidationReport) -> None:
    width = max(len(c.name) for c in report.checks)
    print(f"{report.metric_id} ({report.path})")
    for check in report.checks:
        print(f"  {MARK[check.status]}  {check.name:<{width}}  {check.evidence}")
        if check.fix and check.status == "fail":
            pad = " " * (width + 8)
            for n, line in enumerate(check.fix.splitlines()):
                print(f"{pad}{'fix: ' if n == 0 else '     '}{line}")
    failed = [c.name for c in report.failed]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    elif not report.ok:
        print(f"NOT JUDGED: {', '.join(c.name for c in report.checks if c.status == 'skip')} skipped")
    else:
        seconds = report.check("timing").data.get("seconds")
        print(
            f"OK: all {len(report.checks)} checks pass"
            + (f" (@value {seconds:.3f} s)" if seconds is not None else "")
        )


def print_summary(reports: list[ValidationReport]) -> None:
    """One line per metric (its failed checks under it), then the count: the `--all` text report."""
    for report in reports:
        seconds = report.check("timing").data.get("seconds")
        timing = f" ({seconds:.3f} s)" if seconds is not None else ""
        if report.ok:
            print(f"PASS  {report.metric_id}{timing}")
        else:
            print(f"FAIL  {report.metric_id}{timing}")
            for check in report.failed:
                print(f"        {check.name}: {check.evidence}")
    failed = [r.metric_id for r in reports if not r.ok]
    print(
        f"{len(reports) - len(failed)} of {len(reports)} metrics pass"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )


def _paths(target: str | None, metric_defs: Path) -> list[Path]:
    """The files to validate: every file in metric_defs (target None), or the one the target names."""
    from heartbeat_core.metrics.gate import resolve_target

    if target is None:
        paths = sorted(metric_defs.glob("*.sql"))
        if not paths:
            raise CommandError(f"no metric files in {metric_defs}")
        return paths
    try:
        return [resolve_target(target, metric_defs)]
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None


@one_line_errors
def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--scale-as-of {text!r}: expected an ISO 8601 moment, e.g. 2026-11-25T14:30+00:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@one_line_errors
def _check_scale_options(scale_factor: float | None, run_rows: int) -> None:
    if scale_factor is not None and not scale_factor >= 1:  # `not >=` also refuses nan
        raise CommandError(
            f"--scale-factor {scale_factor:g}: expected a number ≥ 1, how many times larger the data will be"
        )
    if run_rows < 0:
        raise CommandError(f"--run-rows {run_rows}: expected 0 (always run) or a positive number of rows")


def validate_cmd(
    target: str = typer.Argument(
        None, help="Metric id (its file in HEARTBEAT_METRIC_DEFS) or a path to a .sql file."
    ),
    every: bool = typer.Option(False, "--all", help="Validate every file in HEARTBEAT_METRIC_DEFS."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report (for agents)."),
    time_limit: float = typer.Option(
        DEFAULT_TIME_LIMIT_S, "--time-limit", help="Seconds the value SQL may take."
    ),
    large_table_mb: float = typer.Option(
        DEFAULT_LARGE_TABLE_MB, "--large-table-mb", help="A Seq Scan on a bigger table fails."
    ),
    nested_loop_rows: int = typer.Option(
        DEFAULT_NESTED_LOOP_OUTER_ROWS,
        "--nested-loop-rows",
        help="A Nested Loop over a bigger outer set fails.",
    ),
    scale_url: str = typer.Option(
        None,
        "--scale-url",
        help="A larger copy of the marts (e.g. the demo world at scale 50) to time it on.",
    ),
    scale_as_of: str = typer.Option(
        None, "--scale-as-of", help="The as-of moment on the copy (ISO 8601; default now)."
    ),
    scale_factor: float = typer.Option(
        None,
        "--scale-factor",
        help="Without a copy: judge the plan with the planner's row estimates × this factor (e.g. 50).",
    ),
    run_rows: int = typer.Option(
        DEFAULT_RUN_ROWS,
        "--run-rows",
        help="Above this many estimated rows read the value is not run, only its plan judged (0: always run).",
    ),
) -> None:
    """Run every named check on one metric (or --all) and exit 1 on any failure.

    Checks: parses, header_complete, no_todo, lines_consistent, sources_exist, no_correlated_subqueries,
    point_in_time, read_only, value_one_numeric_row (now and three past moments), timing, explain, detail_rows,
    history_matches (@history agrees with @value replayed on past days), segment_rows (@segments columns, at
    most 50 segments per dimension), rollup_matches_raw (through rollups as on raw rows), scales_with_rows (with
    --scale-url: on a larger copy its time grows no faster than its rows), plan_at_scale (the planner's estimates
    × --scale-factor: no spilling sort or hash, no nested loop whose both sides grow, no whole-table scan kept to
    a time window, projected time under the limit).
    """
    from heartbeat_core.metrics.gate import Limits, validate_file

    settings = get_settings()
    if every == bool(target):
        raise CommandError("give one metric id or path, or --all")
    paths = _paths(None if every else target, settings.metric_defs)
    _check_scale_options(scale_factor, run_rows)
    limits = Limits(
        time_limit_s=time_limit,
        large_table_bytes=int(large_table_mb * 1048576),
        nested_loop_outer_rows=nested_loop_rows,
        scale_url=scale_url,
        scale_as_of=_moment(scale_as_of),
        scale_factor=scale_factor,
        run_rows=run_rows,
    )
    reports = []
    with connect() as conn:
        conn.autocommit = True
        for path in paths:
            reports.append(validate_file(path, conn, limits=limits))
    ok = all(r.ok for r in reports)
    if every and as_json:
        print(json.dumps({"ok": ok, "metrics": [r.as_json() for r in reports]}, default=str))
    elif every:
        print_summary(reports)
    elif as_json:
        print(json.dumps(reports[0].as_json(), default=str))
    else:
        print_report(reports[0])
    if not ok:
        raise typer.Exit(1)


@one_line_errors
def new_cmd(
    metric_id: str = typer.Argument(..., help="The new metric's id (a slug: lowercase letters, digits, _)."),
    source: str = typer.Option(..., "--source", help="The landed source (marts schema) the metric reads."),
    table: str = typer.Option(None, "--table", help="The main table (default: the source's largest)."),
) -> None:
    """Scaffold metric_defs/ID.sql from the landed data, with TODO markers where a human must decide."""
    settings = get_settings()
    with connect() as conn:
        conn.autocommit = True
        try:
            result = scaffold_metric(conn, metric_id, source, settings.metric_defs, table)
        except ScaffoldError as exc:
            raise CommandError(str(exc)) from None
    window = f"window on {result.time_column}" if result.time_column else "no timestamp column found"
    print(f"wrote {result.path} (table {result.source}.{result.table}, period {result.period}, {window})")
    todos = result.text.count("TODO")
    print(
        f"next: resolve the {todos} TODO markers, then `heartbeat metric validate {metric_id}` until it passes",
        file=sys.stderr,
    )


def register(app: typer.Typer) -> None:
    metrics_cmd.metric.command("validate")(validate_cmd)
    metrics_cmd.metric.command("new")(new_cmd)
