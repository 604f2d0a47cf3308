"""The entities inside each metric as the read model shows them (`MetricState.entities`), and the culprit
line every surface prints ("ACME Ltd · EUR 12.4k · since Sep 14" / "2 clients · EUR 94k").

Read from the entity history (`compute.entity_history`): the exact totals of the metric's latest observed day,
its heaviest entities, and those that appeared that day (a `new` event). An entity is `new` for a day after it
was first recorded, which is what the NEW badge shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, LiteralString

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core.formatting import counted, format_number, format_since, plural
from heartbeat_core.readmodel.annotations import EntityRef, EntitySummary, Flag

NEW_FOR = timedelta(days=1)

_SUMMARY_SQL: LiteralString = """
SELECT r.metric_id, r.entity ->> 'weight_unit' AS weight_unit, r.unit,
       l.as_of_date, l.entity_type, l.total_count, l.total_weight, l.shown
FROM heartbeat.metric_registry r
CROSS JOIN LATERAL (
    SELECT t.as_of_date, t.entity_type, t.total_count, t.total_weight, t.shown FROM heartbeat.entity_total t
    WHERE t.metric_id = r.metric_id ORDER BY t.as_of_date DESC LIMIT 1) l
WHERE r.metric_id = ANY(%(ids)s) AND r.entity IS NOT NULL
"""


def _weight_unit(row: dict[str, Any]) -> str | None:
    if row["weight_unit"]:
        return str(row["weight_unit"])
    unit = str(row["unit"] or "")
    return unit if unit.startswith("money:") else None


def _ref(item: dict[str, Any], now: datetime) -> EntityRef:
    new_at = datetime.fromisoformat(item["new_at"]) if item.get("new_at") else None
    # written by compute.entity_history in this shape: constructed without re-validation (the snapshot
    # builds thousands of these per rebuild)
    return EntityRef.model_construct(
        key=item["key"],
        label=item.get("label"),
        weight=item.get("weight"),
        since=date.fromisoformat(item["since"]) if item.get("since") else None,
        new=new_at is not None and now - new_at < NEW_FOR,
    )


def entity_summaries(
    conn: psycopg.Connection[Any], metric_ids: Iterable[str], now: datetime
) -> dict[str, EntitySummary]:
    """Each metric's entities at its latest observed day, by metric id (metrics without entities absent):
    one row per metric, the summary `compute.entity_history` wrote beside the spans."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_SUMMARY_SQL, {"ids": list(metric_ids)})
        rows = cur.fetchall()
    found: dict[str, EntitySummary] = {}
    for row in rows:
        shown = row["shown"] or {}
        found[row["metric_id"]] = EntitySummary.model_construct(
            type=row["entity_type"],
            total_count=int(row["total_count"]),
            total_weight=row["total_weight"],
            weight_unit=_weight_unit(row),
            top=[_ref(item, now) for item in shown.get("top", [])],
            new_since_previous_day=[_ref(item, now) for item in shown.get("new", [])],
        )
    return found


def new_entity_flag(summary: EntitySummary | None) -> Flag | None:
    """The `new_entity` flag while an entity is less than a day old (the tile's NEW badge)."""
    if summary is None:
        return None
    fresh = [ref for ref in summary.new_since_previous_day if ref.new]
    if not fresh:
        return None
    names = ", ".join(ref.label or ref.key for ref in fresh[:3])
    more = f" and {len(fresh) - 3} more" if len(fresh) > 3 else ""
    return Flag(kind="new_entity", reason=f"new {summary.type}: {names}{more}")


@dataclass(frozen=True)
class CulpritLine:
    named: str
    counted: str


