"""Entity history as spans: one row per continuous presence of an entity in a metric, not one per day.

`record_day` merges one metric-day's key set into the spans around that day, in any order (today after
yesterday, or a backfill day before existing spans): a key present on `day` extends the span ending the day
before or starting the day after (merging both), or opens a span; a key absent on `day` is cut out of the span
covering it. Events follow from the same edits: `new` where a span starts (only when the metric was observed
before, so a first compute is not a flood of news), `worse` when the weight grew by more than the configured
share over the day before, `gone` the day after a span ends. Events are idempotent per (metric, entity, kind,
day); re-recording a day moves nothing that did not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from heartbeat_core.compute.entities import EntityRow, EntitySet
from heartbeat_core.compute.entity_owners import record_owners

ONE_DAY = timedelta(days=1)


@dataclass
class Span:
    id: int | None
    key: str
    label: str | None
    first_seen: date
    last_seen: date
    weight: float | None
    prior_weight: float | None


@dataclass
class _Edits:
    """What one metric-day changes: span rows and events, applied in one transaction."""

    upserts: list[Span] = field(default_factory=list)
    deletes: list[int] = field(default_factory=list)
    events: list[tuple[str, str, date, str | None, float | None, float | None]] = field(default_factory=list)
    unevents: list[tuple[str, str, date]] = field(default_factory=list)


def _worse(weight: float | None, before: float | None, share: float) -> bool:
    return weight is not None and before is not None and before > 0 and weight > before * (1 + share)


class _DayMerge:
    def __init__(self, day: date, spans: list[Span], observed_before: bool, worse_share: float) -> None:
        self.day = day
        self.spans = spans
        self.observed_before = observed_before
        self.share = worse_share
        self.edits = _Edits()

    def _find(self, key: str, test: Any) -> Span | None:
        return next((s for s in self.spans if s.key == key and test(s)), None)

    def present(self, row: EntityRow) -> None:
        day = self.day
        cover = self._find(row.key, lambda s: s.first_seen <= day <= s.last_seen)
        if cover is not None:
            if cover.last_seen == day:
                self._update_last(cover, row)
            return
        before = self._find(row.key, lambda s: s.last_seen == day - ONE_DAY)
        after = self._find(row.key, lambda s: s.first_seen == day + ONE_DAY)
        if before is not None:
            self.edits.unevents.append((row.key, "gone", day))
            if after is not None:  # the day bridges two spans: one span again
                self.edits.unevents.append((row.key, "new", after.first_seen))
                self.edits.unevents.append((row.key, "gone", after.first_seen))
                before.last_seen, before.weight, before.prior_weight = (
                    after.last_seen, after.weight, after.prior_weight,
                )  # fmt: skip
                self.edits.deletes.append(after.id or 0)
            else:
                before.prior_weight, before.weight, before.last_seen = before.weight, row.weight, day
                self._worse_event(row, before.prior_weight)
            before.label = row.label or before.label
            self.edits.upserts.append(before)
        elif after is not None:
            self.edits.unevents.append((row.key, "new", after.first_seen))
            after.first_seen = day
            self._new_event(row)
            self.edits.upserts.append(after)
        else:
            span = Span(None, row.key, row.label, day, day, row.weight, None)
            self.spans.append(span)
            self._new_event(row)
            self.edits.upserts.append(span)

    def _update_last(self, span: Span, row: EntityRow) -> None:
        if span.weight == row.weight and (span.label == row.label or row.label is None):
            return
        span.weight, span.label = row.weight, row.label or span.label
        self.edits.upserts.append(span)
        if span.first_seen < self.day:
            self._worse_event(row, span.prior_weight)

    def _new_event(self, row: EntityRow) -> None:
        if self.observed_before:
            self.edits.events.append((row.key, "new", self.day, row.label, row.weight, None))

    def _worse_event(self, row: EntityRow, before: float | None) -> None:
        if _worse(row.weight, before, self.share):
            self.edits.events.append((row.key, "worse", self.day, row.label, row.weight, before))
        else:
            self.edits.unevents.append((row.key, "worse", self.day))

    def absent(self, span: Span) -> None:
        """A span covering `day` whose key is not there on `day` (a recompute saw it leave)."""
        day, key = self.day, span.key
        self.edits.unevents.append((key, "worse", day))
        if span.first_seen == day:
            self.edits.unevents.append((key, "new", day))
        else:
            self.edits.events.append((key, "gone", day, span.label, None, span.weight))
        if span.first_seen == span.last_seen == day:
            self.edits.deletes.append(span.id or 0)
            return
        if span.last_seen > day:
            tail = Span(None, key, span.label, day + ONE_DAY, span.last_seen, span.weight, span.prior_weight)
            self.edits.upserts.append(tail)
            if self.observed_before:
                self.edits.events.append((key, "new", tail.first_seen, span.label, span.weight, None))
        if span.first_seen == day:
            self.edits.deletes.append(span.id or 0)
            return
        span.last_seen, span.weight, span.prior_weight = day - ONE_DAY, span.prior_weight, None
        self.edits.upserts.append(span)

    def left_before(self, span: Span) -> None:
        """A span that ended the day before `day`: its entity is gone on `day`."""
        self.edits.events.append((span.key, "gone", self.day, span.label, None, span.weight))


def _load_spans(conn: psycopg.Connection[Any], metric_id: str, day: date) -> list[Span]:
    rows = conn.execute(
        "SELECT id, entity_key, label, first_seen, last_seen, weight, prior_weight FROM heartbeat.entity_span"
        " WHERE metric_id = %s AND last_seen >= %s AND first_seen <= %s",
        (metric_id, day - ONE_DAY, day + ONE_DAY),
    ).fetchall()
    return [Span(*row) for row in rows]


def _observed_before(conn: psycopg.Connection[Any], metric_id: str, day: date) -> bool:
    row = conn.execute(
        "SELECT 1 FROM heartbeat.entity_total WHERE metric_id = %s AND as_of_date < %s LIMIT 1",
        (metric_id, day),
    ).fetchone()
    return row is not None


def merge_day(
    spans: list[Span], day: date, entities: EntitySet, observed_before: bool, worse_share: float
) -> _Edits:
    """The edits that make the spans around `day` agree with the key set seen on `day`."""
    merge = _DayMerge(day, spans, observed_before, worse_share)
    keys = {row.key for row in entities.rows}
    for span in list(spans):
        if span.key in keys:
            continue
        if span.first_seen <= day <= span.last_seen:
            merge.absent(span)
        elif span.last_seen == day - ONE_DAY and not any(
            s.key == span.key and s.first_seen == day + ONE_DAY for s in spans
        ):
            merge.left_before(span)
    for row in entities.rows:
        merge.present(row)
    return merge.edits


def record_day(
    conn: psycopg.Connection[Any],
    metric_id: str,
    day: date,
    entities: EntitySet,
    *,
    now: datetime,
    worse_share: float,
) -> None:
    """Merge one metric-day's entities into the spans, events and totals (one transaction)."""
    with conn.transaction():
        spans = _load_spans(conn, metric_id, day)
        edits = merge_day(spans, day, entities, _observed_before(conn, metric_id, day), worse_share)
        _apply(conn, metric_id, entities.type, edits, now)
        record_owners(conn, entities, now)
        latest = conn.execute(
            "SELECT max(as_of_date) FROM heartbeat.entity_total WHERE metric_id = %s", (metric_id,)
        ).fetchone()
        is_latest = latest is None or latest[0] is None or day >= latest[0]
        shown = _shown(conn, metric_id, day) if is_latest else {}
        if is_latest:  # only the newest day's summary is read: older ones give their space back
            conn.execute(
                "UPDATE heartbeat.entity_total SET shown = '{}' WHERE metric_id = %s AND as_of_date < %s"
                " AND shown <> '{}'::jsonb",
                (metric_id, day),
            )
        conn.execute(
            """INSERT INTO heartbeat.entity_total AS t
                   (metric_id, as_of_date, entity_type, total_count, total_weight, capped, shown, computed_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (metric_id, as_of_date) DO UPDATE SET entity_type = excluded.entity_type,
                   total_count = excluded.total_count, total_weight = excluded.total_weight,
                   capped = excluded.capped, shown = excluded.shown, computed_at = excluded.computed_at""",
            (
                metric_id, day, entities.type, entities.total_count, entities.total_weight, entities.capped,
                Jsonb(shown), now,
            ),
        )  # fmt: skip


