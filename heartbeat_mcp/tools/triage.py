"""Triage tools: `what_is_red` (problems ranked worst first) and `today` (the state in one call).

Both are answered from the snapshot, memoised per snapshot build and argument set, with a line-per-metric
text block (render.py) beside the structured content.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from heartbeat_core import clock
from heartbeat_core.audit.currency import OutOfDate, out_of_date_cuts
from heartbeat_core.formatting import counted, format_moment, format_value
from heartbeat_core.jobs import ledger
from heartbeat_core.readmodel import MetricState, triage
from heartbeat_core.readmodel.cache import CachedSnapshot
from heartbeat_core.readmodel.freshness import SourceStatus
from heartbeat_core.readmodel.snapshot import CockpitSnapshot
from heartbeat_core.settings import get_settings
from heartbeat_mcp import models, render
from heartbeat_mcp.answers import READ, shown, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.tools.sources import source_states

TOP_IN_TODAY = 5
INCIDENTS_IN_TODAY = 10  # worst first; what_is_red has the rest
CHANGES_IN_TODAY = 10
TARGETS_IN_TODAY = 10
NOTICES_IN_TODAY = 12
NOTICE_METRICS = 10  # metric ids a notice names; its text gives the count
LATE_CUTS_ONE_BY_ONE = 3  # more out-of-date audit cuts than this: one notice for them all
LATE_CUTS_NAMED = 4
NEW_WITHIN_S = 86400.0  # "new": started within the last day


def problem(state: MetricState, *, sources: bool = False) -> models.Problem:
    """One problem item: the colour, why, since when, freshness, owner, and the read model's annotations."""
    return models.Problem(
        rank=state.rank,
        metric_id=state.metric_id,
        name=state.name,
        status=state.status,
        value=state.value,
        shown=shown(state),
        period=state.period,
        reason=state.reason,
        crossed=state.crossed,
        since=state.status_since,
        freshness=state.freshness,
        freshness_reason=None if state.freshness == "fresh" else state.freshness_reason,
        error=state.error,
        owner=state.owner,
        verified=state.verification_state == "verified",
        team=state.team,
        sources=(state.sources or None) if sources or state.freshness != "fresh" else None,
        **models.annotations_of(state),
    )


def build_what_is_red(
    cached: CachedSnapshot,
    include_amber: bool = True,
    include_stale: bool = True,
    team: str | None = None,
    limit: int = 20,
) -> models.WhatIsRed:
    """The problems under the filters, ranked by the status contract; `more` counts those past `limit`."""
    found = triage.problems(
        cached.snapshot.metrics, include_amber=include_amber, include_stale=include_stale, team=team
    )
    ids = {s.metric_id for s in found[:limit]}  # the incidents of the items shown, not of every problem
    return models.WhatIsRed(
        generated_at=cached.snapshot.generated_at,
        counts=cached.snapshot.counts,
        total=len(found),
        # incidents of several metrics among the items shown; an item alone names its own by incident_id
        incidents=[i for i in cached.snapshot.incidents if len(i.metrics) > 1 and ids & set(i.metrics)],
        items=[problem(s) for s in found[:limit]],
        more=max(len(found) - limit, 0),
        degraded=cached.error if cached.degraded else None,
    )


Extras = tuple[list[triage.Transition], list[SourceStatus], list[OutOfDate]]


def _extras(hb: Heartbeat, cached: CachedSnapshot) -> Extras:
    """Transitions since yesterday, source states and out-of-date audit cuts, once per snapshot build."""

    def compute() -> Extras:
        with hb.connection() as conn:
            late = list(out_of_date_cuts(conn).values())
            return triage.transitions_since(conn, cached.snapshot.metrics), source_states(conn), late

    nothing: Extras = ([], [], [])
    return hb.per_build(cached, "today.extras", compute, nothing)


