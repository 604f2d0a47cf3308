"""Retired metrics: a metric whose file left metric_defs/ (`heartbeat sync` sets `retired_at`; a rename is a
removal plus an addition) is no longer in the read model, so nothing would ever resolve what a channel was
told about it. At the next evaluation each channel that was told it is red, amber or stale gets one `resolved`
event saying why ("retired: removed from metric_defs/ — no longer watched"), naming the entities still open
in it; then the channel's view of it is dropped, so a metric restored later starts fresh (a channel with no
view starts from "green, fresh, nothing told").

Told once: the view is gone after the first evaluation, and the key `metric:{id}:resolved:{track}:{UTC moment
of retirement}` is unique per channel. A snooze or acknowledgement does not hold the resolution back: they are
about a problem, and the metric is no longer watched. The entities' own alerts are closed under the metric's
message (logged as `resolved` for subject `entity`, keyed at the same moment), as a metric's green covers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

from heartbeat_core.alerts.kinds import AlertKind, idempotency_key, utc_stamp
from heartbeat_core.alerts.messages import AlertEvent

RETIRED_REASON = "retired: removed from metric_defs/ — no longer watched"
_TOLD_KINDS = ("red", "amber", "implausible", "reminder", "stale")
MetricTrack = Literal["status", "freshness"]


@dataclass(frozen=True)
class RetiredMetric:
    """A metric `heartbeat sync` retired: what a message needs to name it."""

    metric_id: str
    name: str
    owner: str | None
    retired_at: datetime


def retired_metrics(conn: psycopg.Connection[Any]) -> dict[str, RetiredMetric]:
    rows = conn.execute(
        "SELECT metric_id, name, coalesce(owner, initial_owner), retired_at FROM heartbeat.metric_registry"
        " WHERE retired_at IS NOT NULL"
    ).fetchall()
    return {r[0]: RetiredMetric(*r) for r in rows}


@dataclass(frozen=True)
class _Told:
    """What one channel's view says it was told about a metric."""

    status_notified: str | None
    stale_notified: bool


def close_retired(
    conn: psycopg.Connection[Any], channel: str, retired: dict[str, RetiredMetric], public_url: str
) -> list[AlertEvent]:
    """The resolved events for the retired metrics this channel was told about; drops the channel's views
    of every retired metric (told or not), so each is told once and a restored metric starts fresh."""
    if not retired:
        return []
    rows = conn.execute(
        "DELETE FROM heartbeat.alert_state WHERE channel = %s AND metric_id = ANY(%s)"
        " RETURNING metric_id, status_notified, stale_notified",
        (channel, list(retired)),
    ).fetchall()
    events = []
    for metric_id, status_notified, stale_notified in sorted(rows):
        told = _Told(status_notified, stale_notified)
        if told.status_notified or told.stale_notified:
            last = _last_told(conn, channel, metric_id)
            entities = _open_entities(conn, channel, metric_id)
            events.append(retired_event(retired[metric_id], told, last, entities, public_url))
    return events


def retired_event(
    metric: RetiredMetric,
    told: _Told,
    last: dict[str, Any],
    entities: list[tuple[str, str]],
    public_url: str,
) -> AlertEvent:
    """One `resolved` event closing what the channel was told (`last`: the event it was last told)."""
    track: MetricTrack = "status" if told.status_notified else "freshness"
    stamp = utc_stamp(metric.retired_at)
    covers: list[tuple[str, str, AlertKind]] = [
        (subject_id, idempotency_key("entity", subject_id, "resolved", "event", stamp), "resolved")
        for subject_id, _ in entities
    ]
    return AlertEvent(
        metric_id=metric.metric_id,
        name=metric.name,
        kind="resolved",
        track=track,
        previous=told.status_notified or "stale",
        status="retired",
        reason=RETIRED_REASON,
        value=last.get("value"),
        value_text=last.get("value_text") or "—",
        unit=last.get("unit") or "count",
        status_since=last.get("status_since"),
        owner=last.get("owner") or metric.owner,
        url=f"{public_url}/",  # the metric's page is gone with it
        idempotency_key=idempotency_key("metric", metric.metric_id, "resolved", track, stamp),
        retired_at=metric.retired_at,
        details=[name for _, name in entities],  # the entities still open in it, closed with it
        covers=covers,
    )


def _last_told(conn: psycopg.Connection[Any], channel: str, metric_id: str) -> dict[str, Any]:
    """The metric's last problem event this channel logged (its value and since when), or {}."""
    row = conn.execute(
        "SELECT event FROM heartbeat.alert_notification WHERE channel = %s AND subject_type = 'metric'"
        " AND subject_id = %s AND kind = ANY(%s) ORDER BY id DESC LIMIT 1",
        (channel, metric_id, list(_TOLD_KINDS)),
    ).fetchone()
    return dict(row[0]) if row else {}


def _open_entities(conn: psycopg.Connection[Any], channel: str, metric_id: str) -> list[tuple[str, str]]:
    """(subject id, name) of the metric's entities this channel was told are in it (new or worse) since
    the metric last resolved on it, and not told gone since; named by their label."""
    rows = conn.execute(
        """SELECT n.subject_id, n.kind,
                  (SELECT s.label FROM heartbeat.entity_span s
                   WHERE s.metric_id = %(m)s AND s.entity_type || ':' || s.entity_key = split_part(n.subject_id, '/', 2)
                   ORDER BY s.last_seen DESC LIMIT 1)
           FROM (SELECT DISTINCT ON (subject_id) subject_id, kind FROM heartbeat.alert_notification
                 WHERE channel = %(c)s AND subject_type = 'entity' AND left(subject_id, length(%(m)s) + 1) = %(m)s || '/'
                   AND id > coalesce((SELECT max(id) FROM heartbeat.alert_notification
                                      WHERE channel = %(c)s AND subject_type = 'metric' AND subject_id = %(m)s
                                        AND kind = 'resolved'), 0)
                 ORDER BY subject_id, id DESC) n
           WHERE n.kind IN ('entity_new', 'entity_worse')
           ORDER BY n.subject_id""",
        {"c": channel, "m": metric_id},
    ).fetchall()
    return [
        (subject_id, label or subject_id.split("/", 1)[1].replace(":", " ", 1))
        for subject_id, _, label in rows
    ]
