"""`heartbeat ack SUBJECT` (acknowledge a metric or an entity) and `heartbeat changes --since` (the feed)."""

from __future__ import annotations

import getpass
import json
from datetime import datetime, tzinfo

import typer

from heartbeat_cli.alerts_cmd import parse_until
from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import clock
from heartbeat_core.alerts.acknowledge import AcknowledgeInputError, acknowledge
from heartbeat_core.db import connect
from heartbeat_core.db.migrate import migrate
from heartbeat_core.formatting import format_date, format_moment
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel.changes import Changes, changes_since
from heartbeat_core.settings import get_settings


def ack_cmd(
    subject: str = typer.Argument(
        ..., help="A metric id (or metric:<id>), or an entity <type>:<key> (client:42)."
    ),
    note: str = typer.Option(None, "--note", help="What is being done about it."),
    until: str = typer.Option(None, "--until", help="4h, 2d, an ISO time; default: until lifted."),
    by: str = typer.Option(None, "--by", help="Who acknowledges (default: the OS user)."),
    lift: bool = typer.Option(False, "--lift", help="Stop acknowledging."),
) -> None:
    """Acknowledge a red: its reminders stop (an entity in every metric, with what it owns: a client's invoices); a new
    entity still alerts."""
    moment = parse_until(until) if until else None
    who = by or f"cli:{getpass.getuser()}"
    with connect() as conn:
        migrate(conn)
        try:
            result = acknowledge(conn, subject, who, note, moment, lift=lift)
        except (UnknownMetric, AcknowledgeInputError) as exc:
            raise CommandError(str(exc)) from None
    if result is None:
        print(f"{subject}: not acknowledged")
    else:
        end = f" until {format_moment(result.until, clock.now(), get_settings().tz)}" if result.until else ""
        print(
            f"{result.subject}: acknowledged by {result.by}{end}"
            + (f" — {result.note}" if result.note else "")
        )


def changes_cmd(
    since: str = typer.Option("24h", "--since", help="A duration back (24h, 2d) or an ISO time."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """What changed since a moment: colours, entities new / worse / gone, acknowledgements, sources."""
    ahead = parse_until(since)
    if ahead is None:
        raise CommandError(f"--since {since!r}: expected a duration (24h, 2d) or an ISO time")
    now = clock.now()
    moment = now - (ahead - now) if ahead > now else ahead  # "24h" means 24 hours back
    with connect() as conn:
        migrate(conn)
        feed = changes_since(conn, moment, now)
    if as_json:
        print(json.dumps(feed.model_dump(mode="json")))
        return
    print("\n".join(changes_lines(feed, now, get_settings().tz)))


def changes_lines(feed: Changes, now: datetime, tz: tzinfo) -> list[str]:
    """The feed as `heartbeat changes` prints it: `since 24 Nov 06:12 UTC (24.0 h ago):`, then one line a
    change, days as `24 Nov`."""
    today = clock.business_day(now, tz)
    lines = [f"since {format_moment(feed.since, now, tz)}:"]
    for c in feed.colours:
        day = format_date(c.as_of_date, today)
        lines.append(f"  colour  {c.metric_id}: {c.before} -> {c.after} ({day}): {c.reason}")
    for e in feed.entity_events:
        day = format_date(e.as_of_date, today)
        lines.append(f"  entity  {e.metric_id}: {e.kind} {e.type} {e.label or e.key} ({day})")
    for a in feed.acknowledgements:
        lines.append(f"  ack     {a.subject}: {a.action} by {a.by}" + (f" — {a.note}" if a.note else ""))
    for s in feed.sources:
        lines.append(f"  source  {s.source}: {s.last_status or '?'}, {s.freshness} ({s.freshness_reason})")
    if len(lines) == 1:
        lines.append("  nothing changed")
    return lines


def register(app: typer.Typer) -> None:
    one = one_line_errors
    app.command("ack")(one(ack_cmd))
    app.command("changes")(one(changes_cmd))