def _new(snap: CockpitSnapshot, now: datetime) -> list[models.Notice]:
    """Incidents that started in the last day, and entities new since the previous day in a problem."""
    out = [
        models.Notice(
            kind="incident",
            subject=i.incident_id,
            text=f"{i.headline} (started {format_moment(i.started_at, now)})",
            metrics=i.metrics[:NOTICE_METRICS],
        )
        for i in snap.incidents
        if i.started_at is not None and (now - i.started_at).total_seconds() <= NEW_WITHIN_S
    ]
    seen: dict[str, models.Notice] = {}
    for state in triage.problems(snap.metrics):
        summary = state.entities
        for ref in summary.new_since_previous_day if summary else []:
            assert summary is not None
            name = ref.label or f"{summary.type} {ref.key}"
            weight = f" ({format_value(ref.weight, summary.weight_unit or 'count')})" if ref.weight else ""
            notice = seen.get(name)
            if notice is None:
                seen[name] = notice = models.Notice(
                    kind="entity",
                    subject=f"{summary.type}:{ref.key}",
                    text=f"{name}{weight} new in",
                    metrics=[],
                )
                out.append(notice)
            notice.text += f"{',' if notice.metrics else ''} {state.name}"
            assert notice.metrics is not None
            notice.metrics.append(state.metric_id)
    return out[:NOTICES_IN_TODAY]


def _distrust(
    snap: CockpitSnapshot, sources: list[SourceStatus], late: list[OutOfDate], now: datetime
) -> list[models.Notice]:
    """Stale sources, suspect, implausible or failed values, audit cuts older than the data they summarise."""
    out = [
        models.Notice(
            kind="stale_source",
            subject=s.source,
            text=f"source {s.source} {s.freshness}: {s.freshness_reason}"
            + (f" (last load {s.last_status})" if s.last_status else "")
            + f"; {counted(len(s.metrics), 'metric')} read it",
            metrics=s.metrics[:NOTICE_METRICS] or None,
        )
        for s in sources
        if s.freshness != "fresh"
    ]
    for state in snap.metrics:
        for flag in state.flags:
            if flag.kind in ("suspect", "implausible"):
                out.append(
                    models.Notice(
                        kind=flag.kind, subject=state.metric_id, text=f"{state.name}: {flag.reason}"
                    )
                )
        if state.error:
            text = f"{state.name}: last compute failed ({state.error[:160]}); showing the value before"
            out.append(models.Notice(kind="error", subject=state.metric_id, text=text))
    return (out + _late_cuts(late, now))[:NOTICES_IN_TODAY]


def _late_cuts(late: list[OutOfDate], now: datetime) -> list[models.Notice]:
    """Audit cuts older than the data they summarise: one notice each, or one for them all when many (a daily
    audit refresh before an hourly landing puts every cut behind at once)."""
    if len(late) <= LATE_CUTS_ONE_BY_ONE:
        return [
            models.Notice(kind="audit_cut", subject=c.cut_id, text=f"audit cut {c.title}: {c.reason(now)}")
            for c in late
        ]
    oldest = min(late, key=lambda c: c.computed_at)
    titles = ", ".join(c.title for c in late[:LATE_CUTS_NAMED])
    more = f" +{len(late) - LATE_CUTS_NAMED} more" if len(late) > LATE_CUTS_NAMED else ""
    text = (
        f"{len(late)} audit cuts older than the data they summarise (oldest snapshot "
        f"{format_moment(oldest.computed_at, now)}; their sources landed since): {titles}{more}"
    )
    return [models.Notice(kind="audit_cut", subject=",".join(c.cut_id for c in late), text=text)]


def job_brief(cached: CachedSnapshot) -> models.JobBrief | None:
    """The running or last job from the snapshot (job changes move the read-model version); progress
    counts are read live only while a job runs."""
    last = cached.snapshot.last_job
    if last is None:
        return None
    brief = models.JobBrief.model_validate(last.model_dump())
    if last.state in ledger.ACTIVE_STATES and not cached.degraded:
        with contextlib.suppress(Exception):  # a live read is a bonus: the snapshot's copy will do
            view = ledger.get_job(last.job_id)
            if view is not None:
                brief = models.JobBrief.model_validate(
                    view.model_dump(include=set(models.JobBrief.model_fields))
                )
    return brief


