"""What the alert layer knows about one metric, for surfaces ("is this snoozed? who was told, when?")."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock


def metric_alerts(conn: psycopg.Connection[Any], metric_id: str, recent: int = 5) -> dict[str, Any]:
    """`{"snoozed_until", "snoozed_by", "snooze_reason", "channels": {name: {...}}, "recent": [...]}`.

    `channels` holds, per channel, the level it was last told (`status_notified`: red, amber or null),
    when, and whether it was told the data is stale; `recent` the newest notifications with their delivery
    state. Plain JSON-able values.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT until, actor, reason FROM heartbeat.alert_snooze WHERE metric_id = %s AND until > %s",
            (metric_id, clock.now()),
        )
        snooze = cur.fetchone()
        cur.execute(
            """SELECT channel, status_level, status_notified, status_notified_at, freshness_level, stale_notified,
                      stale_notified_at, evaluated_at
               FROM heartbeat.alert_state WHERE metric_id = %s ORDER BY channel""",
            (metric_id,),
        )
        channels = {r.pop("channel"): _jsonable(r) for r in cur.fetchall()}
        cur.execute(
            """SELECT n.channel, n.kind, n.repeat, n.previous, n.status, n.reason, n.created_at,
                      o.state AS delivery, o.sent_at, o.last_error
               FROM heartbeat.alert_notification n
               LEFT JOIN heartbeat.alert_outbox o ON o.id = n.outbox_id
               WHERE n.metric_id = %s ORDER BY n.id DESC LIMIT %s""",
            (metric_id, recent),
        )
        notifications = [_jsonable(r) for r in cur.fetchall()]
    return {
        "snoozed_until": snooze["until"].isoformat() if snooze else None,
        "snoozed_by": snooze["actor"] if snooze else None,
        "snooze_reason": snooze["reason"] if snooze else None,
        "channels": channels,
        "recent": notifications,
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
