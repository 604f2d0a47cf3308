"""Acknowledgements in force, as the read model shows them (`MetricState.acknowledgement` and the
`acknowledged` flag); written by `heartbeat_core.alerts.acknowledge`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core.readmodel.annotations import Acknowledgement, EntitySummary


def acknowledgements(conn: psycopg.Connection[Any], now: datetime) -> dict[str, Acknowledgement]:
    """Acknowledgements in force, by subject (`metric:<id>`, `entity:<type>:<key>`). An acknowledged entity
    also covers the entities it owns (`entity_owner`: the invoices of an acknowledged client), each listed
    under its own subject with the owner's acknowledgement; an entity's own acknowledgement wins."""
    rows = conn.execute(
        "SELECT subject_type, subject_id, actor, note, until, created_at FROM heartbeat.acknowledgement"
        " WHERE until IS NULL OR until > %s ORDER BY created_at",
        (now,),
    ).fetchall()
    found = {
        f"{r[0]}:{r[1]}": Acknowledgement(by=r[2], note=r[3], until=r[4], subject=f"{r[0]}:{r[1]}")
        for r in rows
    }
    owners = [s.removeprefix("entity:").partition(":") for s in found if s.startswith("entity:")]
    if not owners:
        return found
    owned = conn.execute(
        """SELECT o.entity_type || ':' || o.entity_key, o.owner_type || ':' || o.owner_key
           FROM heartbeat.entity_owner o
           JOIN unnest(%s::text[], %s::text[]) AS a(t, k) ON o.owner_type = a.t AND o.owner_key = a.k""",
        ([t for t, _, _ in owners], [k for _, _, k in owners]),
    ).fetchall()
    for entity, owner in owned:
        found.setdefault(f"entity:{entity}", found[f"entity:{owner}"])
    return found


def acknowledgement_of(
    metric_id: str, entities: EntitySummary | None, acks: dict[str, Acknowledgement]
) -> Acknowledgement | None:
    """The metric's own acknowledgement, else the one covering every entity in it (when all are covered)."""
    own = acks.get(f"metric:{metric_id}")
    if own is not None or entities is None or not entities.top:
        return own
    if entities.total_count > len(entities.top):
        return None
    covering = [acks.get(f"entity:{entities.type}:{ref.key}") for ref in entities.top]
    return covering[0] if all(covering) else None
