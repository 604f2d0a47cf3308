"""Alerts on the same contract as the TV and `what_is_red`: transitions, repeats, snooze, an outbox.

What surfaces and jobs call:

    report = evaluate(conn, job_id=None)          # queue notifications for every transition (one transaction)
    delivery = deliver(conn)                      # one pass over the outbox; never sleeps
    next_due(conn)                                # when a pass would next send something (or None)
    evaluate_and_deliver(conn, job_id)            # both: the recompute job's alert phase
    snooze(conn, metric_id, until, actor, reason=None)  # until=None lifts it
    snoozes(conn), snoozed_until(conn, metric_id)
    metric_alerts(conn, metric_id)                # snooze, what each channel was told, recent notifications
    send_test(channel_name)                       # one test message, straight to the channel

The recompute job's alert phase is `evaluate_and_deliver` (called by `heartbeat_core.jobs.runner`). See
docs/alerts.md.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.alerts.channels import SendResult, channel, sign, verify
from heartbeat_core.alerts.config import (
    CHANNELS,
    ChannelConfig,
    configured_channels,
    followup_s,
    is_configured,
)
from heartbeat_core.alerts.evaluate import EvaluationReport, decide, evaluate
from heartbeat_core.alerts.messages import AlertEvent
from heartbeat_core.alerts.outbox import DeliveryReport, deliver, next_due, outbox_rows
from heartbeat_core.alerts.snooze import Snooze, SnoozeInputError, snooze, snoozed_until, snoozes
from heartbeat_core.alerts.view import metric_alerts
from heartbeat_core.settings import get_settings

__all__ = [
    "CHANNELS",
    "AlertEvent",
    "ChannelConfig",
    "DeliveryReport",
    "EvaluationReport",
    "SendResult",
    "Snooze",
    "SnoozeInputError",
    "configured_channels",
    "decide",
    "deliver",
    "evaluate",
    "evaluate_and_deliver",
    "metric_alerts",
    "next_due",
    "outbox_rows",
    "send_test",
    "sign",
    "snooze",
    "snoozed_until",
    "snoozes",
    "verify",
]


def evaluate_and_deliver(conn: psycopg.Connection[Any], job_id: int | None = None) -> dict[str, Any]:
    """The recompute job's alert phase: evaluate (committed), then deliver.

    After the first pass, rows a channel rate-limited (a 429 with a short wait) get further
    passes while they fall due within `HEARTBEAT_ALERT_FOLLOWUP` (default 60 s of wall time; 0 turns
    it off), so a cron-only setup does not hold a red alert until the next job. The wait is between
    passes, never inside a request; anything later is left to the next job or `heartbeat alerts deliver`.
    """
    report = evaluate(conn, job_id)
    delivery = deliver(conn)
    passes = [delivery]
    budget_end = time.monotonic() + followup_s()
    while delivery.rate_limited and delivery.next_attempt_at is not None and len(passes) < 20:
        wait = (delivery.next_attempt_at - clock.now()).total_seconds()
        if time.monotonic() + max(wait, 0.0) > budget_end:
            break
        if wait > 0:
            time.sleep(wait)
        delivery = deliver(conn)
        passes.append(delivery)
    merged = passes[-1].as_json()
    merged["sent"] = sum(len(p.sent) for p in passes)
    merged["failed"] = sum(len(p.failed) for p in passes)
    merged["passes"] = len(passes)
    return {"evaluation": report.as_json(), "delivery": merged}


def send_test(name: str) -> SendResult:
    """Send one test message to a configured channel, bypassing the outbox; returns the channel's answer."""
    if name not in CHANNELS:
        raise ValueError(f"unknown channel {name!r}; expected one of {', '.join(CHANNELS)}")
    if not is_configured(name):
        needs = {
            "slack": "HEARTBEAT_SLACK_WEBHOOK_URL",
            "telegram": "HEARTBEAT_TELEGRAM_BOT_TOKEN and HEARTBEAT_TELEGRAM_CHAT_ID",
            "webhook": "HEARTBEAT_WEBHOOK_URL",
        }[name]
        raise ValueError(f"channel {name} is not configured: set {needs}")
    settings = get_settings()
    sent = clock.now().astimezone(settings.tz)
    text = (
        f"Heartbeat test message (sent {sent.day} {sent:%b %H:%M} {sent.tzname()}): alerts reach this channel."
        f" {settings.public_url}/"
    )
    sender = channel(name)
    return sender.send(sender.test_payload(text), f"test:{clock.now().timestamp():.0f}")
