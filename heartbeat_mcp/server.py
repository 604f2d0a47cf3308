"""Heartbeat's MCP server: tools, resources and the daily-triage prompt, thin over `heartbeat_core`.

`build_server()` gives an `MCPServer`; `heartbeat mcp` runs it over stdio, `heartbeat_mcp.http` serves it
as streamable HTTP. Reads come from one `SnapshotCache` per server (the read model is built once per
change); writes go through `heartbeat_core.metrics.operator`; recompute through `heartbeat_core.jobs`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any, Literal

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import psycopg
import psycopg.errors
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from heartbeat_core import clock, readmodel
from heartbeat_core.audit.registry import cuts_for_metric
from heartbeat_core.db import DatabaseUnavailable, connect, get_pool
from heartbeat_core.formatting import format_number
from heartbeat_core.metrics import operator
from heartbeat_core.metrics.registry import UnknownMetric, active_metrics
from heartbeat_core.readmodel import MetricState, triage
from heartbeat_core.readmodel.cache import CachedSnapshot, SnapshotCache
from heartbeat_core.settings import get_settings
from heartbeat_mcp import models, render
from heartbeat_mcp.audit_tools import register_audit_tools
from heartbeat_mcp.schema import compact_tool_schemas

READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
RUN = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)

INSTRUCTIONS = (
    "Heartbeat watches the business's metrics. Start with `today` (the state in one call) or `what_is_red` "
    "(problems ranked worst first); `explain_metric` says why a metric has its colour and shows the rows "
    "behind it. Colour (the value is bad) and freshness (the pipeline is stale) are separate signals."
)
TOP_IN_TODAY = 5
DETAIL_ROWS = 20
POOL_TIMEOUT_S = 3.0
CHECK_EVERY_S = 1.0  # how stale a read may be (writes through this server are seen at once)
PROBE_TIMEOUT_S = 3
RETRY_AFTER_S = 5.0

LineField = Literal["norm", "alert", "target", "target_due_date"]


def shown(state: MetricState) -> str:
    return "—" if state.value is None else format_number(state.value, state.unit)


def answer(model: BaseModel, text: str | None = None) -> CallToolResult:
    """Structured content plus a text block for clients that read only text: its compact JSON, or `text`."""
    data = model.model_dump(mode="json", exclude_none=True)
    if text is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the failures an agent can act on into tool errors with a one-line message."""
    try:
        yield
    except ToolError:
        raise
    except UnknownMetric as exc:
        raise ToolError(f"{exc}. Call list_metrics to see the ids.") from None
    except operator.OperatorInputError as exc:
        raise ToolError(f"invalid input: {exc}") from None
    except DatabaseUnavailable as exc:
        raise ToolError(f"database unavailable: {exc}. Try again shortly.") from None
    except psycopg.errors.QueryCanceled:
        raise ToolError(
            "the database took too long to answer (statement timeout). Try again shortly."
        ) from None
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ToolError(f"database unavailable: {first}. Try again shortly.") from None
    except Exception as exc:
        if type(exc).__name__ == "PoolTimeout":
            raise ToolError(
                "database unavailable: no connection within a few seconds. Try again shortly."
            ) from None
        raise


def connection_lost(exc: BaseException) -> bool:
    """The server is unreachable or went away (not a bad query): worth failing fast for a few seconds."""
    if isinstance(exc, DatabaseUnavailable) or type(exc).__name__ == "PoolTimeout":
        return True
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
        state = getattr(exc, "sqlstate", None)
        return state is None or state.startswith(("08", "57P"))
    return False


