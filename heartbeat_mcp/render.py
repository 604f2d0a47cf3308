"""Short text renderings of the two most-asked answers, for the text block beside the structured content.

An agent reads one or the other; lines are cheaper than repeating the JSON, and read like a status board.
"""

from __future__ import annotations

from datetime import date, datetime

from heartbeat_core import clock
from heartbeat_core.formatting import format_date, format_moment, format_row, format_since, format_value
from heartbeat_core.readmodel.annotations import Acknowledgement, Driver
from heartbeat_core.readmodel.entities import culprit_line
from heartbeat_core.readmodel.incidents import Incident
from heartbeat_mcp import models


def annotation_parts(p: models.Problem, who: bool = True) -> list[str]:
    """Flags, entities and acknowledgement, when the read model has them (the incident is the group the
    line is under; drivers stay in the structured content). STALE and ERROR are said once, by the line."""
    said = ("stale",) if p.freshness != "fresh" else ()  # the line says STALE with the freshness reason
    parts = [f"{f.kind.upper()}: {f.reason}" for f in p.flags or [] if f.kind not in (*said, "error")]
    if p.entities is not None and who:
        line = culprit_line(p.entities, clock.now().date())
        if line is not None:
            parts.append(f"in it: {line.named} ({line.counted})")
    if p.acknowledgement:
        parts.append(acknowledged_text(p.acknowledgement))
    return parts


def acknowledged_text(ack: Acknowledgement) -> str:
    """`acknowledged by anna@example.com until 3 Dec 09:00 UTC (in 18 h): in collections`."""
    until = f" until {format_moment(ack.until, clock.now())}" if ack.until else ""
    return f"acknowledged by {ack.by}{until}" + (f": {ack.note}" if ack.note else "")


def problem_line(p: models.Problem, *, owner: bool = True, grouped: bool = False, who: bool = True) -> str:
    """`1. RED metric_id (name) = value: reason; since; stale; in it; incident; owner` — one line a metric
    (incident, owner and who is in it left to the incident line when the line is under it and it says them)."""
    parts = [f"{p.rank}. {p.display_state.upper()} {p.metric_id} ({p.name}) = {p.shown}: {p.reason}"]
    if p.since and p.display_state != "stale":
        parts.append(format_since(p.since, clock.now().date(), days=True))
    if p.freshness != "fresh":
        parts.append(f"STALE: {p.freshness_reason}")
    if p.error:
        parts.append(f"error: {p.error}")
    parts += annotation_parts(p, who=who)
    if p.incident_id and not grouped:
        parts.append(f"incident {p.incident_id}")
    if owner:
        parts.append(f"owner {p.owner or 'none'}")
    if p.verified:
        parts.append("verified")
    return "; ".join(parts)


def grouped_lines(incidents: list[Incident], problems: list[models.Problem], today: date) -> list[str]:
    """Problems under their incident (its headline first, `since 14 Nov` as of `today`), then those in no
    incident shown."""
    lines: list[str] = []
    placed: set[str] = set()
    for i in incidents:
        members = [p for p in problems if p.metric_id in i.metrics]
        if not members:
            continue
        since = f" {format_since(i.started_at.date(), today)}" if i.started_at else ""
        owners = f"; owner {', '.join(i.owners)}" if i.owners else ""
        lines.append(f"Incident {i.incident_id} {i.status.upper()}{since}: {i.headline}{owners}")
        one_owner = len(i.owners or []) == 1
        lines += [
            f"  {problem_line(p, owner=not one_owner, grouped=True, who=not i.entities)}" for p in members
        ]
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
    lines = [head, *grouped_lines(answer.incidents, answer.items, clock.now().date())]
    if answer.more:
        lines.append(f"... {answer.more} more (raise limit)")
    if answer.degraded:
        lines.append(f"DATABASE UNREACHABLE, last good copy: {answer.degraded}")
    if not answer.items:
        lines.append("nothing needs attention")
    return "\n".join(lines)


MEMBERS_SHOWN = 8  # an incident's members named in the briefing; the JSON lists them all


def _incident_block(i: Incident, names: dict[str, str], units: dict[str, str], now: datetime) -> list[str]:
    """An incident in three lines or so: headline, members by name with their value, drivers and who."""
    since = f" since {format_moment(i.started_at, now)}" if i.started_at else ""
    owners = f"; owner {', '.join(i.owners)}" if i.owners else ""
    lines = [f"- {i.status.upper()} {i.incident_id}{since}: {i.headline}{owners}"]
    members = [names.get(m, m) for m in i.metrics[:MEMBERS_SHOWN]]
    more = f"; +{len(i.metrics) - MEMBERS_SHOWN} more" if len(i.metrics) > MEMBERS_SHOWN else ""
    lines.append(f"  metrics: {'; '.join(members)}{more}")
    if i.drivers:
        unit = units.get(i.lead_metric_id, "count")
        lines.append("  moved most: " + "; ".join(driver_text(d, unit) for d in i.drivers[:5]))
    if i.entities:
        lines.append(f"  who: {', '.join(i.entities[:6])}")
    if i.stale_sources:
        lines.append(f"  stale source: {', '.join(i.stale_sources)}")
    return lines


