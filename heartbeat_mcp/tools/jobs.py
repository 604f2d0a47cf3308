"""Recompute tools: `recompute` (the one single-flight refresh path) and `job_status`.

Both go through `heartbeat_core.jobs`, as the CLI, the scheduler and the web do; a request while a job runs
joins it (`coalesced`), and `wait=true` forwards the ledger's progress as MCP progress notifications.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from heartbeat_core.jobs import ledger, runner
from heartbeat_mcp import models
from heartbeat_mcp.answers import READ, RUN, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat

FAILURES_SHOWN = 20
WAIT_AT_MOST_S = 3600


def job_model(view: ledger.JobView) -> models.Job:
    """A job as an agent needs it: progress, per-source results, the metrics that failed (not every metric)."""
    failed = [m for m in view.metrics if m.state != "succeeded"]
    return models.Job(
        job_id=view.job_id,
        state=view.state,
        phase=view.phase,
        done=view.done,
        total=view.total,
        current_step=view.current_step,
        trigger=view.trigger,
        requested_by=view.requested_by,
        sources=[models.JobSourceResult.model_validate(s, from_attributes=True) for s in view.sources],
        metrics_ok=len(view.metrics) - len(failed),
        metrics_failed=[
            models.JobMetricFailure.model_validate(m, from_attributes=True) for m in failed[:FAILURES_SHOWN]
        ],
        started_at=view.started_at,
        finished_at=view.finished_at,
        seconds=view.seconds,
        error=view.error,
    )


def metric_ids_arg(metric_ids: list[str] | str) -> list[str] | Literal["all"]:
    """Ids as a list or one string ("all", or ids separated by commas or spaces); nothing means all."""
    if isinstance(metric_ids, str):
        if metric_ids.strip().lower() in ("", "all"):
            return "all"
        metric_ids = [part for part in metric_ids.replace(",", " ").split() if part]
    ids = [m.strip() for m in metric_ids if m.strip()]
    return ids or "all"


async def _wait(ctx: Context, job_id: int) -> ledger.JobView:
    """Block (in a worker thread) until the job ends, reporting each change as MCP progress."""
    token = anyio.lowlevel.current_token()

    def on_progress(view: ledger.JobView) -> None:
        step = view.current_step or view.phase or view.state
        with contextlib.suppress(Exception):  # a client gone away must not fail the wait
            anyio.from_thread.run(ctx.report_progress, float(view.done), float(view.total), step, token=token)

    try:
        return await anyio.to_thread.run_sync(
            lambda: ledger.wait_for_job(job_id, on_progress=on_progress, timeout_s=WAIT_AT_MOST_S)
        )
    except TimeoutError:
        raise ToolError(f"job {job_id} still running after an hour; ask job_status") from None


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `recompute` and `job_status`."""

    @server.tool(annotations=RUN)
    async def recompute(
        ctx: Context,
        metric_ids: list[str] | str = "all",
        ingest: bool = True,
        wait: bool = False,
    ) -> Annotated[CallToolResult, models.RecomputeAnswer]:
        """Refresh metrics: ingest their sources (unless ingest=false), then compute. One job runs at a time;
        a request during a running job joins it (coalesced=true). wait=true reports progress until it ends."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            ids = metric_ids_arg(metric_ids)
            ticket = await anyio.to_thread.run_sync(
                lambda: runner.request_recompute(
                    ids, trigger="mcp", ingest=ingest, requested_by=actor, wait=False, background=True
                )
            )
            result = models.RecomputeAnswer.model_validate(ticket.as_json())
            if not wait:
                return answer(result)
            result.job = job_model(await _wait(ctx, ticket.job_id))
            result.state = result.job.state
            hb.forget()
            return answer(result)

    @server.tool(annotations=READ)
    def job_status(job_id: int) -> Annotated[CallToolResult, models.Job]:
        """A recompute job's state, phase, progress (done/total, current step), per-source results, error."""
        with tool_errors():
            view = ledger.get_job(job_id)
            if view is None:
                raise ToolError(f"no job {job_id}; recompute returns the job id to ask about")
            return answer(job_model(view))
