"""The stored history of incidents (0009): opened, members joining and leaving, resolved.

The job records it after compute (`refresh_incidents`), so an incident keeps its id while its members move
and the alerts can say once "opened", "updated" (a member joined) and "resolved".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock
from heartbeat_core.readmodel.incidents import Incident, current_incidents
from heartbeat_core.readmodel.snapshot import metric_states

ChangeKind = Literal["opened", "updated", "resolved"]


@dataclass
class IncidentChange:
    """What happened to one incident in this refresh (the alert phase tells channels about it)."""

    incident_id: str
    kind: ChangeKind
    headline: str
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def _free_id(conn: psycopg.Connection[Any], wanted: str) -> str:
    """`wanted`, or `wanted-2`, `-3` when a resolved incident already holds it."""
    candidate, n = wanted, 1
    while conn.execute("SELECT 1 FROM heartbeat.incident WHERE incident_id = %s", (candidate,)).fetchone():
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def _open(conn: psycopg.Connection[Any], incident: Incident, now: datetime) -> IncidentChange:
    incident.incident_id = _free_id(conn, incident.incident_id)
    conn.execute(
        """INSERT INTO heartbeat.incident (incident_id, headline, lead_metric_id, status, members, evidence,
               started_at, opened_at, updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (incident.incident_id, incident.headline, incident.lead_metric_id, incident.status, incident.metrics,
         incident.evidence, incident.started_at or now, now, now),
    )  # fmt: skip
    for metric_id in incident.metrics:
        conn.execute(
            "INSERT INTO heartbeat.incident_member (incident_id, metric_id, joined_at) VALUES (%s, %s, %s)",
            (incident.incident_id, metric_id, now),
        )
    return IncidentChange(incident.incident_id, "opened", incident.headline, joined=list(incident.metrics))


def _update(
    conn: psycopg.Connection[Any], incident: Incident, old: list[str], now: datetime
) -> IncidentChange | None:
    joined = [m for m in incident.metrics if m not in old]
    left = [m for m in old if m not in incident.metrics]
    conn.execute(
        """UPDATE heartbeat.incident SET headline = %s, lead_metric_id = %s, status = %s, members = %s,
               evidence = %s, updated_at = %s
           WHERE incident_id = %s AND (headline, lead_metric_id, status, members, evidence)
                 IS DISTINCT FROM (%s, %s, %s, %s::text[], %s::text[])""",
        (incident.headline, incident.lead_metric_id, incident.status, incident.metrics, incident.evidence, now,
         incident.incident_id, incident.headline, incident.lead_metric_id, incident.status, incident.metrics,
         incident.evidence),
    )  # fmt: skip
    for metric_id in joined:
        conn.execute(
            "INSERT INTO heartbeat.incident_member (incident_id, metric_id, joined_at) VALUES (%s, %s, %s)",
            (incident.incident_id, metric_id, now),
        )
    _leave(conn, incident.incident_id, left, now)
    if not joined:
        return None
    return IncidentChange(incident.incident_id, "updated", incident.headline, joined=joined, left=left)


def _leave(conn: psycopg.Connection[Any], incident_id: str, metric_ids: list[str], now: datetime) -> None:
    if metric_ids:
        conn.execute(
            "UPDATE heartbeat.incident_member SET left_at = %s"
            " WHERE incident_id = %s AND metric_id = ANY(%s) AND left_at IS NULL",
            (now, incident_id, metric_ids),
        )


def record_incidents(
    conn: psycopg.Connection[Any], incidents: list[Incident], now: datetime
) -> list[IncidentChange]:
    """Write the live incidents (ids already matched to the open stored ones) into the history."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT incident_id, members, headline FROM heartbeat.incident WHERE resolved_at IS NULL")
        stored = {r["incident_id"]: r for r in cur.fetchall()}
    changes: list[IncidentChange] = []
    for incident in incidents:
        row = stored.pop(incident.incident_id, None)
        change = _open(conn, incident, now) if row is None else _update(conn, incident, row["members"], now)
        if change is not None:
            changes.append(change)
    for incident_id, row in stored.items():
        conn.execute(
            "UPDATE heartbeat.incident SET status = 'resolved', resolved_at = %s, updated_at = %s"
            " WHERE incident_id = %s",
            (now, now, incident_id),
        )
        _leave(conn, incident_id, list(row["members"]), now)
        changes.append(IncidentChange(incident_id, "resolved", row["headline"], left=list(row["members"])))
    return changes


def refresh_incidents(conn: psycopg.Connection[Any], now: datetime | None = None) -> list[IncidentChange]:
    """Group today's problems and record the incidents' history (the job's step after compute)."""
    moment = now or clock.now()
    states = metric_states(conn, now=moment)
    return record_incidents(conn, current_incidents(conn, states), moment)


def incident_history(conn: psycopg.Connection[Any], limit: int = 50) -> list[dict[str, Any]]:
    """Incidents newest first, open and resolved, with their members' join and leave moments."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT i.*, coalesce(json_agg(json_build_object('metric_id', m.metric_id, 'joined_at', m.joined_at,
                      'left_at', m.left_at) ORDER BY m.joined_at) FILTER (WHERE m.metric_id IS NOT NULL), '[]')
                      AS history
               FROM heartbeat.incident i LEFT JOIN heartbeat.incident_member m USING (incident_id)
               GROUP BY i.incident_id ORDER BY i.opened_at DESC LIMIT %s""",
            (limit,),
        )
        return cur.fetchall()
