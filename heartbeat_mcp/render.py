"""Short text renderings of the two most-asked answers, for the text block beside the structured content.

An agent reads one or the other; lines are cheaper than repeating the JSON, and read like a status board.
"""

from __future__ import annotations

from heartbeat_core import clock
from heartbeat_core.readmodel.entities import culprit_line
from heartbeat_core.readmodel.incidents import Incident
from heartbeat_mcp import models


def annotation_parts(p: models.Problem) -> list[str]:
    """Flags, entities and acknowledgement, when the read model has them (the incident is the group the
    line is under; drivers stay in the structured content). STALE and ERROR are said once, by the line."""
    said = ("stale",) if p.freshness != "fresh" else ()  # the line says STALE with the freshness reason
    parts = [f"{f.kind.upper()}: {f.reason}" for f in p.flags or [] if f.kind not in (*said, "error")]
    if p.entities is not None:
        line = culprit_line(p.entities, clock.now().date())
        if line is not None:
            parts.append(f"in it: {line.named} ({line.counted})")
    ack = p.acknowledgement
    if ack:
        until = f" until {ack.until:%Y-%m-%d %H:%M}" if ack.until else ""
        parts.append(f"acknowledged by {ack.by}{until}" + (f": {ack.note}" if ack.note else ""))
    return parts


def problem_line(p: models.Problem, *, owner: bool = True, grouped: bool = False) -> str:
    """`1. RED metric_id (name) = value: reason; since; stale; in it; incident; owner` — one line a metric
    (incident and owner left to the incident line when the line is under it)."""
    parts = [f"{p.rank}. {p.display_state.upper()} {p.metric_id} ({p.name}) = {p.shown}: {p.reason}"]
    if p.since and p.display_state != "stale":
        parts.append(f"since {p.since.isoformat()}")
    if p.freshness != "fresh":
        parts.append(f"STALE: {p.freshness_reason}")
    if p.error:
        parts.append(f"error: {p.error}")
    parts += annotation_parts(p)
    if p.incident_id and not grouped:
        parts.append(f"incident {p.incident_id}")
    if owner:
        parts.append(f"owner {p.owner or 'none'}")
    if p.verified:
        parts.append("verified")
    return "; ".join(parts)


def grouped_lines(incidents: list[Incident], problems: list[models.Problem]) -> list[str]:
    """Problems under their incident (its headline first), then those in no incident shown."""
    lines: list[str] = []
    placed: set[str] = set()
    for i in incidents:
        members = [p for p in problems if p.metric_id in i.metrics]
        if not members:
            continue
        since = f" since {i.started_at:%Y-%m-%d}" if i.started_at else ""
        owners = f"; owner {', '.join(i.owners)}" if i.owners else ""
        lines.append(f"Incident {i.incident_id} {i.status.upper()}{since}: {i.headline}{owners}")
        lines += [f"  {problem_line(p, owner=len(i.owners or []) != 1, grouped=True)}" for p in members]
        placed.update(p.metric_id for p in members)
    rest = [p for p in problems if p.metric_id not in placed]
    if rest and lines:
        lines.append("Other:")
    return lines + [problem_line(p) for p in rest]


def what_is_red(answer: models.WhatIsRed) -> str:
    c = answer.counts
    head = (
        f"{answer.total} need attention (red {c.get('red', 0)}, amber {c.get('amber', 0)}, "
        f"stale {c.get('stale', 0)}, no data {c.get('no_data', 0)}), worst first"
    )
    lines = [head, *grouped_lines(answer.incidents, answer.items)]
    if answer.more:
        lines.append(f"... {answer.more} more (raise limit)")
    if answer.degraded:
        lines.append(f"DATABASE UNREACHABLE, last good copy: {answer.degraded}")
    if not answer.items:
        lines.append("nothing needs attention")
    return "\n".join(lines)


def today(answer: models.Today) -> str:
    lines = [f"{answer.business_day.isoformat()}: {answer.headline}"]
    if answer.incidents:
        lines.append(f"{len(answer.incidents)} incidents, worst first (what_is_red lists every metric):")
        lines += [
            f"- {i.incident_id} {i.status.upper()}: {i.headline} [{', '.join(i.metrics)}]"
            for i in answer.incidents
        ]
    if answer.top:
        lines.append("Worst metrics:")
        lines += [problem_line(p) for p in answer.top]
    if answer.changed:
        lines.append("Changed since yesterday:")
        lines += [
            f"- {c.metric_id}: {c.before} -> {c.after} ({'worse' if c.worse else 'better'}): {c.reason}"
            for c in answer.changed
        ]
    if answer.stale_sources:
        lines.append("Stale sources:")
        lines += [
            f"- {s.source} {s.freshness}: {s.reason}; {s.metrics} metric(s)"
            + (f"; last load {s.last_status}" if s.last_status else "")
            for s in answer.stale_sources
        ]
    if answer.job:
        j = answer.job
        progress = f" {j.done}/{j.total}" if j.total else ""
        lines.append(
            f"Job {j.job_id} ({j.trigger or '?'}): {j.state}{' ' + j.phase if j.phase else ''}{progress}"
            + (f"; error: {j.error}" if j.error else "")
        )
    if answer.targets_hit:
        lines.append(
            "Targets hit: "
            + ", ".join(f"{t.metric_id} {t.shown} (target {t.target})" for t in answer.targets_hit)
        )
    if answer.degraded:
        lines.append(f"DATABASE UNREACHABLE, last good copy: {answer.degraded}")
    return "\n".join(lines)
