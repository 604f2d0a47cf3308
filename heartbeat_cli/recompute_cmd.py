"""`heartbeat recompute` (cron's entry to the one refresh path) and `heartbeat typical refresh`."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core.formatting import counted
from heartbeat_core.jobs.ledger import JobView, wait_for_job
from heartbeat_core.jobs.runner import JobTicket, request_recompute, request_typical_refresh
from heartbeat_core.metrics.registry import UnknownMetric

typical_app = typer.Typer(
    help="The rolling typical band (μ ± σ) of rolling_stat metrics.", no_args_is_help=True
)

EXIT_CODES = {"succeeded": 0}


def _split_ids(raw: list[str] | None) -> list[str] | None:
    ids = [part for item in raw or [] for part in re.split(r"[,\s]+", item) if part]
    return ids or None


def _line(view: JobView) -> str:
    step = f" {view.current_step}" if view.current_step else ""
    return f"job {view.job_id} {view.state} {view.phase}{step} ({view.done}/{view.total})"


def _summary(view: JobView) -> str:
    failed_sources = [s.source for s in view.sources if s.state == "failed"]
    failed_metrics = [m.metric_id for m in view.metrics if m.state == "failed"]
    parts = [f"job {view.job_id} {view.state} in {view.seconds or 0:.1f} s"]
    if view.sources:
        parts.append(f"{len(view.sources) - len(failed_sources)}/{len(view.sources)} sources landed")
    if view.metrics:
        parts.append(f"{len(view.metrics) - len(failed_metrics)}/{len(view.metrics)} metrics computed")
    text = ", ".join(parts)
    if view.error:
        text += f" — {view.error}"
    return text


def _follow(ticket: JobTicket, *, as_json: bool, quiet: bool = False) -> JobView:
    """Wait for the job, drawing progress: a rich bar on a terminal, plain lines otherwise."""
    if as_json or quiet:
        return wait_for_job(ticket.job_id)
    if sys.stdout.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("[bold]job {task.fields[job]}[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task("starting", total=None, job=ticket.job_id)

            def draw(view: JobView) -> None:
                progress.update(
                    task,
                    description=f"{view.phase} {view.current_step or ''}".strip(),
                    completed=view.done,
                    total=view.total or None,
                )

            return wait_for_job(ticket.job_id, on_progress=draw)

    last: list[str] = []

    def emit(view: JobView) -> None:
        line = _line(view)
        if not last or last[-1] != line:
            print(line, flush=True)
            last.append(line)

    return wait_for_job(ticket.job_id, on_progress=emit)


def _finish(ticket: JobTicket, view: JobView | None, as_json: bool) -> None:
    state = view.state if view else ticket.state
    if as_json:
        print(json.dumps({"job_id": ticket.job_id, "coalesced": ticket.coalesced, "state": state}))
    elif view is not None:
        print(_summary(view))
        for source in view.sources:
            if source.state == "failed":
                print(f"error: source {source.source}: {source.error}", file=sys.stderr)
        for metric in view.metrics:
            if metric.state == "failed":
                print(f"error: metric {metric.metric_id}: {metric.error}", file=sys.stderr)
        for hook in view.hooks:
            if hook.state == "failed":
                print(f"error: hook {hook.name}: {hook.error}", file=sys.stderr)
    else:
        print(f"job {ticket.job_id} already {ticket.state}; joined it (coalesced). Use --wait to follow it.")
    if view is not None and EXIT_CODES.get(view.state, 1):
        raise typer.Exit(1)


@one_line_errors
def recompute_cmd(
    metrics: list[str] = typer.Option(
        None, "--metrics", "-m", help="Metric ids, comma-separated (default: every active metric)."
    ),
    no_ingest: bool = typer.Option(False, "--no-ingest", help="Compute from already-landed data only."),
    wait: bool = typer.Option(False, "--wait", help="If a job is already running, wait for it to end."),
    as_json: bool = typer.Option(False, "--json", help="Print {job_id, coalesced, state} only."),
    requested_by: str = typer.Option(None, "--requested-by", help="Who asks (recorded in the job ledger)."),
    no_sync: bool = typer.Option(
        False, "--no-sync", help="Skip syncing the project's files (migrate, metric_defs, audit_cuts) first."
    ),
) -> None:
    """Sync the project's files, then ingest the metrics' sources and recompute them through the one
    single-flight job (for cron): a new or edited metric file counts on the next run, a fresh marts database
    is migrated.

    Exit code: 0 succeeded (or joined a running job without --wait), 1 partial or failed.
    """
    if not no_sync:
        from heartbeat_core.sync import sync_project

        synced = sync_project()
        if not as_json:
            print(f"synced: {synced.metrics.summary()}")
    try:
        ticket = request_recompute(
            _split_ids(metrics) or "all",
            trigger="cli",
            ingest=not no_ingest,
            requested_by=requested_by,
            background=True,
        )
    except UnknownMetric as exc:
        raise CommandError(str(exc)) from None
    view = None
    if not ticket.coalesced or wait:
        view = _follow(ticket, as_json=as_json)
    _finish(ticket, view, as_json)


@typical_app.command("refresh")
@one_line_errors
def typical_refresh_cmd(
    ids: list[str] = typer.Argument(None, help="Metric ids (default: every rolling_stat metric)."),
    rescore_history: bool = typer.Option(
        False, "--rescore-history", help="Also re-score past rows with each day's point-in-time band."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Recompute the rolling μ ± σ bands now and re-score today's rows (through the single-flight job)."""
    try:
        ticket = request_typical_refresh(_split_ids(ids) or "all", trigger="cli", background=True)
        view = _follow(ticket, as_json=as_json, quiet=True)
        if ticket.coalesced:  # a recompute was running: after it, refresh the bands ourselves
            ticket = request_typical_refresh(
                _split_ids(ids) or "all", trigger="cli", background=True, wait=True
            )
            view = _follow(ticket, as_json=as_json, quiet=True)
    except UnknownMetric as exc:
        raise CommandError(str(exc)) from None
    rescored = 0
    if rescore_history:
        from heartbeat_core.db import connect
        from heartbeat_core.readmodel import typical

        with connect() as conn:
            rescored = typical.rescore_history(conn, _split_ids(ids))
            conn.commit()
    payload: dict[str, Any] = {
        "job_id": ticket.job_id,
        "coalesced": ticket.coalesced,
        "state": view.state,
        "rescored_rows": rescored,
    }
    if as_json:
        print(json.dumps(payload))
    else:
        print(_summary(view) + (f"; re-scored {counted(rescored, 'past row')}" if rescore_history else ""))
    if view.state != "succeeded":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("recompute")(recompute_cmd)
    app.add_typer(typical_app, name="typical")