def _headline(counts: dict[str, int], metrics: int) -> str:
    headline = (
        f"{counts.get('red', 0)} red, {counts.get('amber', 0)} amber, {counts.get('stale', 0)} stale, "
        f"{counts.get('green', 0)} green of {metrics} metrics"
    )
    if counts.get("no_data"):
        headline += f" ({counts['no_data']} without data)"
    return headline


def build_today(hb: Heartbeat, cached: CachedSnapshot) -> models.Today:
    """Counts, the worst few, colour changes, stale sources, the job and targets hit, from one snapshot."""
    snap = cached.snapshot
    changes, sources, late = _extras(hb, cached)
    grouped = {m for i in snap.incidents for m in i.metrics}
    now = snap.generated_at
    answer = models.Today(
        generated_at=snap.generated_at,
        business_day=clock.business_day(snap.generated_at, get_settings().tz),
        headline=_headline(snap.counts, len(snap.metrics)),
        counts=snap.counts,
        incidents=snap.incidents[:INCIDENTS_IN_TODAY],
        more_incidents=max(len(snap.incidents) - INCIDENTS_IN_TODAY, 0),
        top=[problem(s) for s in triage.problems(snap.metrics) if s.metric_id not in grouped][:TOP_IN_TODAY],
        new=_new(snap, now),
        not_to_trust=_distrust(snap, sources, late, now),
        changed=[models.Change.model_validate(c.model_dump()) for c in changes[:CHANGES_IN_TODAY]],
        job=job_brief(cached),
        pipeline=snap.pipeline if snap.pipeline.stalled else None,
        targets_hit=[
            models.TargetHit(
                metric_id=s.metric_id,
                name=s.name,
                shown=shown(s),
                target=format_value(s.target_value, s.unit) if s.target_value is not None else "",
            )
            for s in snap.metrics
            if s.target_hit
        ][:TARGETS_IN_TODAY],
        degraded=cached.error if cached.degraded else None,
    )
    leads = {i.lead_metric_id for i in snap.incidents}
    answer._units = {s.metric_id: s.unit for s in snap.metrics if s.metric_id in leads}
    members = {m for i in snap.incidents for m in i.metrics}
    answer._members = {
        s.metric_id: f"{s.name} {shown(s)} ({s.display_state}"
        + (f"; {render.acknowledged_text(s.acknowledgement)})" if s.acknowledgement else ")")
        for s in snap.metrics
        if s.metric_id in members
    }
    return answer


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `what_is_red` and `today`."""

    @server.tool(annotations=READ)
    async def what_is_red(
        include_amber: bool = True,
        include_stale: bool = True,
        team: str | None = None,
        limit: Annotated[int, Field(ge=1, le=300)] = 20,
    ) -> Annotated[CallToolResult, models.WhatIsRed]:
        """Metrics needing attention, worst first: red, amber, then stale sources or missing values. Each
        item says the line crossed (or z vs typical), since when, freshness, owner, verification."""
        with tool_errors():
            return await hb.serve_read(
                ("what_is_red", include_amber, include_stale, team, limit),
                lambda cached: build_what_is_red(cached, include_amber, include_stale, team, limit),
                render.what_is_red,
            )

    @server.tool(annotations=READ)
    async def today() -> Annotated[CallToolResult, models.Today]:
        """The state of the business in one call: incidents (headline, members, drivers, who), other
        problems, what is new, what not to trust (stale sources, suspect values, out-of-date audit cuts),
        colour changes since yesterday, the running or last job, targets hit."""
        with tool_errors():
            return await hb.serve_read(("today",), lambda cached: build_today(hb, cached), render.today)
