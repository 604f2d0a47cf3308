"""Incidents: concurrent problems (red, amber, stale) grouped by evidence, never by timing alone.

Two problem metrics belong to one incident when they share evidence of one cause:
- the same entity (`client:42`), or entities with the same name ("ACME Ltd" on an invoice and on a client);
- the same driver segment (`currency=USD`);
- a stale source every reader of which is late (the rate files stopped: all their metrics are stale);
- a mart table both read (table-level lineage) — for red and amber only, a stale metric is explained by its
  late source instead.
Problems that merely start on nearby days share none of these and stay apart. The grouping is live, like
colours (an operator's threshold edit regroups at once); `record_incidents` (the job, after compute) keeps
each incident's identity and history in `heartbeat.incident` (0009) so an id stays stable while members
join and leave.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core.metrics.lineage import tables_read
from heartbeat_core.readmodel.annotations import Driver
from heartbeat_core.readmodel.drivers import driver_phrase, knock_ons, lead_phrase
from heartbeat_core.readmodel.suspect_evidence import failing_test_keys

IncidentStatus = Literal["red", "amber", "stale", "resolved"]
PROBLEM_STATES = ("red", "amber", "stale")
HEADLINE_NAMES = 3


class Incident(BaseModel):
    """One incident as every surface shows it (`what_is_red`, `today`, cockpit card, alerts). `metrics[0]` is
    the lead; empty lists are None so answers leave them out."""

    incident_id: str
    headline: str
    status: IncidentStatus
    metrics: list[str] = Field(description="members, worst first; the first is the lead")
    drivers: list[Driver] | None = None
    entities: list[str] | None = Field(default=None, description="entities named in it, e.g. clients")
    stale_sources: list[str] | None = None
    evidence: list[str] = Field(description="why these belong together: shared entity, table, source")
    owners: list[str] | None = None
    started_at: datetime | None = None

    @property
    def lead_metric_id(self) -> str:
        return self.metrics[0]


@dataclass
class _Group:
    members: list[Any]  # MetricState (duck-typed: the snapshot imports this module)
    evidence: set[str] = field(default_factory=set)


def late_sources(states: Sequence[Any]) -> set[str]:
    """Sources every reader of which is late (freshness not `fresh`): the source stopped, not one metric."""
    readers: dict[str, list[str]] = {}
    for state in states:
        for source in state.sources:
            readers.setdefault(source, []).append(state.freshness)
    return {s for s, fresh in readers.items() if fresh and all(f != "fresh" for f in fresh)}


def evidence_keys(state: Any, tables: Mapping[str, frozenset[str]], late: set[str]) -> set[str]:
    """The evidence one problem metric carries; two metrics sharing a key share a cause."""
    keys: set[str] = set()
    if state.entities is not None:
        for ref in [*state.entities.top, *state.entities.new_since_previous_day]:
            keys.add(f"entity {state.entities.type}:{ref.key}")
            if ref.label:
                keys.add(f"entity {ref.label}")
    for driver in state.drivers or []:
        keys.add(f"segment {driver.dimension}={driver.segment}")
    if state.display_state == "stale":
        keys.update(f"stale source {s}" for s in state.sources if s in late)
    else:
        keys.update(f"table {t}" for t in tables.get(state.metric_id, frozenset()))
    keys.update(failing_test_keys(state))  # a failing data test behind its suspect flag (issue 18)
    return keys


def group_problems(states: Sequence[Any], tables: Mapping[str, frozenset[str]]) -> list[_Group]:
    """Union the problem metrics that share an evidence key; groups in the states' rank order."""
    problems = [s for s in states if s.display_state in PROBLEM_STATES]
    late = late_sources(states)
    parent = list(range(len(problems)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    holders: dict[str, list[int]] = {}
    for index, state in enumerate(problems):
        for key in evidence_keys(state, tables, late):
            holders.setdefault(key, []).append(index)
    for indexes in holders.values():
        for other in indexes[1:]:
            parent[find(other)] = find(indexes[0])
    groups: dict[int, _Group] = {}
    for index, state in enumerate(problems):
        groups.setdefault(find(index), _Group([])).members.append(state)
    for key, indexes in holders.items():
        if len(indexes) > 1:
            groups[find(indexes[0])].evidence.add(key)
    return list(groups.values())


def _started(state: Any) -> datetime | None:
    if state.display_state == "stale" and state.source_as_of is not None:
        moment: datetime = state.source_as_of
        return moment
    if state.status_since is None:
        return None
    return datetime.combine(state.status_since, time(), UTC)


def _status(members: Iterable[Any]) -> IncidentStatus:
    shown = {m.display_state for m in members}
    for status in ("red", "amber"):
        if status in shown:
            return status  # type: ignore[return-value]
    return "stale"


def _names(items: Sequence[str], limit: int = HEADLINE_NAMES) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" +{len(items) - limit} more" if len(items) > limit else "")


def _entity_names(members: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for member in members:
        if member.entities is None:
            continue
        for ref in member.entities.top:
            name = ref.label or f"{member.entities.type} {ref.key}"
            if name not in names:
                names.append(name)
    return names


def _drivers(members: Sequence[Any]) -> list[Driver]:
    """The lead's drivers, else those of the first member that has some: one metric's, so their values share
    a unit (a rate's currencies and a revenue's are not one list)."""
    return next((list(m.drivers) for m in members if m.drivers), [])


def headline(members: Sequence[Any], entities: list[str], drivers: list[Driver], stale: list[str]) -> str:
    """One line from the lead metric, its drivers (else its entities), and the knock-ons:
    "Outgoing payment approval rate, 24 hours 71.5% (typ. 98%): USD, GBP, CHF +4 more ~10% (typ. 98%) since
    Nov 29 — Revenue, last 24 hours and last 7 days down"."""
    lead = members[0]
    if stale and all(m.display_state == "stale" for m in members):
        text = f"Source {', '.join(stale)} stopped: {len(members)} metrics not to trust ({lead.name}"
        return text + (f" +{len(members) - 1} more)" if len(members) > 1 else ")")
    text = lead_phrase(lead)
    named = drivers
    if named:
        today = getattr(lead, "as_of_date", None)
        text += f": {driver_phrase(named, lead.unit, lead.status_since, today)}"
    elif entities:
        text += f": {_names(entities)}"
    if len(members) > 1:
        text += f" — {knock_ons(members[1:])}"
    return text


def provisional_id(members: Sequence[Any]) -> str:
    """`inc-3f9a2c`: a short hash of the lead metric and start day, until the stored history names it (the
    id travels in every problem line, so it is kept short)."""
    starts = [s for s in (_started(m) for m in members) if s is not None]
    day = min(starts).strftime("%Y%m%d") if starts else "00000000"
    return "inc-" + hashlib.sha1(f"{members[0].metric_id}@{day}".encode()).hexdigest()[:6]


def build_incidents(states: Sequence[Any], tables: Mapping[str, frozenset[str]]) -> list[Incident]:
    """The live incidents over ranked states (worst first), with provisional ids."""
    late = late_sources(states)
    incidents = []
    for group in group_problems(states, tables):
        members = group.members
        stale = sorted({s for m in members if m.display_state == "stale" for s in m.sources if s in late})
        entities = _entity_names(members)
        drivers = _drivers(members)
        starts = [s for s in (_started(m) for m in members) if s is not None]
        incidents.append(
            Incident(
                incident_id=provisional_id(members),
                headline=headline(members, entities, drivers, stale),
                status=_status(members),
                metrics=[m.metric_id for m in members],
                drivers=drivers or None,
                entities=entities or None,
                stale_sources=stale or None,
                evidence=sorted(group.evidence),
                owners=sorted({m.owner for m in members if m.owner}) or None,
                started_at=min(starts) if starts else None,
            )
        )
    return incidents


def metric_tables(conn: psycopg.Connection[Any]) -> dict[str, frozenset[str]]:
    """Tables each active metric's value SQL reads."""
    rows = conn.execute(
        "SELECT metric_id, value_sql FROM heartbeat.metric_registry WHERE retired_at IS NULL"
    ).fetchall()
    return {metric_id: frozenset(f"{s}.{t}" for s, t in tables_read(sql)) for metric_id, sql in rows}


def _open_stored(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    if not conn.execute("SELECT to_regclass('heartbeat.incident') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT incident_id, members, started_at FROM heartbeat.incident WHERE resolved_at IS NULL"
            " ORDER BY opened_at"
        )
        return cur.fetchall()


def match_stored(incidents: list[Incident], stored: list[dict[str, Any]]) -> dict[str, str]:
    """Live incident id → stored open incident id, by the largest member overlap (each stored id once)."""
    taken: set[str] = set()
    matched: dict[str, str] = {}
    for incident in incidents:
        best, overlap = None, 0
        for row in stored:
            shared = len(set(row["members"]) & set(incident.metrics))
            if shared > overlap and row["incident_id"] not in taken:
                best, overlap = row["incident_id"], shared
        if best is not None:
            matched[incident.incident_id] = best
            taken.add(best)
    return matched


def current_incidents(conn: psycopg.Connection[Any], states: Sequence[Any]) -> list[Incident]:
    """The live incidents, each under its stored id when the history knows it; sets `state.incident_id`."""
    incidents = build_incidents(states, metric_tables(conn))
    matched = match_stored(incidents, _open_stored(conn))
    by_metric = {s.metric_id: s for s in states}
    for incident in incidents:
        incident.incident_id = matched.get(incident.incident_id, incident.incident_id)
        for metric_id in incident.metrics:
            by_metric[metric_id].incident_id = incident.incident_id
    return incidents
