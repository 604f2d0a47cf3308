"""The change feed: everything that changed since a moment, in one answer ("anything new since yesterday?").

Four kinds of change, each from its table of record:
- colour transitions: a metric-day whose status differs from the day before, computed after `since`
  (metric_history);
- entity events: new / worse / gone, recorded after `since` (entity_event);
- acknowledgements given or lifted, and snoozes, after `since` (operator_edit);
- sources attempted after `since`, with today's freshness verdict (source_state through `sources_status`).
Newest first within each list; each list is capped and says how many it left out.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core.readmodel.entities import EntityEvent, entity_events
from heartbeat_core.readmodel.freshness import sources_status

LIMIT = 100


class ColourChange(BaseModel):
    metric_id: str
    name: str
    as_of_date: date
    before: str
    after: str
    reason: str
    computed_at: datetime


class AckChange(BaseModel):
    subject: str = Field(description="metric:<id> or entity:<type>:<key>")
    action: str = Field(description="acknowledged, lifted, snoozed or unsnoozed")
    by: str
    note: str | None = None
    at: datetime


class SourceChange(BaseModel):
    source: str
    last_status: str | None = None
    last_attempt_at: datetime | None = None
    freshness: str
    freshness_reason: str


class Changes(BaseModel):
    since: datetime
    until: datetime
    colours: list[ColourChange]
    entity_events: list[EntityEvent]
    acknowledgements: list[AckChange]
    sources: list[SourceChange]
    left_out: int = Field(default=0, description="changes past the per-list limit")


_COLOURS_SQL = """
SELECT x.metric_id, r.name, x.as_of_date, x.before, x.status AS after, x.reason, x.computed_at FROM (
    SELECT h.metric_id, h.as_of_date, h.status, h.reason, h.computed_at,
           lag(h.status) OVER (PARTITION BY h.metric_id ORDER BY h.as_of_date) AS before
    FROM heartbeat.metric_history h WHERE h.as_of_date >= %(since)s::date - 1) x
JOIN heartbeat.metric_registry r USING (metric_id)
WHERE x.computed_at > %(since)s AND x.before IS DISTINCT FROM x.status AND x.before IS NOT NULL
ORDER BY x.computed_at DESC, x.metric_id LIMIT %(limit)s
"""


def _colours(conn: psycopg.Connection[Any], since: datetime, limit: int) -> list[ColourChange]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_COLOURS_SQL, {"since": since, "limit": limit})  # type: ignore[arg-type]  # fixed text
        return [ColourChange(**row) for row in cur.fetchall()]


def _acks(conn: psycopg.Connection[Any], since: datetime, limit: int) -> list[AckChange]:
    rows = conn.execute(
        "SELECT subject_kind, subject_id, field, new_value, actor, at FROM heartbeat.operator_edit"
        " WHERE field IN ('acknowledgement', 'alert_snooze') AND at > %s ORDER BY at DESC, id DESC LIMIT %s",
        (since, limit),
    ).fetchall()
    out = []
    for kind, subject_id, field, new_value, actor, at in rows:
        if field == "alert_snooze":
            action, note = (
                ("snoozed" if new_value else "unsnoozed"),
                (f"until {new_value}" if new_value else None),
            )
        else:
            action, note = ("acknowledged" if new_value else "lifted"), new_value
        out.append(AckChange(subject=f"{kind}:{subject_id}", action=action, by=actor, note=note, at=at))
    return out


def _sources(conn: psycopg.Connection[Any], since: datetime, now: datetime) -> list[SourceChange]:
    return [
        SourceChange(
            source=s.source,
            last_status=s.last_status,
            last_attempt_at=s.last_attempt_at,
            freshness=s.freshness,
            freshness_reason=s.freshness_reason,
        )
        for s in sources_status(conn, now=now)
        if s.last_attempt_at is not None and s.last_attempt_at > since
    ]


def changes_since(
    conn: psycopg.Connection[Any], since: datetime, now: datetime, limit: int = LIMIT
) -> Changes:
    """What changed after `since` (timezone-aware), up to `now`."""
    if since.tzinfo is None:
        raise ValueError("since: expected a timezone-aware moment (e.g. 2026-12-01T09:00:00+00:00)")
    colours = _colours(conn, since, limit + 1)
    events = entity_events(conn, since=since, limit=limit + 1)
    acks = _acks(conn, since, limit + 1)
    left_out = sum(max(len(items) - limit, 0) for items in (colours, events, acks))
    return Changes(
        since=since,
        until=now,
        colours=colours[:limit],
        entity_events=events[:limit],
        acknowledgements=acks[:limit],
        sources=_sources(conn, since, now),
        left_out=left_out,
    )