class Heartbeat:
    """The state one MCP server keeps: its snapshot cache, a memo of per-snapshot extras, the default actor."""

    def __init__(self, cache: SnapshotCache | None = None, actor: str = "mcp-stdio") -> None:
        self.cache = cache or SnapshotCache(max_age_s=30.0, retry_after_s=5.0)
        self.actor = actor
        self._lock = threading.Lock()
        self._extras_key: tuple[int, float] | None = None
        self._extras: tuple[list[triage.Transition], list[triage.SourceStatus]] = ([], [])
        self._recent: tuple[float, CachedSnapshot | None] = (0.0, None)
        self._answers: dict[tuple[Any, ...], CallToolResult] = {}
        self._reached = False  # has the database answered once?
        self._down_since: float | None = None
        self._down_reason = ""

    # -- plumbing --------------------------------------------------------------------------------

    def _gate(self) -> None:
        """Fail fast while the database is known to be down, and probe it directly before the pool's first
        use (the pool would wait its full timeout to say less)."""
        now = time.monotonic()
        if self._down_since is not None and now - self._down_since < RETRY_AFTER_S:
            raise DatabaseUnavailable(self._down_reason)
        if self._reached and self._down_since is None:
            return
        try:
            with connect(connect_timeout=PROBE_TIMEOUT_S):
                pass
        except DatabaseUnavailable as exc:
            self._down_since, self._down_reason = now, str(exc)
            raise
        self._reached, self._down_since = True, None

    def _failed(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self._down_since, self._down_reason = time.monotonic(), first

    def snapshot(self) -> CachedSnapshot:
        if self.cache._current is None:
            self._gate()
        cached = self.cache.get()
        if cached.degraded and self._down_since is None:
            self._failed(RuntimeError(cached.error or "database unavailable"))
        with self._lock:
            self._recent = (time.monotonic(), cached)
        return cached

    def recent(self) -> CachedSnapshot | None:
        """The snapshot checked against the database less than CHECK_EVERY_S ago, without any I/O."""
        checked_at, cached = self._recent
        if cached is None or time.monotonic() - checked_at >= CHECK_EVERY_S or cached.degraded:
            return None
        return cached

    def forget(self) -> None:
        """After a write through this server: the next read checks the database again."""
        self.cache.invalidate()
        with self._lock:
            self._recent = (0.0, None)
            self._answers.clear()

    @staticmethod
    def _key(cached: CachedSnapshot) -> tuple[int, float]:
        return (cached.snapshot.version, cached.built_at)

    def memo(self, cached: CachedSnapshot, key: tuple[Any, ...]) -> CallToolResult | None:
        return self._answers.get((self._key(cached), *key))

    def remember(
        self, cached: CachedSnapshot, key: tuple[Any, ...], result: CallToolResult
    ) -> CallToolResult:
        if cached.degraded:
            return result
        with self._lock:
            if len(self._answers) > 64:
                self._answers.clear()
            self._answers[(self._key(cached), *key)] = result
        return result

    def read_answer(
        self, key: tuple[Any, ...], build: Callable[[CachedSnapshot], BaseModel]
    ) -> CallToolResult:
        """An answer built from the snapshot, once per snapshot build and argument set (runs in a thread)."""
        cached = self.snapshot()
        hit = self.memo(cached, key)
        if hit is not None:
            return hit
        model = build(cached)
        text = None
        if isinstance(model, models.WhatIsRed):
            text = render.what_is_red(model)
        elif isinstance(model, models.Today):
            text = render.today(model)
        return self.remember(cached, key, answer(model, text))

    async def serve_read(
        self, key: tuple[Any, ...], build: Callable[[CachedSnapshot], BaseModel]
    ) -> CallToolResult:
        """Fast path on the event loop when a recent snapshot's answer is memoised; else a worker thread."""
        recent = self.recent()
        if recent is not None:
            hit = self.memo(recent, key)
            if hit is not None:
                return hit
        return await anyio.to_thread.run_sync(self.read_answer, key, build)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        self._gate()
        try:
            with get_pool().connection(timeout=POOL_TIMEOUT_S) as conn:
                yield conn
        except Exception as exc:
            if connection_lost(exc):
                self._failed(exc)
            raise

    def extras(self, cached: CachedSnapshot) -> tuple[list[triage.Transition], list[triage.SourceStatus]]:
        """Transitions since yesterday and source states, computed once per snapshot build."""
        key = (cached.snapshot.version, cached.built_at)
        with self._lock:
            if self._extras_key == key or cached.degraded:
                return self._extras
            with self.connection() as conn:
                changes = triage.transitions_since(conn, cached.snapshot.metrics)
                sources = triage.sources_status(conn)
            self._extras_key = key
            self._extras = (changes, sources)
            return self._extras

    def state(self, metric_id: str) -> tuple[CachedSnapshot, MetricState]:
        cached = self.snapshot()
        for state in cached.snapshot.metrics:
            if state.metric_id == metric_id:
                return cached, state
        known = [s.metric_id for s in cached.snapshot.metrics]
        raise UnknownMetric([metric_id], known)

    def actor_for(self, ctx: Context | None) -> str:
        """Who is writing: the bearer token's subject over HTTP, this server's default actor otherwise.

        Over HTTP with HEARTBEAT_API_TOKEN set and no authenticated user, the write is refused (the HTTP app
        already answers 401 before any tool runs; this is the second lock on the door)."""
        request = None
        if ctx is not None:
            with contextlib.suppress(ValueError):
                request = ctx.request_context.request
        if request is None:
            return self.actor
        user = getattr(request, "scope", {}).get("user")
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
            return f"mcp-http:{token.subject or token.client_id}"
        if get_settings().api_token:
            raise ToolError(
                "writes over HTTP need the bearer token (Authorization: Bearer $HEARTBEAT_API_TOKEN)"
            )
        return "mcp-http"

    # -- reads -----------------------------------------------------------------------------------

    @staticmethod
    def problem(state: MetricState) -> models.Problem:
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
        )

    def what_is_red(
        self,
        include_amber: bool = True,
        include_stale: bool = True,
        team: str | None = None,
        limit: int = 20,
        cached: CachedSnapshot | None = None,
    ) -> models.WhatIsRed:
        cached = cached or self.snapshot()
        found = triage.problems(
            cached.snapshot.metrics, include_amber=include_amber, include_stale=include_stale, team=team
        )
        return models.WhatIsRed(
            generated_at=cached.snapshot.generated_at,
            counts=cached.snapshot.counts,
            total=len(found),
            items=[self.problem(s) for s in found[:limit]],
            more=max(len(found) - limit, 0),
            degraded=cached.error if cached.degraded else None,
        )

    def today(self, cached: CachedSnapshot | None = None) -> models.Today:
        cached = cached or self.snapshot()
        snap = cached.snapshot
        changes, sources = self.extras(cached)
        found = triage.problems(snap.metrics)
        counts = snap.counts
        headline = (
            f"{counts.get('red', 0)} red, {counts.get('amber', 0)} amber, {counts.get('stale', 0)} stale, "
            f"{counts.get('green', 0)} green of {len(snap.metrics)} metrics"
        )
        if counts.get("no_data"):
            headline += f" ({counts['no_data']} without data)"
        return models.Today(
            generated_at=snap.generated_at,
            business_day=clock.business_day(snap.generated_at, get_settings().tz),
            headline=headline,
            counts=counts,
            top=[self.problem(s) for s in found[:TOP_IN_TODAY]],
            changed=[models.Change(**c.model_dump()) for c in changes[:10]],
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
            job=self.job_brief(cached),
            targets_hit=[
                models.TargetHit(
                    metric_id=s.metric_id,
                    name=s.name,
                    shown=shown(s),
                    target=format_number(s.target_value, s.unit) if s.target_value is not None else "",
                )
                for s in snap.metrics
                if s.target_hit
            ][:10],
            degraded=cached.error if cached.degraded else None,
        )

    def job_brief(self, cached: CachedSnapshot) -> models.JobBrief | None:
        """The running or last job from the snapshot (job changes move the read-model version); progress
        counts are read live only while a job runs."""
        last = cached.snapshot.last_job
        if last is None:
            return None
        brief = models.JobBrief.model_validate(last.model_dump())
        jobs = _jobs_module()
        if jobs is not None and last.state in ("queued", "running") and not cached.degraded:
            with contextlib.suppress(Exception):
                view = jobs.get_job(last.job_id)
                if view is not None:
                    data = _dump(view)
                    brief = models.JobBrief.model_validate(
                        {k: data.get(k) for k in models.JobBrief.model_fields}
                    )
        return brief

    def explain(self, metric_id: str) -> models.Explanation:
        _, state = self.state(metric_id)
        with self.connection() as conn:
            definition = readmodel.metric_definition(conn, metric_id)
            if definition is None:
                active_metrics(conn, [metric_id])  # raises UnknownMetric naming the closest ids
                raise UnknownMetric([metric_id], [])
            points = readmodel.metric_history(conn, metric_id, 30)
            detail = readmodel.metric_detail(conn, metric_id)
            related_cuts = cuts_for_metric(conn, metric_id)
        options = definition.get("typical_options") or {}
        typical = None
        if definition.get("typical_method") == "rolling_stat":
            window = options.get("window_days", 30) if isinstance(options, dict) else 30
            typical = f"rolling mean ± stddev of the last {window} days of history"
        rows = (detail or {}).get("rows") or []
        return models.Explanation(
            metric_id=state.metric_id,
            name=state.name,
            status=state.status,
            reason=state.reason,
            why=triage.explain_status(state),
            direction=state.direction,
            unit=state.unit,
            components=models.Components(
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
            ),
            freshness=state.freshness,
            freshness_why=state.freshness_reason,
            source_as_of=state.source_as_of,
            sources=state.sources,
            computed_at=state.computed_at,
            as_of_date=state.as_of_date,
            since=state.status_since,
            error=state.error,
            last_30=triage.summarize_history(points, 30),
            detail=None
            if detail is None
            else models.Detail(
                columns=detail.get("columns") or [],
                rows=rows[:DETAIL_ROWS],
                truncated=bool(detail.get("truncated")) or len(rows) > DETAIL_ROWS,
            ),
            definition=models.Definition(
                description=definition.get("description") or "",
                how_to_read=definition.get("how_to_read") or "",
                methodology=definition.get("methodology") or "",
                value_sql=definition.get("value_sql") or "",
                detail_sql=definition.get("detail_sql"),
                file_path=definition.get("file_path"),
                typical=typical,
            ),
            owner=state.owner,
            verification_state=state.verification_state,
            verification_updated_by=definition.get("verification_updated_by"),
            verification_updated_at=definition.get("verification_updated_at"),
            team=state.team,
            tags=state.tags,
            audit_cuts=[
                models.RelatedCut(
                    cut_id=c["cut_id"], title=c["title"], page=c["page"], takeaway=c["takeaway"]
                )
                for c in related_cuts
            ],
        )

    def history(self, metric_id: str, days: int) -> models.History:
        _, state = self.state(metric_id)
        with self.connection() as conn:
            points = readmodel.metric_history(conn, metric_id, days)
        return models.History(
            metric_id=metric_id,
            unit=state.unit,
            days=len(points),
            summary=triage.summarize_history(points, days),
            points=[
                models.Point(as_of_date=p.as_of_date, value=p.value, status=p.status, error=p.error)
                for p in points
            ],
        )

    def list_metrics(
        self,
        query: str | None,
        status: str | None,
        source: str | None,
        team: str | None,
        limit: int | None = None,
    ) -> models.MetricList:
        cached = self.snapshot()
        chosen = [
            s
            for s in cached.snapshot.metrics
            if triage.matches(s, query=query, status=status, source=source, team=team)
        ]
        shown_rows = chosen if limit is None else chosen[:limit]
        return models.MetricList(
            total=len(chosen),
            more=len(chosen) - len(shown_rows),
            metrics=[
                models.MetricRow(
                    metric_id=s.metric_id,
                    name=s.name,
                    status=s.status,
                    shown=shown(s),
                    period=s.period,
                    freshness=s.freshness,
                    team=s.team,
                    owner=s.owner,
                    sources=s.sources,
                )
                for s in shown_rows
            ],
        )

    def sources(self) -> models.Sources:
        with self.connection() as conn:
            return models.Sources(generated_at=clock.now(), sources=triage.sources_status(conn))

    # -- writes ----------------------------------------------------------------------------------

    def set_thresholds(
        self,
        metric_id: str,
        actor: str,
        norm: float | None,
        alert: float | None,
        target: float | None,
        target_due_date: date | None,
        clear: list[str],
    ) -> models.ThresholdsAnswer:
        changes: dict[str, Any] = {}
        given = {"norm": norm, "alert": alert, "target": target, "target_due_date": target_due_date}
        for field, value in given.items():
            if value is not None:
                changes[field] = value
        both = sorted(set(changes) & set(clear))
        if both:
            raise ToolError(f"invalid input: {', '.join(both)} both set and cleared; choose one")
        for field in clear:
            changes[field] = None
        if not changes:
            raise ToolError(
                "invalid input: nothing to change; give norm, alert, target or target_due_date, "
                "or name lines to remove in clear"
            )
        with self.connection() as conn:
            result = operator.set_thresholds(conn, metric_id, changes=changes, actor=actor)
        self.forget()
        _, state = self.state(metric_id)
        return models.ThresholdsAnswer(
            metric_id=metric_id,
            norm_value=result["norm_value"],
            alert_value=result["alert_value"],
            target_value=result["target_value"],
            target_due_date=result["target_due_date"],
            status=state.status,
            reason=state.reason,
            updated_by=result["updated_by"],
            updated_at=result["updated_at"],
        )

    def set_owner(self, metric_id: str, owner: str | None, actor: str) -> models.OwnerAnswer:
        with self.connection() as conn:
            result = operator.set_owner(conn, metric_id, owner, actor=actor)
        self.forget()
        return models.OwnerAnswer(**result)

    def set_verification(self, metric_id: str, state: str, actor: str) -> models.VerificationAnswer:
        with self.connection() as conn:
            result = operator.set_verification(conn, metric_id, state, actor=actor)
        self.forget()
        return models.VerificationAnswer(**result)