SHOWN_TOP = 5


def _shown(conn: psycopg.Connection[Any], metric_id: str, day: date) -> dict[str, Any]:
    """The heaviest entities present on `day` and the day's new ones: what the read model shows."""
    present = conn.execute(
        """SELECT entity_key, label, weight, first_seen FROM heartbeat.entity_span
           WHERE metric_id = %s AND last_seen >= %s AND first_seen <= %s
           ORDER BY weight DESC NULLS LAST, first_seen, entity_key LIMIT %s""",
        (metric_id, day, day, SHOWN_TOP),
    ).fetchall()
    new = conn.execute(
        """SELECT entity_key, label, weight, as_of_date, recorded_at FROM heartbeat.entity_event
           WHERE metric_id = %s AND kind = 'new' AND as_of_date = %s ORDER BY weight DESC NULLS LAST, entity_key""",
        (metric_id, day),
    ).fetchall()
    new_at = {row[0]: row[4].isoformat() for row in new}

    def item(key: str, label: str | None, weight: float | None, since: date) -> dict[str, Any]:
        at = new_at.get(key) if since == day else None
        return {"key": key, "label": label, "weight": weight, "since": since.isoformat(), "new_at": at}

    return {
        "top": [item(k, lb, w, f) for k, lb, w, f in present],
        "new": [item(k, lb, w, d) for k, lb, w, d, _ in new],
    }


