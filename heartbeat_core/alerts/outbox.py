"""Delivery of the alert outbox: in order per channel, retried with backoff, each row sent at most once
unless the process dies inside the one request it is making.

One pass (`deliver`) walks each channel's queue oldest first. For each row, in one transaction:
take the channel's advisory lock (so two deliverers never interleave one channel), claim the oldest
pending row with `FOR UPDATE SKIP LOCKED`, make the HTTP request, record the outcome, commit. The claim is
the row lock, so "mark sent" and "release the claim" are the same commit, and a deliverer that dies
releases its claim with its connection: the next deliverer picks the row up.

The crash window, and the choice: if the process dies after the channel accepted the request but before
the commit, the row is still pending and is sent again by the next deliverer — at-least-once. We prefer a
rare duplicate to a lost red alert. The window is one request (≤ 10 s timeout); Telegram's split parts are
separate rows, so at most one part repeats; the webhook channel carries the idempotency key in
`X-Heartbeat-Idempotency-Key` so its receivers can drop the repeat.

Outcomes: sent → `sent`; 429 → retry after the channel's wait (`Retry-After`, `parameters.retry_after`),
not counted as a failed attempt; 5xx/network → retry after 30 s · 2^(attempt−1), capped at 1 h, until
`HEARTBEAT_ALERT_MAX_ATTEMPTS`, then `failed`; any other 4xx → `failed` at once, with the channel's answer.
A channel whose head row waits blocks the rows behind it (messages stay in order). Nothing here sleeps:
`next_due` says when a pass would next send something, for whoever paces the passes (the scheduler inside
`heartbeat serve`, `heartbeat alerts deliver --watch`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from heartbeat_core import clock
from heartbeat_core.alerts import config
from heartbeat_core.alerts.channels import TIMEOUT_S, Channel, SendResult, channel
from heartbeat_core.db import connect

DELIVER_LOCK_CLASS = 0x4842_4144  # "HBAD", with the channel's crc32 as the second key
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 3600.0


def backoff_s(attempts: int) -> float:
    return min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)


def _channel_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFF_FFFF


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # channels another deliverer holds
    unconfigured: list[str] = field(default_factory=list)  # pending rows for a channel with no settings
    next_attempt_at: datetime | None = None
    rate_limited: bool = False  # some channel answered 429 in this pass

    def _due(self, moment: datetime) -> None:
        if self.next_attempt_at is None or moment < self.next_attempt_at:
            self.next_attempt_at = moment

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "failed": len(self.failed),
            "retrying": len(self.retrying),
            "busy": self.busy,
            "unconfigured": self.unconfigured,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "rate_limited": self.rate_limited,
        }


def _record(conn: psycopg.Connection[Any], row: dict[str, Any], result: SendResult, now: datetime) -> str:
    attempts = row["attempts"] + (0 if result.status == 429 else 1)
    if result.outcome == "sent":
        conn.execute(
            """UPDATE heartbeat.alert_outbox SET state = 'sent', sent_at = %s, last_attempt_at = %s,
                   attempts = %s, last_status = %s WHERE id = %s""",
            (now, now, row["attempts"] + 1, result.status, row["id"]),
        )
        return "sent"
    if result.outcome == "retry" and (result.status == 429 or attempts < config.max_attempts()):
        wait = result.retry_after_s if result.retry_after_s is not None else backoff_s(attempts)
        conn.execute(
            """UPDATE heartbeat.alert_outbox SET attempts = %s, next_attempt_at = %s, last_attempt_at = %s,
                   last_status = %s, last_error = %s WHERE id = %s""",
            (attempts, now + timedelta(seconds=wait), now, result.status, result.error, row["id"]),
        )
        return "retry"
    error = result.error or "failed"
    if result.outcome == "retry":
        error = f"gave up after {attempts} attempts; last: {error}"
    conn.execute(
        """UPDATE heartbeat.alert_outbox SET state = 'failed', attempts = %s, last_attempt_at = %s,
               last_status = %s, last_error = %s WHERE id = %s""",
        (max(attempts, 1), now, result.status, error, row["id"]),
    )
    return "failed"


def _deliver_channel(
    conn: psycopg.Connection[Any], sender: Channel, report: DeliveryReport, limit: int
) -> None:
    name = sender.name
    for _ in range(limit):
        with conn.transaction():
            locked = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (DELIVER_LOCK_CLASS, _channel_key(name))
            ).fetchone()
            if not locked or not locked[0]:
                report.busy.append(name)
                return
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    """SELECT id, idempotency_key, payload, attempts, next_attempt_at FROM heartbeat.alert_outbox
                       WHERE channel = %s AND state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                    (name,),
                )
                row = cur.fetchone()
            if row is None:
                return
            now = clock.now()
            if row["next_attempt_at"] > now:
                report._due(row["next_attempt_at"])
                return
            result = sender.send(row["payload"], row["idempotency_key"])
            outcome = _record(conn, row, result, clock.now())
        if outcome == "sent":
            report.sent.append(row["id"])
        elif outcome == "failed":
            report.failed.append(row["id"])
        else:
            report.retrying.append(row["id"])
            report.rate_limited = report.rate_limited or result.status == 429
            nxt = conn.execute(
                "SELECT next_attempt_at FROM heartbeat.alert_outbox WHERE id = %s", (row["id"],)
            )
            due = nxt.fetchone()
            if due:
                report._due(due[0])
            return


