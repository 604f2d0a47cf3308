"""`heartbeat sync | compute | status | metric show`: definitions in, values computed, state out."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.db import connect
from heartbeat_core.formatting import counted, format_clock, format_duration, format_number, format_value
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.settings import get_settings
from heartbeat_core.sync import sync_project
from heartbeat_core.sync_report import SyncReport

metric = typer.Typer(help="One metric: show its definition and state.", no_args_is_help=True)

COLOURS = {"red": "bold red", "amber": "yellow", "green": "green", "no_data": "dim", "fresh": "green",
           "stale": "bold white on grey23", "error": "bold magenta"}  # fmt: skip


def run_sync(quiet: bool = False) -> SyncReport:
    """Migrate, then load metric_defs/ and audit_cuts/ into the registry, saying what happened."""
    settings = get_settings()
    synced = sync_project()
    if not quiet:
        if (
            synced.rollups.added
            or synced.rollups.updated
            or synced.rollups.unchanged
            or synced.rollups.problems
        ):
            print(f"synced {settings.rollups}: {synced.rollups.summary()}")
        for line in synced.rollups.warnings:
            print(f"warning: {line}", file=sys.stderr)
        for line in synced.rollups.problems:
            print(f"error: {line}", file=sys.stderr)
        print(f"synced {settings.metric_defs}: {synced.metrics.summary()}")
    synced.metrics.problems.extend(synced.data_tests)  # a wrong data test fails the sync as a bad file does
    if not quiet:
        for warning in synced.metrics.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for problem in synced.metrics.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"synced {settings.audit_cuts}: {synced.cuts.summary()}")
        for cut_problem in synced.cuts.problems:
            print(f"error: {cut_problem}", file=sys.stderr)
        if synced.data_tests:
            print(
                f"checked {settings.sources}: {counted(len(synced.data_tests), 'wrong data test')}",
                file=sys.stderr,
            )
    synced.metrics.problems.extend(synced.rollups.problems)  # a bad rollup fails the sync too
    # and so does a broken audit cut file (the others still load)
    synced.metrics.problems.extend(synced.cuts.problems)
    return synced.metrics


def sync_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")) -> None:
    """Load every metric_defs/*.sql into the registry; report bad files with file:line and sync the rest."""
    report = run_sync(quiet=as_json)
    if as_json:
        print(json.dumps(report.as_json()))
    if not report.ok:
        raise typer.Exit(1)


def compute_cmd(
    ids: list[str] = typer.Argument(None, help="Metric ids (default: every active metric)."),
    backfill: int = typer.Option(0, "--backfill", min=0, max=3650, help="Also compute this many past days."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Compute metric values now (and past days with --backfill) into metric_history."""
    try:
        report = compute_metrics(ids or None, backfill_days=backfill)
    except UnknownMetric as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        print(
            json.dumps(
                {
                    "seconds": round(report.seconds, 3),
                    "metrics": [
                        {
                            "metric_id": o.metric_id,
                            "days": o.days,
                            "value": o.value,
                            "status": o.status,
                            "error": o.error,
                        }
                        for o in report.outcomes
                    ],
                }
            )
        )
    else:
        for outcome in report.outcomes:
            if outcome.error:
                print(f"error: {outcome.metric_id}: {outcome.error}", file=sys.stderr)
        print(
            f"computed {counted(len(report.outcomes), 'metric')}, {counted(sum(o.days for o in report.outcomes), 'day')} "
            f"in {report.seconds:.1f} s; {len(report.failed)} failed"
        )
    if not report.ok:
        raise typer.Exit(1)


def status_cmd(as_json: bool = typer.Option(False, "--json", help="The read model as JSON.")) -> None:
    """Every metric, red first, with its reason and freshness."""
    with connect() as conn:
        snapshot = readmodel.cockpit_snapshot(conn)
    if as_json:
        print(snapshot.model_dump_json())
        return
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    generated = format_clock(snapshot.generated_at, clock.now(), get_settings().tz)
    table = Table(title=f"Heartbeat — {generated}", expand=False)
    for column in ("status", "metric", "value", "period", "reason", "freshness"):
        table.add_column(column, no_wrap=column in ("status", "metric", "value", "freshness"))
    for state in snapshot.metrics:
        value = format_value(state.value, state.unit)
        age = format_duration(state.source_age_s) if state.source_age_s is not None else "never"
        # escaped: an error may quote `-- @value[duckdb]`, which Rich would read as markup and drop
        reason = escape(state.reason + (f" [error: {state.error}]" if state.error else ""))
        table.add_row(
            f"[{COLOURS[state.display_state]}]{state.display_state}[/]",  # what a screen shows: stale is never green
            state.metric_id,
            value,
            state.period,
            reason,
            f"[{COLOURS.get(state.freshness, 'yellow') if state.freshness != 'red' else 'bold red'}]{state.freshness} ({age})[/]",
        )
    console.print(table)
    counts = snapshot.counts
    console.print(
        f"{counts['red']} red, {counts['amber']} amber, {counts['green']} green, {counts['no_data']} no data; "
        f"{counts['stale']} stale, {counts.get('error', 0)} error"
    )
    if snapshot.pipeline.stalled:
        console.print(f"[bold red]pipeline stalled[/]: {snapshot.pipeline.reason}")


@metric.command("show")
@one_line_errors
def show_cmd(
    metric_id: str = typer.Argument(..., help="Metric id."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """A metric's definition, state, lines and detail rows."""
    with connect() as conn:
        definition = readmodel.metric_definition(conn, metric_id)
        if definition is None:
            known = [
                r[0]
                for r in conn.execute(
                    "SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL"
                )
            ]
            raise CommandError(str(UnknownMetric([metric_id], known)))
        states = readmodel.metric_states(conn, [metric_id])
        detail = readmodel.metric_detail(conn, metric_id)
    state = states[0]
    payload: dict[str, Any] = {
        "state": state.model_dump(mode="json"),
        "definition": {
            k: definition[k]
            for k in (
                "description",
                "how_to_read",
                "methodology",
                "sources",
                "value_sql",
                "detail_sql",
                "file_path",
            )
        },
        "detail": detail,
    }
    if as_json:
        print(json.dumps(payload, default=str))
        return
    print(f"{state.name} ({state.metric_id}) — {state.status.upper()}: {state.reason}")
    print(
        f"value: {'—' if state.value is None else format_number(state.value, state.unit)}  period: {state.period}"
    )
    print(f"lines: norm {state.norm_value}  alert {state.alert_value}  target {state.target_value}")
    print(f"freshness: {state.freshness} — {state.freshness_reason}")
    print(f"owner: {state.owner or '—'}  verification: {state.verification_state}")
    if state.error:
        print(f"error: {state.error}")
    print(f"\n{definition['description']}\nHow to read: {definition['how_to_read']}")
    print(f"\n-- @value ({definition['file_path']})\n{definition['value_sql']}")
    if detail and detail.get("rows"):
        print("\ndetail:")
        print("  " + " | ".join(detail["columns"]))
        for row in detail["rows"][:10]:
            print("  " + " | ".join("" if v is None else str(v) for v in row))


def register(app: typer.Typer) -> None:
    app.command("sync")(one_line_errors(sync_cmd))
    app.command("compute")(one_line_errors(compute_cmd))
    app.command("status")(one_line_errors(status_cmd))
    app.add_typer(metric, name="metric")
