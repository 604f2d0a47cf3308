"""Incident alerts (issue 14): one message when an incident opens, one when a member joins, one when it resolves
— on exactly what the cockpit draws as one card.

Which incidents speak: a live incident of two or more metrics (the screen's card with members), and any
incident this channel was already told about (until it resolves, even if members left). A lone problem
metric is not an incident message: its own red, amber or stale alert is sent as before.

What the members' own alerts become: while a metric belongs to an incident that speaks on a channel, its
transitions (red, amber, stale, resolved) are not sent on their own; they are logged under the incident
message's outbox row (the metric's history says it was told, and when), so one incident is one message, not
N. The lead metric's reminder is kept, and a member's that names who is in it (its entities). Entity events that
arrive later (a new client inside a red) still speak: they are news the incident message did not carry.

What the channel was told is read back from its notification log (subject `incident`): the members each
`incident_opened` / `incident_updated` named, and whether an `incident_resolved` closed it. Keys follow
CONTRACTS.md "Alerts": `incident:{id}:{kind}:status:{UTC moment}` — opened at the incident's stored opening,
updated and resolved at the evaluation's moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core.alerts.kinds import AlertKind, idempotency_key, utc_stamp
from heartbeat_core.alerts.messages import AlertEvent, value_text
from heartbeat_core.formatting import format_age, format_moment
from heartbeat_core.readmodel.incidents import Incident
from heartbeat_core.readmodel.snapshot import MetricState

MIN_MEMBERS = 2  # the screen's card with members; one metric alone alerts as a metric
MEMBER_LINES = 8
_STATE_ICON = {"red": "🔴", "amber": "🟠", "stale": "⏳", "green": "🟢", "error": "⚠️", "no_data": "·"}


@dataclass
class ToldIncident:
    """What one channel was told about one incident, from its notification log."""

    incident_id: str
    members: set[str] = field(default_factory=set)
    headline: str = ""
    lead_name: str = ""
    started_at: datetime | None = None
    resolved: bool = False


def told_incidents(conn: psycopg.Connection[Any], channel: str) -> dict[str, ToldIncident]:
    """The incidents this channel was told about and not yet told resolved."""
    rows = conn.execute(
        "SELECT subject_id, kind, event FROM heartbeat.alert_notification"
        " WHERE channel = %s AND subject_type = 'incident' ORDER BY id",
        (channel,),
    ).fetchall()
    told: dict[str, ToldIncident] = {}
    for subject_id, kind, event in rows:
        entry = told.setdefault(subject_id, ToldIncident(subject_id))
        entry.members.update(event.get("members") or [])
        entry.headline = event.get("reason") or entry.headline
        entry.lead_name = event.get("name") or entry.lead_name
        if event.get("source_as_of") and entry.started_at is None:
            entry.started_at = datetime.fromisoformat(event["source_as_of"])
        entry.resolved = kind == "incident_resolved"
    return {k: v for k, v in told.items() if not v.resolved}


def opened_moments(conn: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Each stored incident's opening moment (the `incident_opened` key's moment)."""
    if not conn.execute("SELECT to_regclass('heartbeat.incident') IS NOT NULL").fetchone()[0]:  # type: ignore[index]
        return {}
    rows = conn.execute(
        "SELECT incident_id, opened_at FROM heartbeat.incident WHERE resolved_at IS NULL"
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def takes(levels: frozenset[str], status: str) -> bool:
    """Whether a channel hears an incident of this status (a channel taking amber hears red too)."""
    if status == "red":
        return bool({"red", "amber"} & levels)
    return status in levels


@dataclass
class IncidentPlan:
    """One channel's incident messages for one evaluation, and the member metrics they speak for."""

    events: list[AlertEvent] = field(default_factory=list)
    covering: dict[str, str] = field(default_factory=dict)  # metric id → the incident speaking for it
    leads: set[str] = field(default_factory=set)  # lead metrics: their reminder stays
    silent: list[AlertEvent] = field(default_factory=list)  # logged, not sent (a level the channel skips)


@dataclass
class IncidentFacts:
    """What every channel's plan reads once: live incidents, member states, stored opening moments."""

    incidents: list[Incident]
    states: dict[str, MetricState]
    opened: dict[str, datetime]
    public_url: str
    now: datetime
    retired: dict[str, str] = field(default_factory=dict)  # retired metric id → name

    def plan(self, levels: frozenset[str], told: dict[str, ToldIncident]) -> IncidentPlan:
        out = IncidentPlan()
        live_ids = set()
        for incident in self.incidents:
            live_ids.add(incident.incident_id)
            prior = told.get(incident.incident_id)
            if prior is None and (len(incident.metrics) < MIN_MEMBERS or not takes(levels, incident.status)):
                continue
            for metric_id in incident.metrics:
                out.covering[metric_id] = incident.incident_id
            out.leads.add(incident.lead_metric_id)
            if prior is None:
                out.events.append(self.opened_event(incident))
                continue
            joined = [m for m in incident.metrics if m not in prior.members]
            if joined:
                out.events.append(self.updated_event(incident, joined))
        for incident_id, prior in told.items():
            if incident_id in live_ids:
                continue
            for metric_id in prior.members:
                out.covering.setdefault(metric_id, incident_id)
            event = self.resolved_event(prior)
            (out.events if "resolved" in levels else out.silent).append(event)
        return out

    def _event(self, incident: Incident, kind: AlertKind, at: datetime, lines: list[str]) -> AlertEvent:
        lead = self.states.get(incident.lead_metric_id)
        return AlertEvent(
            metric_id=incident.incident_id,
            name=lead.name if lead else incident.lead_metric_id,
            kind=kind,
            track="status",
            subject_type="incident",
            status=incident.status,
            reason=incident.headline,
            value=lead.value if lead else None,
            value_text=value_text(lead.value, lead.unit) if lead else "—",
            unit=lead.unit if lead else "count",
            source_as_of=incident.started_at,
            owner=", ".join(incident.owners) if incident.owners else None,
            details=lines,
            url=f"{self.public_url}/metrics/{incident.lead_metric_id}",
            idempotency_key=idempotency_key("incident", incident.incident_id, kind, "status", utc_stamp(at)),
            rank=lead.rank if lead else 0,
            members=list(incident.metrics),
        )

    def opened_event(self, incident: Incident) -> AlertEvent:
        at = self.opened.get(incident.incident_id, self.now)
        return self._event(incident, "incident_opened", at, self.lines(incident, []))

    def updated_event(self, incident: Incident, joined: list[str]) -> AlertEvent:
        event = self._event(incident, "incident_updated", self.now, self.lines(incident, joined))
        return event.model_copy(update={"joined": joined})

    def resolved_event(self, prior: ToldIncident) -> AlertEvent:
        names = [self._name(m) for m in sorted(prior.members)]
        gone = [self.retired[m] for m in sorted(prior.members) if m in self.retired]
        open_for = (
            f"Open for {format_age((self.now - prior.started_at).total_seconds())}, started "
            f"{format_moment(prior.started_at, self.now)}"
            if prior.started_at
            else "open since it was told"
        )
        key = idempotency_key(
            "incident", prior.incident_id, "incident_resolved", "status", utc_stamp(self.now)
        )
        return AlertEvent(
            metric_id=prior.incident_id,
            name=prior.lead_name or prior.incident_id,
            kind="incident_resolved",
            track="status",
            subject_type="incident",
            status="resolved",
            reason=prior.headline,
            source_as_of=prior.started_at,
            details=[open_for, f"Members: {', '.join(names)}", f"Was: {prior.headline}"]
            + (
                [f"Retired (removed from metric_defs/, no longer watched): {', '.join(gone)}"] if gone else []
            ),
            url=f"{self.public_url}/",
            idempotency_key=key,
            members=sorted(prior.members),
            retired_members=sorted(m for m in prior.members if m in self.retired),
        )

    def _name(self, metric_id: str) -> str:
        state = self.states.get(metric_id)
        return state.name if state else self.retired.get(metric_id, metric_id)

    def lines(self, incident: Incident, joined: Sequence[str]) -> list[str]:
        """The body: when it started and who owns it, each member with its value, then what explains it."""
        started = format_moment(incident.started_at, self.now) if incident.started_at else "unknown"
        owners = f" · owner {', '.join(incident.owners)}" if incident.owners else " · no owner"
        lines = [f"Started {started} · {len(incident.metrics)} metrics{owners}"]
        for metric_id in incident.metrics[:MEMBER_LINES]:
            lines.append(self.member_line(metric_id, metric_id in joined))
        if len(incident.metrics) > MEMBER_LINES:
            lines.append(f"… {len(incident.metrics) - MEMBER_LINES} more metrics")
        if incident.drivers:
            shown = [f"{d.dimension}={d.segment}" for d in incident.drivers[:5]]
            lines.append(f"Moved most: {', '.join(shown)}")
        if incident.entities:
            lines.append(f"Who: {', '.join(incident.entities[:5])}")
        if incident.stale_sources:
            lines.append(f"Stale source: {', '.join(incident.stale_sources)} — do not trust its metrics")
        return lines

    def member_line(self, metric_id: str, joined: bool) -> str:
        state = self.states.get(metric_id)
        if state is None:
            return f"{metric_id}{' (joined)' if joined else ''}"
        icon = _STATE_ICON.get(state.display_state, "·")
        text = f"{icon} {state.name} {value_text(state.value, state.unit)} — {state.display_state}"
        if state.display_state == "stale" and state.source_as_of is not None:
            text += f", data from {format_moment(state.source_as_of, self.now)}"
        return text + (" (joined)" if joined else "")
