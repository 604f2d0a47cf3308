"""Recompute jobs: the one single-flight refresh path that the CLI, cron, the scheduler, web and MCP share.

ticket = request_recompute(["revenue_24h"], trigger="mcp", requested_by="claude")
view = wait_for_job(ticket.job_id, on_progress=print)
"""

from heartbeat_core.jobs.ledger import (
    ACTIVE_STATES,
    FINAL_STATES,
    JobHook,
    JobMetric,
    JobSource,
    JobView,
    active_job,
    get_job,
    recent_jobs,
    wait_for_job,
)
from heartbeat_core.jobs.runner import JobSteps, JobTicket, request_recompute, request_typical_refresh

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "JobHook",
    "JobMetric",
    "JobSource",
    "JobSteps",
    "JobTicket",
    "JobView",
    "active_job",
    "get_job",
    "recent_jobs",
    "request_recompute",
    "request_typical_refresh",
    "wait_for_job",
]
