"""Metric tools: `explain_metric` (why a metric has its colour), `metric_history`, `list_metrics`.

The builders are shared with the `heartbeat://metrics` resources (resources.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from heartbeat_core import readmodel
from heartbeat_core.audit.registry import cuts_for_metric
from heartbeat_core.compute.detail_page import DetailPage, detail_page
from heartbeat_core.metrics.registry import UnknownMetric, active_metrics
from heartbeat_core.readmodel import MetricState, triage
from heartbeat_core.readmodel.entities import entity_timeline
from heartbeat_core.readmodel.status import Status
from heartbeat_mcp import models, render
from heartbeat_mcp.answers import READ, answer, shown, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.tools.triage import problem

DETAIL_ROWS = 20
StatusFilter = Literal[Status, "stale"]


def _typical(definition: dict[str, Any]) -> str | None:
    """How the typical band is computed, in words, when the metric has one."""
    if definition.get("typical_method") != "rolling_stat":
        return None
    options = definition.get("typical_options") or {}
    window = options.get("window_days", 30) if isinstance(options, dict) else 30
    return f"rolling mean ± stddev of the last {window} days of history"


def _components(state: MetricState) -> models.Components:
    return models.Components(
        value=state.value,
        shown=shown(state),
        period=state.period,
        typical_mean=state.typical_mean,
        typical_stddev=state.typical_stddev,
        z=None if state.z is None else round(state.z, 2),
        norm_value=state.norm_value,
        alert_value=state.alert_value,
        target_value=state.target_value,
        target_due_date=state.target_due_date,
        target_hit=state.target_hit,
    )


def _detail(page: DetailPage | None) -> models.Detail | None:
    if page is None:
        return None
    return models.Detail(
        columns=page.columns, rows=page.rows, offset=page.offset, total=page.total, more=page.more
    )


def _definition(definition: dict[str, Any], include_sql: bool) -> models.Definition:
    return models.Definition(
        description=definition.get("description") or "",
        how_to_read=definition.get("how_to_read") or "",
        methodology=definition.get("methodology") or "",
        value_sql=definition.get("value_sql") if include_sql else None,
        detail_sql=definition.get("detail_sql") if include_sql else None,
        file_path=definition.get("file_path"),
        typical=_typical(definition),
    )


def explain(
    hb: Heartbeat,
    metric_id: str,
    *,
    include_sql: bool = False,
    detail_offset: int = 0,
    detail_limit: int = DETAIL_ROWS,
) -> models.Explanation:
    """Why a metric has its colour: its state, definition, last 30 values, a page of detail rows (with their
    total) and audit cuts; the SQL only when asked."""
    _, state = hb.state(metric_id)
    with hb.connection() as conn:
        definition = readmodel.metric_definition(conn, metric_id)
        if definition is None:
            active_metrics(conn, [metric_id])  # raises UnknownMetric naming the closest ids
            raise UnknownMetric([metric_id], [])
        points = readmodel.metric_history(conn, metric_id, 30)
        detail = detail_page(conn, metric_id, detail_offset, detail_limit)
        related_cuts = cuts_for_metric(conn, metric_id)
        timeline = (
            [t.model_dump(mode="json") for t in entity_timeline(conn, metric_id)]
            if state.entities is not None
            else None
        )
    return models.Explanation(
        metric_id=state.metric_id,
        name=state.name,
        status=state.status,
        reason=state.reason,
        why=triage.explain_status(state),
        direction=state.direction,
        unit=state.unit,
        components=_components(state),
        freshness=state.freshness,
        freshness_why=state.freshness_reason,
        source_as_of=state.source_as_of,
        sources=state.sources,
        computed_at=state.computed_at,
        as_of_date=state.as_of_date,
        since=state.status_since,
        error=state.error,
        last_30=triage.summarize_history(points, 30),
        detail=_detail(detail),
        definition=_definition(definition, include_sql),
        owner=state.owner,
        verification_state=state.verification_state,
        verification_updated_by=definition.get("verification_updated_by"),
        verification_updated_at=definition.get("verification_updated_at"),
        team=state.team,
        tags=state.tags,
        audit_cuts=[
            models.RelatedCut(
                cut_id=c["cut_id"],
                title=c["title"],
                page=c["page"],
                takeaway=c["takeaway"],
                out_of_date=c["out_of_date"],
            )
            for c in related_cuts
        ],
        entity_timeline=timeline,
        **models.annotations_of(state),
    )


def history(hb: Heartbeat, metric_id: str, days: int) -> models.History:
    """A metric's daily values, oldest first, with their colour and a summary."""
    _, state = hb.state(metric_id)
    with hb.connection() as conn:
        points = readmodel.metric_history(conn, metric_id, days)
    return models.History(
        metric_id=metric_id,
        unit=state.unit,
        days=len(points),
        summary=triage.summarize_history(points, days),
        points=[models.Point.model_validate(p, from_attributes=True) for p in points],
    )


def metric_list(
    hb: Heartbeat,
    query: str | None = None,
    status: StatusFilter | None = None,
    source: str | None = None,
    team: str | None = None,
    limit: int | None = None,
) -> models.MetricList:
    """Active metrics matching the filters, ranked worst first."""
    cached = hb.snapshot()
    chosen = [
        s
        for s in cached.snapshot.metrics
        if triage.matches(s, query=query, status=status, source=source, team=team)
    ]
    rows = chosen if limit is None else chosen[:limit]
    return models.MetricList(
        total=len(chosen), more=len(chosen) - len(rows), metrics=[problem(s) for s in rows]
    )


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `explain_metric`, `metric_history` and `list_metrics`."""

    @server.tool(annotations=READ)
    def explain_metric(
        metric_id: str,
        include_sql: bool = False,
        detail_offset: Annotated[int, Field(ge=0)] = 0,
        detail_limit: Annotated[int, Field(ge=1, le=500)] = DETAIL_ROWS,
    ) -> Annotated[CallToolResult, models.Explanation]:
        """Why a metric has its colour: the six components, freshness, drivers, a summary of its last 30
        values, a page of the rows behind it (who, how much, since when; `total` counts all, page with
        detail_offset), owner and verification. The SQL only with include_sql."""
        with tool_errors():
            explained = explain(
                hb, metric_id, include_sql=include_sql, detail_offset=detail_offset, detail_limit=detail_limit
            )
            return answer(explained, render.explanation(explained))

    @server.tool(annotations=READ)
    def metric_history(
        metric_id: str, days: Annotated[int, Field(ge=1, le=3650)] = 90
    ) -> Annotated[CallToolResult, models.History]:
        """A metric's daily values (oldest first) with their colour, and a summary."""
        with tool_errors():
            return answer(history(hb, metric_id, days))

    @server.tool(annotations=READ)
    def list_metrics(
        query: str | None = None,
        status: StatusFilter | None = None,
        source: str | None = None,
        team: str | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> Annotated[CallToolResult, models.MetricList]:
        """Active metrics, ranked worst first, as what_is_red's items; filter by words in
        id/name/description/tags, status (or "stale"), source or team."""
        with tool_errors():
            listed = metric_list(hb, query, status, source, team, limit)
            return answer(listed, render.metric_list(listed))