def deliver(
    conn: psycopg.Connection[Any] | None = None,
    *,
    channels: list[str] | None = None,
    limit_per_channel: int = 500,
) -> DeliveryReport:
    """One pass over the outbox: send every row that is due, oldest first per channel; never sleeps.

    Uses `conn` when it is an idle autocommit connection (each row then gets its own committed transaction),
    else opens its own, so a caller's open transaction never swallows the claims.
    `report.next_attempt_at` says when the earliest waiting row is due (call again then).
    """
    own: psycopg.Connection[Any] | None = None
    if conn is None or not conn.autocommit or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        own = connect(autocommit=True)
        conn = own
    report = DeliveryReport()
    try:
        configured = {c.name for c in config.configured_channels()}
        pending = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT channel FROM heartbeat.alert_outbox WHERE state = 'pending' ORDER BY 1"
            ).fetchall()
        ]
        if channels is not None:
            pending = [c for c in pending if c in channels]
        with httpx.Client(timeout=TIMEOUT_S) as client:
            for name in pending:
                if name not in configured:
                    report.unconfigured.append(name)
                    continue
                _deliver_channel(conn, channel(name, client=client), report, limit_per_channel)
    finally:
        if own is not None:
            own.close()
    return report


def next_due(conn: psycopg.Connection[Any], channels: Iterable[str] | None = None) -> datetime | None:
    """When the next pass would send something: the earliest `next_attempt_at` among each channel's head row
    (its oldest pending one; rows behind a waiting head wait with it, to keep order).

    Only `channels` count (default: the configured ones; rows for a channel without settings are never sent).
    None when nothing waits. A due head may still be in flight in another deliverer's claim.
    """
    names = sorted(c.name for c in config.configured_channels()) if channels is None else list(channels)
    if not names:
        return None
    row = conn.execute(
        """SELECT min(next_attempt_at) FROM (
               SELECT DISTINCT ON (channel) next_attempt_at FROM heartbeat.alert_outbox
               WHERE state = 'pending' AND channel = ANY(%s) ORDER BY channel, id) AS heads""",
        (names,),
    ).fetchone()
    return row[0] if row else None


def outbox_rows(
    conn: psycopg.Connection[Any], limit: int = 50, state: str | None = None
) -> list[dict[str, Any]]:
    """The newest outbox rows (for `heartbeat alerts outbox` and the surfaces), without payloads."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT id, channel, idempotency_key, evaluation_id, part, parts, summary, state, attempts,
                      next_attempt_at, last_attempt_at, last_status, last_error, sent_at, created_at
               FROM heartbeat.alert_outbox WHERE (%(state)s::text IS NULL OR state = %(state)s)
               ORDER BY id DESC LIMIT %(limit)s""",
            {"state": state, "limit": limit},
        )
        return cur.fetchall()