def _apply(
    conn: psycopg.Connection[Any], metric_id: str, entity_type: str, edits: _Edits, now: datetime
) -> None:
    """The edits in at most five statements (each statement bumps the read-model version once)."""
    deletes = [i for i in edits.deletes if i]
    if deletes:
        conn.execute("DELETE FROM heartbeat.entity_span WHERE id = ANY(%s)", (deletes,))
    updates = [s for s in edits.upserts if s.id is not None and s.id not in deletes]
    inserts = [s for s in edits.upserts if s.id is None]
    if updates:
        conn.execute(
            """UPDATE heartbeat.entity_span s SET label = u.label, first_seen = u.first_seen,
                   last_seen = u.last_seen, weight = u.weight, prior_weight = u.prior_weight
               FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::date[], %s::float8[], %s::float8[])
                   AS u(id, label, first_seen, last_seen, weight, prior_weight)
               WHERE s.id = u.id""",
            _columns(updates, with_id=True),
        )
    if inserts:
        conn.execute(
            """INSERT INTO heartbeat.entity_span (metric_id, entity_type, first_seen_at, entity_key, label,
                   first_seen, last_seen, weight, prior_weight)
               SELECT %s, %s, %s, * FROM unnest(%s::text[], %s::text[], %s::date[], %s::date[], %s::float8[],
                   %s::float8[])""",
            (metric_id, entity_type, now, *_columns(inserts, with_id=False)),
        )
    if edits.unevents:
        keys, kinds, days = (list(column) for column in zip(*edits.unevents, strict=True))
        conn.execute(
            """DELETE FROM heartbeat.entity_event e USING unnest(%s::text[], %s::text[], %s::date[]) AS u(k, kind, d)
               WHERE e.metric_id = %s AND e.entity_type = %s AND e.entity_key = u.k AND e.kind = u.kind
                 AND e.as_of_date = u.d""",
            (keys, kinds, days, metric_id, entity_type),
        )
    if edits.events:
        keys, kinds, days, labels, weights, previous = (
            list(column) for column in zip(*edits.events, strict=True)
        )
        conn.execute(
            """INSERT INTO heartbeat.entity_event (metric_id, entity_type, recorded_at, entity_key, kind, as_of_date,
                   label, weight, previous_weight)
               SELECT %s, %s, %s, * FROM unnest(%s::text[], %s::text[], %s::date[], %s::text[], %s::float8[],
                   %s::float8[])
               ON CONFLICT (metric_id, entity_type, entity_key, kind, as_of_date) DO UPDATE SET
                   label = excluded.label, weight = excluded.weight, previous_weight = excluded.previous_weight
               WHERE (entity_event.weight, entity_event.label) IS DISTINCT FROM (excluded.weight, excluded.label)""",
            (metric_id, entity_type, now, keys, kinds, days, labels, weights, previous),
        )


def _columns(spans: list[Span], *, with_id: bool) -> tuple[list[Any], ...]:
    columns: tuple[list[Any], ...] = (
        [s.key for s in spans] if not with_id else [s.id for s in spans],
        [s.label for s in spans],
        [s.first_seen for s in spans],
        [s.last_seen for s in spans],
        [s.weight for s in spans],
        [s.prior_weight for s in spans],
    )
    return columns
