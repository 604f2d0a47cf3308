"""Short text renderings of the two most-asked answers, for the text block beside the structured content.

An agent reads one or the other; lines are cheaper than repeating the JSON, and read like a status board.
"""

from __future__ import annotations

from heartbeat_core import clock
from heartbeat_core.readmodel.entities import culprit_line
from heartbeat_mcp import models


def annotation_parts(p: models.Problem) -> list[str]:
    """Flags, incident and acknowledgement, when the read model has them (entities and drivers stay in
    the structured content: they are lists)."""
    parts = [f"{f.kind.upper()}: {f.reason}" for f in p.flags or []]
    if p.entities is not None:
        line = culprit_line(p.entities, clock.now().date())
        if line is not None:
            parts.append(f"in it: {line.named} ({line.counted})")
    if p.incident_id:
        parts.append(f"incident {p.incident_id}")
    ack = p.acknowledgement
    if ack:
        until = f" until {ack.until:%Y-%m-%d %H:%M}" if ack.until else ""
        parts.append(f"acknowledged by {ack.by}{until}" + (f": {ack.note}" if ack.note else ""))
    return parts


def problem_line(p: models.Problem) -> str:
    parts = [
        f"{p.rank}. {p.display_state.upper()} {p.metric_id} ({p.name}) = {p.shown} [{p.period}]: {p.reason}"
    ]
    if p.since:
        parts.append(f"since {p.since.isoformat()}")
    if p.freshness != "fresh":
        parts.append(f"STALE {p.freshness}: {p.freshness_reason}")
    if p.error:
        parts.append(f"error: {p.error}")
    parts += annotation_parts(p)
    parts.append(f"owner {p.owner or 'none'}")
    parts.append("verified" if p.verified else "unverified")
    return "; ".join(parts)


def what_is_red(answer: models.WhatIsRed) -> str:
    c = answer.counts
    head = (
        f"{answer.total} need attention (red {c.get('red', 0)}, amber {c.get('amber', 0)}, "
        f"stale {c.get('stale', 0)}, no data {c.get('no_data', 0)}), worst first"
    )
    lines = [head, *(problem_line(p) for p in answer.items)]
    if answer.more:
        lines.append(f"... {answer.more} more (raise limit)")
    if answer.degraded:
        lines.append(f"DATABASE UNREACHABLE, last good copy: {answer.degraded}")
    if not answer.items:
        lines.append("nothing needs attention")
    return "\n".join(lines)


def today(answer: models.Today) -> str:
    lines = [f"{answer.business_day.isoformat()}: {answer.headline}"]
    if answer.top:
        lines.append("Worst first:")
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
