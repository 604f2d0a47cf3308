"""Acknowledgement: someone has seen a red (a metric, or one entity in every metric) and owns it.

Grown from the per-metric snooze (which stays, and whose writes are recorded here too): an acknowledgement
has who, a note and an optional until. Its effect: the reminder of an unacknowledged red stops for that
metric, and an acknowledged entity no longer counts as "who is in it" in reminders; a *new* entity in the
same metric still alerts. Subjects: `metric:<metric_id>` (or a bare metric id) and `<type>:<key>`
(e.g. `client:42`), which covers that entity in every metric. `until=None` lasts until lifted; `lift=True`
removes it. Every change is recorded in `heartbeat.operator_edit` with who and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg

from heartbeat_core import clock
from heartbeat_core.alerts.snooze import SnoozeInputError, _require_metric
from heartbeat_core.readmodel.acknowledged import acknowledgements
from heartbeat_core.readmodel.annotations import Acknowledgement

__all__ = [
    "AcknowledgeInputError",
    "acknowledge",
    "acknowledged_entities",
    "acknowledgements",
    "parse_subject",
]

SubjectKind = Literal["metric", "entity"]


class AcknowledgeInputError(SnoozeInputError):
    """A bad acknowledgement request; the message names the parameter and what was expected."""


def parse_subject(subject: str) -> tuple[SubjectKind, str]:
    """`metric:orders_24h` or `orders_24h` → a metric; `client:42` → an entity (type, key)."""
    text = (subject or "").strip()
    if not text:
        raise AcknowledgeInputError(
            "subject: expected `metric:<id>`, a metric id, or `<type>:<key>` (client:42)"
        )
    if text.startswith("metric:"):
        return "metric", text.removeprefix("metric:")
    entity_type, sep, key = text.partition(":")
    if not sep:
        return "metric", text
    if not entity_type or not key:
        raise AcknowledgeInputError(f"subject {text!r}: expected `<type>:<key>` such as client:42")
    return "entity", f"{entity_type}:{key}"


def acknowledge(
    conn: psycopg.Connection[Any],
    subject: str,
    by: str,
    note: str | None = None,
    until: datetime | None = None,
    *,
    lift: bool = False,
) -> Acknowledgement | None:
    """Acknowledge (or, with `lift`, stop acknowledging) a metric or an entity; returns what is in force."""
    kind, subject_id = parse_subject(subject)
    if until is not None and until.tzinfo is None:
        raise AcknowledgeInputError(
            "until: expected a timezone-aware moment (e.g. 2026-12-01T09:00:00+00:00)"
        )
    if not by or not by.strip():
        raise AcknowledgeInputError("by: say who acknowledges (a name, an email, 'mcp:<client>')")
    now = clock.now()
    with conn.transaction():
        if kind == "metric":
            _require_metric(conn, subject_id)
        if lift:
            conn.execute(
                "DELETE FROM heartbeat.acknowledgement WHERE subject_type = %s AND subject_id = %s",
                (kind, subject_id),
            )
        else:
            conn.execute(
                """INSERT INTO heartbeat.acknowledgement (subject_type, subject_id, actor, note, until, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (subject_type, subject_id) DO UPDATE SET actor = excluded.actor,
                       note = excluded.note, until = excluded.until, created_at = excluded.created_at""",
                (kind, subject_id, by.strip(), note, until, now),
            )
        conn.execute(
            "INSERT INTO heartbeat.operator_edit (subject_kind, subject_id, field, old_value, new_value, actor, at)"
            " VALUES (%s, %s, 'acknowledgement', NULL, %s, %s, %s)",
            (kind, subject_id, None if lift else (note or "acknowledged"), by.strip(), now),
        )
    if lift:
        return None
    return Acknowledgement(by=by.strip(), note=note, until=until, subject=f"{kind}:{subject_id}")


def acknowledged_entities(conn: psycopg.Connection[Any], now: datetime) -> set[str]:
    """`<type>:<key>` of every entity acknowledged now."""
    return {key.removeprefix("entity:") for key in acknowledgements(conn, now) if key.startswith("entity:")}
