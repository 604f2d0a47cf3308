"""Per-metric snooze: while it lasts, evaluation leaves the metric alone on every channel.

`snooze(conn, metric_id, until, actor)` is the one write; the CLI, REST and MCP call it. `until=None`
(or a moment already past) lifts the snooze. Each change is recorded in `heartbeat.operator_edit`
(field `alert_snooze`) with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.metrics.registry import UnknownMetric


class SnoozeInputError(ValueError):
    """A bad snooze request; the message names what was wrong."""


@dataclass(frozen=True)
class Snooze:
    metric_id: str
    until: datetime | None
    actor: str
    reason: str | None = None

    @property
    def active(self) -> bool:
        return self.until is not None and self.until > clock.now()


def _require_metric(conn: psycopg.Connection[Any], metric_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM heartbeat.metric_registry WHERE metric_id = %s AND retired_at IS NULL", (metric_id,)
    ).fetchone()
    if row is None:
        known = [
            r[0]
            for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL")
        ]
        raise UnknownMetric([metric_id], known)


def snooze(
    conn: psycopg.Connection[Any],
    metric_id: str,
    until: datetime | None,
    actor: str,
    reason: str | None = None,
) -> Snooze:
    """Silence `metric_id` on every channel until `until` (timezone-aware); `None` lifts the snooze.

    Raises `UnknownMetric` for an id that is not an active metric and `SnoozeInputError` for a naive datetime
    or an empty actor.
    """
    if until is not None and until.tzinfo is None:
        raise SnoozeInputError("until: expected a timezone-aware moment (e.g. 2026-12-01T09:00:00+00:00)")
    if not actor or not actor.strip():
        raise SnoozeInputError("actor: say who snoozes (a name, an email, 'mcp:<client>')")
    now = clock.now()
    with conn.transaction():
        _require_metric(conn, metric_id)
        old = conn.execute(
            "SELECT until FROM heartbeat.alert_snooze WHERE metric_id = %s FOR UPDATE", (metric_id,)
        ).fetchone()
        if until is None or until <= now:
            conn.execute("DELETE FROM heartbeat.alert_snooze WHERE metric_id = %s", (metric_id,))
            new_value = None
        else:
            conn.execute(
                """INSERT INTO heartbeat.alert_snooze (metric_id, until, actor, reason, created_at)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (metric_id) DO UPDATE SET until = excluded.until, actor = excluded.actor,
                       reason = excluded.reason, created_at = excluded.created_at""",
                (metric_id, until, actor.strip(), reason, now),
            )
            new_value = until
        _mirror_acknowledgement(conn, metric_id, new_value, actor.strip(), reason, now)
        old_value = old[0] if old else None
        if old_value != new_value:
            conn.execute(
                "INSERT INTO heartbeat.operator_edit (subject_kind, subject_id, field, old_value, new_value, actor, at)"
                " VALUES ('metric', %s, 'alert_snooze', %s, %s, %s, %s)",
                (
                    metric_id,
                    None if old_value is None else old_value.isoformat(),
                    None if new_value is None else new_value.isoformat(),
                    actor.strip(),
                    now,
                ),
            )
    return Snooze(metric_id, new_value, actor.strip(), reason)


def _mirror_acknowledgement(
    conn: psycopg.Connection[Any],
    metric_id: str,
    until: datetime | None,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    """A snooze is an acknowledgement of the metric until its end (`alerts snooze` is a synonym)."""
    if until is None:
        conn.execute(
            "DELETE FROM heartbeat.acknowledgement WHERE subject_type = 'metric' AND subject_id = %s",
            (metric_id,),
        )
        return
    conn.execute(
        """INSERT INTO heartbeat.acknowledgement (subject_type, subject_id, actor, note, until, created_at)
           VALUES ('metric', %s, %s, %s, %s, %s)
           ON CONFLICT (subject_type, subject_id) DO UPDATE SET actor = excluded.actor, note = excluded.note,
               until = excluded.until, created_at = excluded.created_at""",
        (metric_id, actor, reason, until, now),
    )


def snoozes(
    conn: psycopg.Connection[Any], active_only: bool = True, now: datetime | None = None
) -> list[Snooze]:
    """Current snoozes as of `now` (or every stored one) of active metrics, soonest end first. A retired
    metric's snooze is kept (it holds nothing back, and applies again if the file is restored before it ends)
    but not listed: `snooze()` refuses a retired metric, so a listed snooze could not be lifted."""
    rows = conn.execute(
        "SELECT s.metric_id, s.until, s.actor, s.reason FROM heartbeat.alert_snooze s"
        " JOIN heartbeat.metric_registry r ON r.metric_id = s.metric_id AND r.retired_at IS NULL"
        + (" WHERE s.until > %s" if active_only else " WHERE %s IS NOT NULL")
        + " ORDER BY s.until",
        (now or clock.now(),),
    ).fetchall()
    return [Snooze(r[0], r[1], r[2], r[3]) for r in rows]


def snoozed_until(conn: psycopg.Connection[Any], metric_id: str) -> datetime | None:
    row = conn.execute(
        "SELECT until FROM heartbeat.alert_snooze WHERE metric_id = %s AND until > %s",
        (metric_id, clock.now()),
    ).fetchone()
    return row[0] if row else None
