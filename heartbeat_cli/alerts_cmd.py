"""`heartbeat alerts evaluate | deliver | test CHANNEL | snooze ID --until | outbox`."""

from __future__ import annotations

import getpass
import json
import re
import time
from datetime import datetime, timedelta, tzinfo
from typing import Any

import typer

from heartbeat_cli.errors import CommandError, one_line_errors
from heartbeat_core import alerts, clock
from heartbeat_core.alerts.config import CHANNELS, configured_channels
from heartbeat_core.db import connect
from heartbeat_core.db.migrate import migrate
from heartbeat_core.formatting import counted, format_moment, plural
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.settings import get_settings

group = typer.Typer(help="Alerts: evaluate transitions, deliver the outbox, test a channel, snooze a metric.",
                    no_args_is_help=True)  # fmt: skip

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(min|m|h|d|w)$", re.IGNORECASE)
_UNITS = {"min": 60, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_until(text: str) -> datetime | None:
    """`4h`, `90min`, `2d`, an ISO moment (naive = HEARTBEAT_TIMEZONE), or `off` to lift the snooze."""
    raw = text.strip()
    if raw.lower() in ("off", "none", "now", ""):
        return None
    match = _DURATION.match(raw)
    if match:
        return clock.now() + timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise CommandError(
            f"--until {raw!r}: expected a duration (4h, 90min, 2d), an ISO time (2026-12-01T09:00) or 'off'"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_settings().tz)
    return moment


def _print(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, default=str))


@group.command("evaluate")
@one_line_errors
def evaluate_cmd(
    no_deliver: bool = typer.Option(False, "--no-deliver", help="Queue notifications, do not send them."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Evaluate every metric against every configured channel now; queue and send what changed."""
    with connect() as conn:
        migrate(conn)
        report = alerts.evaluate(conn)
        delivery = None if no_deliver else alerts.deliver(conn)
    if as_json:
        _print({"evaluation": report.as_json(), "delivery": delivery.as_json() if delivery else None})
    else:
        if not report.channels:
            print("no alert channel configured (HEARTBEAT_SLACK_WEBHOOK_URL, _TELEGRAM_*, _WEBHOOK_URL)")
        for name in report.channels:
            events = report.notifications.get(name, [])
            print(f"{name}: {counted(len(events), 'notification')}")
            for event in events:
                print(f"  {event.headline}")
        if delivery:
            print(delivery_line(delivery, clock.now(), get_settings().tz))
    if delivery and delivery.failed:
        raise typer.Exit(1)


def delivery_line(delivery: alerts.DeliveryReport, now: datetime, tz: tzinfo) -> str:
    """`delivered 2, failed 0, waiting 1; next attempt 06:14 UTC (in 2 min)`."""
    line = f"delivered {len(delivery.sent)}, failed {len(delivery.failed)}, waiting {len(delivery.retrying)}"
    if delivery.next_attempt_at:
        line += f"; next attempt {format_moment(delivery.next_attempt_at, now, tz)}"
    if delivery.unconfigured:
        line += f"; pending for unconfigured {plural(len(delivery.unconfigured), 'channel')}: {', '.join(delivery.unconfigured)}"
    return line


@group.command("deliver")
@one_line_errors
def deliver_cmd(
    watch: bool = typer.Option(False, "--watch", help="Keep delivering: wait for the next due row, forever."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Send what is due in the outbox (one pass; --watch to keep going, e.g. beside cron)."""
    while True:
        with connect() as conn:
            migrate(conn)
            delivery = alerts.deliver(conn)
        if as_json:
            _print(delivery.as_json())
        else:
            print(delivery_line(delivery, clock.now(), get_settings().tz))
        if not watch:
            if delivery.failed:
                raise typer.Exit(1)
            return
        wait = 30.0
        if delivery.next_attempt_at is not None:
            wait = min(max((delivery.next_attempt_at - clock.now()).total_seconds(), 1.0), 30.0)
        time.sleep(wait)  # the CLI's own pacing between passes; deliver() itself never sleeps


@group.command("test")
@one_line_errors
def test_cmd(channel: str = typer.Argument(..., help=f"One of: {', '.join(CHANNELS)}.")) -> None:
    """Send a test message straight to CHANNEL and print its answer."""
    try:
        result = alerts.send_test(channel.strip().lower())
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if result.outcome != "sent":
        raise CommandError(f"{channel}: {result.error or result.outcome}")
    print(f"{channel}: test message sent (HTTP {result.status})")


@group.command("snooze")
@one_line_errors
def snooze_cmd(
    metric_id: str = typer.Argument(..., help="Metric id."),
    until: str = typer.Option(..., "--until", help="4h, 90min, 2d, an ISO time, or 'off' to lift."),
    actor: str = typer.Option(None, "--actor", help="Who snoozes (default: the OS user)."),
    reason: str = typer.Option(None, "--reason", help="Why, for the record."),
) -> None:
    """Silence a metric's alerts on every channel until a time."""
    moment = parse_until(until)
    who = actor or f"cli:{getpass.getuser()}"
    with connect() as conn:
        migrate(conn)
        try:
            result = alerts.snooze(conn, metric_id, moment, who, reason)
        except UnknownMetric as exc:
            raise CommandError(str(exc)) from None
        except alerts.SnoozeInputError as exc:
            raise CommandError(str(exc)) from None
    if result.until is None:
        print(f"{metric_id}: not snoozed")
    else:
        until = format_moment(result.until, clock.now(), get_settings().tz)
        print(f"{metric_id}: snoozed until {until} by {result.actor}")


@group.command("outbox")
@one_line_errors
def outbox_cmd(
    state: str = typer.Option(None, "--state", help="pending, sent or failed."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The newest outbox rows: what was sent, what waits, what failed and why."""
    with connect() as conn:
        migrate(conn)
        rows = alerts.outbox_rows(conn, limit, state)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    names = ", ".join(c.name for c in configured_channels()) or "none"
    print(f"configured channels: {names}")
    for r in rows:
        extra = f" — {r['last_error']}" if r["last_error"] and r["state"] != "sent" else ""
        print(f"#{r['id']} {r['channel']} {r['state']} attempts={r['attempts']} {r['summary']}{extra}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="alerts")