def _jobs_module() -> Any:
    try:
        from heartbeat_core import jobs
    except ImportError:
        return None
    return jobs


def _dump(view: Any) -> dict[str, Any]:
    if isinstance(view, BaseModel):
        return view.model_dump()
    if isinstance(view, dict):
        return dict(view)
    return dict(vars(view))


def job_model(view: Any) -> models.Job:
    data = _dump(view)
    fields = {k: data.get(k) for k in models.Job.model_fields if k in data}
    metrics = data.get("metrics") or []
    fields["metrics_ok"] = sum(1 for m in metrics if m.get("state") == "succeeded")
    fields["metrics_failed"] = [m for m in metrics if m.get("state") != "succeeded"][:20]
    fields["sources"] = data.get("sources") or []
    return models.Job.model_validate(fields)


def _ids(metric_ids: list[str] | str) -> list[str] | Literal["all"]:
    if isinstance(metric_ids, str):
        if metric_ids.strip().lower() in ("", "all"):
            return "all"
        metric_ids = [part for part in metric_ids.replace(",", " ").split() if part]
    ids = [m.strip() for m in metric_ids if m.strip()]
    return ids or "all"


def build_server(hb: Heartbeat | None = None, actor: str = "mcp-stdio") -> MCPServer:
    """A Heartbeat MCP server. `actor` names who writes when no bearer token identifies the caller."""
    hb = hb or Heartbeat(actor=actor)
    server: MCPServer = MCPServer("heartbeat", instructions=INSTRUCTIONS, version="0.1.0")
    server.heartbeat = hb  # type: ignore[attr-defined]

    @server.tool(annotations=READ)
    async def what_is_red(
        include_amber: bool = True,
        include_stale: bool = True,
        team: str | None = None,
        limit: Annotated[int, Field(ge=1, le=300)] = 20,
    ) -> models.WhatIsRed:
        """Metrics needing attention, worst first: red, amber, then stale sources or missing values. Each
        item says the line crossed (or z vs typical), since when, freshness, owner, verification."""
        with tool_errors():
            key = ("what_is_red", include_amber, include_stale, team, limit)
            return await hb.serve_read(  # type: ignore[return-value]
                key, lambda cached: hb.what_is_red(include_amber, include_stale, team, limit, cached)
            )

    @server.tool(annotations=READ)
    async def today() -> models.Today:
        """The state of the business in one call: counts, the worst few, colour changes since yesterday,
        stale sources, the running or last recompute job, targets hit."""
        with tool_errors():
            return await hb.serve_read(("today",), hb.today)  # type: ignore[return-value]

    @server.tool(annotations=READ)
    def explain_metric(metric_id: str) -> models.Explanation:
        """Why a metric has its colour: the six components, freshness, definition SQL, a summary of its
        last 30 values, the stored detail rows (who, how much, since when), owner and verification."""
        with tool_errors():
            return answer(hb.explain(metric_id))  # type: ignore[return-value]

    @server.tool(annotations=READ)
    def metric_history(metric_id: str, days: Annotated[int, Field(ge=1, le=3650)] = 90) -> models.History:
        """A metric's daily values (oldest first) with their colour, and a summary."""
        with tool_errors():
            return answer(hb.history(metric_id, days))  # type: ignore[return-value]

    @server.tool(annotations=READ)
    def list_metrics(
        query: str | None = None,
        status: Literal["red", "amber", "green", "no_data", "stale"] | None = None,
        source: str | None = None,
        team: str | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> models.MetricList:
        """Active metrics, ranked worst first; filter by words in id/name/description/tags, status
        (or "stale"), source or team."""
        with tool_errors():
            return answer(hb.list_metrics(query, status, source, team, limit))  # type: ignore[return-value]

    @server.tool(annotations=READ)
    def sources_status() -> models.Sources:
        """Each data source: last load, its result and error, data age and freshness, which metrics read it."""
        with tool_errors():
            return answer(hb.sources())  # type: ignore[return-value]

    @server.tool(annotations=RUN)
    async def recompute(
        ctx: Context,
        metric_ids: list[str] | str = "all",
        ingest: bool = True,
        wait: bool = False,
    ) -> models.RecomputeAnswer:
        """Refresh metrics: ingest their sources (unless ingest=false), then compute. One job runs at a time;
        a request during a running job joins it (coalesced=true). wait=true reports progress until it ends."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            jobs = _jobs_module()
            if jobs is None:
                raise ToolError("recompute is not available in this build (no job runner)")
            ids = _ids(metric_ids)
            ticket = await anyio.to_thread.run_sync(
                lambda: jobs.request_recompute(
                    ids, trigger="mcp", ingest=ingest, requested_by=actor, wait=False, background=True
                )
            )
            result = models.RecomputeAnswer(
                job_id=ticket.job_id, coalesced=ticket.coalesced, state=ticket.state
            )
            if not wait:
                return answer(result)  # type: ignore[return-value]
            token = anyio.lowlevel.current_token()

            def on_progress(view: Any) -> None:
                data = _dump(view)
                done, total = data.get("done") or 0, data.get("total")
                step = data.get("current_step") or data.get("phase") or data.get("state")
                with contextlib.suppress(Exception):
                    anyio.from_thread.run(
                        ctx.report_progress,
                        float(done),
                        None if total is None else float(total),
                        step,
                        token=token,
                    )

            try:
                final = await anyio.to_thread.run_sync(
                    lambda: jobs.wait_for_job(ticket.job_id, on_progress=on_progress, timeout_s=3600)
                )
            except TimeoutError:
                raise ToolError(f"job {ticket.job_id} still running after an hour; ask job_status") from None
            result.job = job_model(final)
            result.state = result.job.state
            hb.forget()
            return answer(result)  # type: ignore[return-value]

    @server.tool(annotations=READ)
    def job_status(job_id: int) -> models.Job:
        """A recompute job's state, phase, progress (done/total, current step), per-source results, error."""
        with tool_errors():
            jobs = _jobs_module()
            if jobs is None:
                raise ToolError("job status is not available in this build (no job runner)")
            view = jobs.get_job(job_id)
            if view is None:
                raise ToolError(f"no job {job_id}; recompute returns the job id to ask about")
            return answer(job_model(view))  # type: ignore[return-value]

    @server.tool(annotations=WRITE)
    def set_thresholds(
        ctx: Context,
        metric_id: str,
        norm: float | None = None,
        alert: float | None = None,
        target: float | None = None,
        target_due_date: date | None = None,
        clear: list[LineField] | None = None,
    ) -> models.ThresholdsAnswer:
        """Set a metric's lines: norm (amber), alert (red), target (+ due date, YYYY-MM-DD). Omitted = unchanged;
        name lines in `clear` to remove them. Lines must agree with the metric's direction."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            return answer(  # type: ignore[return-value]
                hb.set_thresholds(metric_id, actor, norm, alert, target, target_due_date, list(clear or []))
            )

    @server.tool(annotations=WRITE)
    def set_owner(ctx: Context, metric_id: str, owner: str | None) -> models.OwnerAnswer:
        """Set a metric's owner (an email address), or null to clear it."""
        with tool_errors():
            return answer(hb.set_owner(metric_id, owner, hb.actor_for(ctx)))  # type: ignore[return-value]

    @server.tool(annotations=WRITE)
    def set_verification(
        ctx: Context, metric_id: str, state: Literal["verified", "unverified"]
    ) -> models.VerificationAnswer:
        """Mark a metric verified (its SQL and lines checked by a person) or unverified."""
        with tool_errors():
            return answer(hb.set_verification(metric_id, state, hb.actor_for(ctx)))  # type: ignore[return-value]

    @server.resource("heartbeat://metrics", mime_type="application/json")
    def metrics_resource() -> str:
        """Every active metric: id, name, colour, value, freshness; worst first."""
        try:
            with tool_errors():
                data = hb.list_metrics(None, None, None, None)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return data.model_dump_json(exclude_none=True)

    @server.resource("heartbeat://metrics/{metric_id}", mime_type="application/json")
    def metric_resource(metric_id: str) -> str:
        """One metric explained: components, why, freshness, definition, last 30 values, detail rows."""
        try:
            with tool_errors():
                data = hb.explain(metric_id)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return data.model_dump_json(exclude_none=True)

    @server.prompt()
    def daily_triage(team: str | None = None) -> str:
        """What's going on today, and what should I look at first?"""
        scope = f" for team {team}" if team else ""
        team_arg = f'(team="{team}")' if team else ""
        return (
            f"Daily triage of Heartbeat{scope}.\n"
            "1. Call `today` for the state of the business: counts, what changed since yesterday, stale "
            "sources, the running or last job.\n"
            f"2. Call `what_is_red`{team_arg} and take the first three items: they are ranked worst first.\n"
            "3. For each, call `explain_metric` and say in one or two lines what is wrong, since when, who or "
            "what is behind it (the detail rows), and who owns it.\n"
            "4. Keep two kinds of problem apart: a bad value (red/amber colour) and a broken pipeline (stale "
            "freshness; see `sources_status`). A stale metric's value may be old, not bad.\n"
            "5. End with a short, ordered list of what to look at first and whom to ask. Do not recompute or "
            "change thresholds unless asked."
        )

    register_audit_tools(server, hb)  # audit_page, audit_cut (heartbeat_mcp/audit_tools.py)
    compact_tool_schemas(server)
    return server