def driver_text(d: Driver, unit: str) -> str:
    """`currency=USD 12.2% (typ. 97.3%), 45 % of the move`: a segment's value in the lead metric's unit (a
    rate as a percentage, money with its currency), as every surface formats it."""
    value = "" if d.value is None else f" {format_value(d.value, unit)}"
    typical = "" if d.typical is None else f" (typ. {format_value(d.typical, unit)})"
    return f"{d.dimension}={d.segment}{value}{typical}, {d.share * 100:.0f} % of the move"


def _incidents_section(answer: models.Today) -> list[str]:
    if not answer.incidents:
        return []
    lines = [f"{len(answer.incidents) + answer.more_incidents} incidents, worst first:"]
    for i in answer.incidents:
        lines += _incident_block(i, answer._members, answer._units, answer.generated_at)
    if answer.more_incidents:
        lines.append(f"... {answer.more_incidents} more incidents (what_is_red lists every problem)")
    return lines


def _job_line(j: models.JobBrief) -> str:
    progress = f" {j.done}/{j.total}" if j.total else ""
    error = f"; error: {j.error}" if j.error else ""
    return (
        f"Job {j.job_id} ({j.trigger or '?'}): {j.state}{' ' + j.phase if j.phase else ''}{progress}{error}"
    )


def _section(title: str, items: list[str]) -> list[str]:
    return [title, *items] if items else []


def day_name(day: date) -> str:
    """A briefing's day as people say it: `Thu 3 Dec` (never `2026-12-03`)."""
    return f"{day:%a} {format_date(day, day)}"


def today(answer: models.Today) -> str:
    """The first answer as a short briefing (not a copy of the JSON): incidents with their members by name,
    other problems, what is new, what not to trust, changes, the job."""
    lines = [f"{day_name(answer.business_day)}: {answer.headline}", *_incidents_section(answer)]
    lines += _section("Other problems:", [problem_line(p) for p in answer.top])
    lines += _section("New since yesterday:", [f"- {n.text}" for n in answer.new])
    lines += _section("Do not trust:", [f"- {n.text}" for n in answer.not_to_trust])
    changes = [
        f"- {c.name}: {c.before} -> {c.after} ({'worse' if c.worse else 'better'})" for c in answer.changed
    ]
    lines += _section("Changed since yesterday:", changes)
    if answer.job:
        lines.append(_job_line(answer.job))
    if answer.targets_hit:
        lines.append(
            "Targets hit: " + ", ".join(f"{t.name} {t.shown} (target {t.target})" for t in answer.targets_hit)
        )
    if answer.degraded:
        lines.append(f"DATABASE UNREACHABLE, last good copy: {answer.degraded}")
    return "\n".join(lines)


def explanation(e: models.Explanation) -> str:
    """explain_metric in a few lines: colour and why, since, freshness, owner, drivers, the rows' page."""
    lines = [f"{e.status.upper()} {e.metric_id} ({e.name}) = {e.components.shown}: {e.reason}", e.why]
    since = format_since(e.since, e.as_of_date, days=True) if e.since and e.as_of_date else ""
    facts = [since, f"data {e.freshness}: {e.freshness_why}"]
    facts += [f"owner {e.owner or 'none'}", e.verification_state]
    lines.append("; ".join(f for f in facts if f))
    if e.drivers:
        lines.append("Moved most: " + "; ".join(driver_text(d, e.unit) for d in e.drivers))
    if e.error:
        lines.append(f"Last compute failed: {e.error}")
    if e.detail is not None:
        lines += detail_lines(e.detail, e.unit)
    for cut in e.audit_cuts:
        state = f" [OUT OF DATE: {cut.out_of_date}]" if cut.out_of_date else ""
        lines.append(f"Audit cut {cut.cut_id} ({cut.title}): {cut.takeaway or 'not computed'}{state}")
    return "\n".join(lines)


def detail_lines(d: models.Detail, unit: str) -> list[str]:
    """A page of the rows behind a value, cells as people read them (`24 Nov 11:54 UTC (3.2 d ago)`,
    `EUR 12,400`); the JSON keeps them as stored."""
    total = "?" if d.total is None else str(d.total)
    lines = [f"Rows {d.offset + 1}-{d.offset + len(d.rows)} of {total}: {' | '.join(d.columns)}"]
    now = clock.now()
    lines += ["  " + " | ".join(format_row(d.columns, row, now, unit=unit)) for row in d.rows]
    if d.more:
        lines.append(f"  ... {d.more} more (detail_offset={d.offset + len(d.rows)})")
    return lines


def metric_list(answer: models.MetricList) -> str:
    """One line a metric (the same line as what_is_red's)."""
    lines = [f"{answer.total} metrics" + (f", {answer.more} more past the limit" if answer.more else "")]
    return "\n".join(lines + [problem_line(p, owner=False) for p in answer.metrics])
