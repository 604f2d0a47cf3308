"""Alerts on entity events: a new entity inside a metric already red or amber is news even though the colour
did not change ("red since September" must not hide the second client).

Per channel, an entity event is told when the channel was already told the metric is red or amber (else the
metric's own red message lists the rows), the metric is still red or amber, and the event's idempotency key
(`entity:{metric}/{type}:{key}:entity_{kind}:event:{event id}`) is not in the channel's notification log:
so nothing is told twice on re-evaluation. Events of one metric and kind become one `AlertEvent` naming each
entity, its weight and its detail rows; `gone` becomes a resolved line. An acknowledged entity still alerts
when it is new; its worse and gone events are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.alerts.kinds import AlertKind, entity_subject_id, idempotency_key
from heartbeat_core.alerts.messages import AlertEvent, detail_lines, event_from_state
from heartbeat_core.formatting import format_day, format_number, format_since
from heartbeat_core.readmodel.snapshot import MetricState

WINDOW = timedelta(days=2)  # events older than this are history, not news
ENTITIES_PER_EVENT = 10
_KIND: dict[str, AlertKind] = {"new": "entity_new", "worse": "entity_worse", "gone": "entity_gone"}


@dataclass(frozen=True)
class PendingEvent:
    event_id: int
    metric_id: str
    entity_type: str
    key: str
    kind: str
    as_of_date: date
    label: str | None
    weight: float | None
    previous_weight: float | None

    @property
    def subject_id(self) -> str:
        return entity_subject_id(self.metric_id, self.entity_type, self.key)

    @property
    def alert_kind(self) -> AlertKind:
        return _KIND[self.kind]

    @property
    def idempotency_key(self) -> str:
        return idempotency_key("entity", self.subject_id, self.alert_kind, "event", str(self.event_id))


def recent_events(conn: psycopg.Connection[Any], now: datetime) -> dict[str, list[PendingEvent]]:
    """Entity events recorded within the window, by metric, oldest first."""
    rows = conn.execute(
        """SELECT id, metric_id, entity_type, entity_key, kind, as_of_date, label, weight, previous_weight
           FROM heartbeat.entity_event WHERE recorded_at > %s ORDER BY id""",
        (now - WINDOW,),
    ).fetchall()
    found: dict[str, list[PendingEvent]] = {}
    for row in rows:
        found.setdefault(row[1], []).append(PendingEvent(*row))
    return found


def told_keys(conn: psycopg.Connection[Any], channel: str, now: datetime) -> set[str]:
    """Entity notification keys this channel has in its log (over the window and a margin)."""
    rows = conn.execute(
        "SELECT idempotency_key FROM heartbeat.alert_notification WHERE channel = %s AND subject_type = 'entity'"
        " AND created_at > %s",
        (channel, now - 2 * WINDOW),
    ).fetchall()
    return {r[0] for r in rows}


def _entity_rows(detail: dict[str, Any] | None, key_column: str | None, key: str) -> dict[str, Any] | None:
    """The stored detail rows of one entity (same columns)."""
    if not detail or not key_column or key_column not in (detail.get("columns") or []):
        return None
    index = list(detail["columns"]).index(key_column)
    rows = [row for row in detail.get("rows") or [] if str(row[index]) == key]
    return {**detail, "rows": rows}


def _line(event: PendingEvent, unit: str, today: date) -> str:
    name = event.label or f"{event.entity_type} {event.key}"
    ident = f" ({event.entity_type} {event.key})" if event.label and event.label != event.key else ""
    parts = [f"{name}{ident}"]
    if event.weight is not None:
        parts.append(format_number(event.weight, unit))
    if event.kind == "worse" and event.previous_weight is not None:
        parts.append(f"up from {format_number(event.previous_weight, unit)}")
    if event.kind == "gone":
        parts.append(f"left the metric {format_day(event.as_of_date, today)}")
    else:
        parts.append(format_since(event.as_of_date, today).replace("since", "in it since"))
    return " · ".join(parts)


def entity_alerts(
    state: MetricState,
    told: str | None,
    events: list[PendingEvent],
    *,
    already: set[str],
    acknowledged: set[str],
    detail: dict[str, Any] | None,
    key_column: str | None,
    public_url: str,
) -> list[AlertEvent]:
    """The entity alerts of one metric on one channel (`told`: the colour the channel was told before)."""
    if told not in ("red", "amber") or state.status not in ("red", "amber"):
        return []
    unit = (state.entities.weight_unit if state.entities else None) or "count"
    today = state.as_of_date or clock.now().date()
    grouped: dict[str, list[PendingEvent]] = {}
    for event in events:
        covered = f"{event.entity_type}:{event.key}" in acknowledged
        if event.idempotency_key in already or (covered and event.kind != "new"):
            continue
        grouped.setdefault(event.kind, []).append(event)
    alerts = []
    for kind, chosen in grouped.items():
        alert = event_from_state(
            state, _KIND[kind], "event", previous=told, repeat=False, detail=None, public_url=public_url,
            key=chosen[0].idempotency_key,
        )  # fmt: skip
        lines: list[str] = []
        for event in chosen[:ENTITIES_PER_EVENT]:
            lines.append(_line(event, unit, today))
            rows, _ = detail_lines(_entity_rows(detail, key_column, event.key)) if kind != "gone" else ([], 0)
            lines.extend(f"↳ {row}" for row in rows)
        alerts.append(
            alert.model_copy(
                update={
                    "subject_type": "entity",
                    "entity_type": chosen[0].entity_type,
                    "entity_names": [e.label or f"{e.entity_type} {e.key}" for e in chosen],
                    "entity_keys": [(e.subject_id, e.idempotency_key) for e in chosen],
                    "details": lines,
                    "more_details": max(len(chosen) - ENTITIES_PER_EVENT, 0),
                }
            )
        )
    return alerts