def culprit_line(summary: EntitySummary | None, today: date) -> CulpritLine | None:
    """ "ACME Ltd · EUR 12.4k · since 14 Sep · +1 more client" and "2 clients · EUR 94k"; None without entities.

    The rest are counted with their noun: an invoice labelled by its client's name ("ACME Ltd · … · +2 more
    invoices") must not read as two more clients."""
    if summary is None or summary.total_count == 0:
        return None
    unit = summary.weight_unit or "count"
    total = counted(summary.total_count, summary.type)
    weight = f" · {format_number(summary.total_weight, unit)}" if summary.total_weight is not None else ""
    counted_line = f"{total}{weight}"
    if not summary.top:
        return CulpritLine(counted_line, counted_line)
    top = summary.top[0]
    parts = [entity_name(top, summary.type)]
    if top.weight is not None:
        parts.append(format_number(top.weight, unit))
    if top.since is not None:
        parts.append(format_since(top.since, today))
    if summary.total_count > 1:
        rest = summary.total_count - 1
        parts.append(f"+{rest} more {plural(rest, summary.type)}")
    return CulpritLine(" · ".join(parts), counted_line)


def entity_name(ref: EntityRef, entity_type: str) -> str:
    """Names before ids: the label, else `client 42`."""
    return ref.label or f"{entity_type} {ref.key}"


def entity_detail_line(ref: EntityRef, entity_type: str, unit: str | None, today: date) -> str:
    """One entity as an alert or a page lists it: "ACME Ltd (client 42) · EUR 12.4k · since Sep 14"."""
    name = entity_name(ref, entity_type)
    ident = f" ({entity_type} {ref.key})" if ref.label and ref.label != ref.key else ""
    parts = [f"{name}{ident}"]
    if ref.weight is not None:
        parts.append(format_number(ref.weight, unit or "count"))
    if ref.since is not None:
        parts.append(format_since(ref.since, today))
    return " · ".join(parts)


class EntityEvent(BaseModel):
    """Something that happened to an entity in a metric on an as-of day."""

    metric_id: str
    type: str
    key: str
    label: str | None = None
    kind: Literal["new", "worse", "gone"]
    as_of_date: date
    weight: float | None = None
    previous_weight: float | None = None
    recorded_at: datetime


class EntityTimeline(BaseModel):
    """One entity of a metric: in it since when (its current presence), and what happened to it."""

    key: str
    label: str | None = None
    weight: float | None = None
    since: date
    last_seen: date
    present: bool = Field(description="in the metric on its latest observed day")
    events: list[EntityEvent] = Field(default_factory=list)


_EVENT_COLUMNS: LiteralString = (
    "metric_id, entity_type AS type, entity_key AS key, label, kind, as_of_date, weight, previous_weight,"
    " recorded_at"
)


def entity_events(
    conn: psycopg.Connection[Any],
    *,
    metric_id: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[EntityEvent]:
    """Events newest first: of one metric, or recorded after `since`, or both."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_EVENT_COLUMNS} FROM heartbeat.entity_event"  # fixed column list
            " WHERE (%(metric)s::text IS NULL OR metric_id = %(metric)s)"
            " AND (%(since)s::timestamptz IS NULL OR recorded_at > %(since)s)"
            " ORDER BY recorded_at DESC, id DESC LIMIT %(limit)s",
            {"metric": metric_id, "since": since, "limit": limit},
        )
        return [EntityEvent(**row) for row in cur.fetchall()]


def entity_timeline(conn: psycopg.Connection[Any], metric_id: str, limit: int = 20) -> list[EntityTimeline]:
    """The metric's entities on its latest observed day (heaviest first) and those that left lately,
    each with since-when and its events."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT s.entity_key AS key, s.label, s.weight, s.first_seen AS since, s.last_seen,
                      s.last_seen = t.latest AS present
               FROM heartbeat.entity_span s
               JOIN (SELECT max(as_of_date) AS latest FROM heartbeat.entity_total WHERE metric_id = %(m)s) t ON true
               WHERE s.metric_id = %(m)s AND s.last_seen >= t.latest - 7
               ORDER BY (s.last_seen = t.latest) DESC, s.weight DESC NULLS LAST, s.first_seen, s.entity_key
               LIMIT %(limit)s""",
            {"m": metric_id, "limit": limit},
        )
        timeline = [EntityTimeline(**row) for row in cur.fetchall()]
    by_key = {t.key: t for t in timeline}
    for event in entity_events(conn, metric_id=metric_id, limit=500):
        item = by_key.get(event.key)
        if item is not None and len(item.events) < 10:
            item.events.append(event)
    return timeline
