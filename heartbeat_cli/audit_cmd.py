"""`heartbeat audit refresh | list | show`: audit cut snapshots from the command line (and cron)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, tzinfo
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import clock
from heartbeat_core.audit import read
from heartbeat_core.audit.discovery import WINDOWS
from heartbeat_core.audit.refresh import refresh_cuts
from heartbeat_core.audit.registry import UnknownCut
from heartbeat_core.db import connect
from heartbeat_core.db.migrate import migrate
from heartbeat_core.formatting import counted, format_duration, format_when
from heartbeat_core.settings import get_settings

audit = typer.Typer(help="Audit cuts: small charts with prose behind the /audit pages.", no_args_is_help=True)

FRESHNESS_STYLE = {"fresh": "green", "amber": "yellow", "red": "bold red"}


@audit.command("refresh")
@one_line_errors
def refresh_cmd(
    cuts: list[str] = typer.Argument(None, help="Cut ids (default: every cut)."),
    window: list[str] = typer.Option(None, "--window", "-w", help="Only these windows: 7d, 30d, 90d."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Sync audit_cuts/ into the registry and recompute snapshots; a failing cut keeps its last good one."""
    for w in window or []:
        if w not in WINDOWS:
            raise CommandError(f"--window {w!r}: expected one of {', '.join(WINDOWS)}")
    with connect() as conn:
        migrate(conn)
    try:
        report = refresh_cuts(cuts or None, window or None)
    except UnknownCut as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        for problem in report.problems:
            print(f"error: {problem}", file=sys.stderr)
        for outcome in report.failed:
            print(f"error: {outcome.cut_id} [{outcome.window}]: {outcome.error}", file=sys.stderr)
        computed = len(report.outcomes) - len(report.failed)
        print(
            f"refreshed {computed} of {counted(len(report.outcomes), 'snapshot')} in {report.seconds:.1f} s; "
            f"{len(report.failed)} failed (kept their last good snapshot)"
        )
    if not report.ok:
        raise typer.Exit(1)


@audit.command("list")
@one_line_errors
def list_cmd(
    page: str = typer.Option(None, "--page", help="Only this page."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Every registered cut with its page, owner, verification and the state of each window's snapshot."""
    with connect() as conn:
        rows = read.registry_view(conn)
    if page:
        rows = [r for r in rows if r["page"] == page]
    if as_json:
        print(json.dumps(rows, default=str))
        return
    console = Console(highlight=False)
    table = Table(title="Audit cuts", expand=False)
    for column in ("page", "cut", "kind", "verified", "owner", "snapshots"):
        table.add_column(column)
    for row in rows:
        chips = []
        for snap in row["snapshots"]:
            style = FRESHNESS_STYLE.get(snap["freshness"], "dim")
            age = format_duration(snap["age_s"]) if snap["age_s"] is not None else "never"
            mark = " [bold red]error[/]" if snap["error"] else ""
            chips.append(f"[{style}]{snap['window']} {age}[/]{mark}")
        table.add_row(
            row["page"],
            f"{row['cut_id']}\n[dim]{row['title']}[/]",
            row["kind"],
            "yes" if row["verification_state"] == "verified" else "no",
            row["owner"] or "—",
            "  ".join(chips) + ("  [yellow]out of date[/]" if row.get("out_of_date") else "")
            or "[dim]not computed[/]",
        )
    console.print(table)
    console.print(counted(len(rows), "cut"))


@audit.command("show")
@one_line_errors
def show_cmd(
    cut_id: str = typer.Argument(..., help="Cut id."),
    window: str = typer.Option(None, "--window", "-w", help="7d, 30d or 90d (default: the cut's own)."),
    as_json: bool = typer.Option(False, "--json", help="The whole snapshot as JSON."),
) -> None:
    """One cut's snapshot: the takeaway and its top rows."""
    try:
        with connect() as conn:
            view = read.cut_view(conn, cut_id, window)
    except (UnknownCut, read.UnknownWindow) as exc:
        raise CommandError(str(exc)) from None
    summary: dict[str, Any] = read.summarize_cut(view)
    if as_json:
        print(json.dumps({**summary, "payload": view["payload"]}, default=str))
        return
    print(f"{view['title']} ({cut_id}, {view['window']}) — {view['freshness_reason']}")
    if view["error"]:
        print(f"last refresh failed: {view['error']}")
    print(f"takeaway: {summary.get('takeaway') or '—'}")
    now, tz = clock.now(), get_settings().tz
    for row in summary.get("top", []):
        print("  " + "  ".join(f"{k}: {shown(v, now, tz)}" for k, v in row.items()))


def shown(value: Any, now: datetime, tz: tzinfo) -> str:
    """A top row's value for people: a day or a moment as they read it (`16 Oct (40 d ago)`), a point as
    `3 Nov (30 d ago): 1,043`, anything else as it is."""
    if isinstance(value, dict):
        if set(value) == {"x", "y"}:
            return f"{shown(value['x'], now, tz)}: {shown(value['y'], now, tz)}"
        return ", ".join(f"{k} {shown(v, now, tz)}" for k, v in value.items())
    return format_when(value, now, tz) or str(value)


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
