"""Triage tools: `what_is_red` (problems ranked worst first) and `today` (the state in one call).

Both are answered from the snapshot, memoised per snapshot build and argument set, with a line-per-metric
text block (render.py) beside the structured content.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from heartbeat_core import clock
from heartbeat_core.formatting import format_value
from heartbeat_core.jobs import ledger
from heartbeat_core.readmodel import MetricState, triage
from heartbeat_core.readmodel.cache import CachedSnapshot
from heartbeat_core.readmodel.freshness import SourceStatus
from heartbeat_core.settings import get_settings
from heartbeat_mcp import models, render
from heartbeat_mcp.answers import READ, shown, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.tools.sources import source_states

TOP_IN_TODAY = 5
CHANGES_IN_TODAY = 10
TARGETS_IN_TODAY = 10


def problem(state: MetricState) -> models.Problem:
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
    ids = {s.metric_id for s in found}
    return models.WhatIsRed(
        generated_at=cached.snapshot.generated_at,
        counts=cached.snapshot.counts,
        total=len(found),
        incidents=[i for i in cached.snapshot.incidents if ids & set(i.metrics)],
        items=[problem(s) for s in found[:limit]],
        more=max(len(found) - limit, 0),
        degraded=cached.error if cached.degraded else None,
    )


Extras = tuple[list[triage.Transition], list[SourceStatus]]


def _extras(hb: Heartbeat, cached: CachedSnapshot) -> Extras:
    """Transitions since yesterday and source states, computed once per snapshot build."""

    def compute() -> Extras:
        with hb.connection() as conn:
            return triage.transitions_since(conn, cached.snapshot.metrics), source_states(conn)

    nothing: Extras = ([], [])
    return hb.per_build(cached, "today.extras", compute, nothing)


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
    changes, sources = _extras(hb, cached)
    return models.Today(
        generated_at=snap.generated_at,
        business_day=clock.business_day(snap.generated_at, get_settings().tz),
        headline=_headline(snap.counts, len(snap.metrics)),
        counts=snap.counts,
        incidents=snap.incidents,
        top=[problem(s) for s in triage.problems(snap.metrics)[:TOP_IN_TODAY]],
        changed=[models.Change.model_validate(c.model_dump()) for c in changes[:CHANGES_IN_TODAY]],
        stale_sources=[
            models.StaleSource(
                source=s.source,
                freshness=s.freshness,
                reason=s.freshness_reason,
                last_status=s.last_status,
                metrics=len(s.metrics),
            )
            for s in sources
            if s.freshness != "fresh"
        ],
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
        """The state of the business in one call: counts, the worst few, colour changes since yesterday,
        stale sources, the running or last recompute job, targets hit."""
        with tool_errors():
            return await hb.serve_read(("today",), lambda cached: build_today(hb, cached), render.today)
