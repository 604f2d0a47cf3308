"""The MCP tools, one module per concern; each module's `register(server, hb)` adds its tools.

`REGISTER` is the order of `tools/list`: triage first (what an agent should call first), writes last,
then the audit cuts.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.mcpserver import MCPServer

from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.tools import audit, entities, jobs, metrics, operator, sources, triage

Register = Callable[[MCPServer, Heartbeat], None]

REGISTER: tuple[Register, ...] = (
    triage.register,  # what_is_red, today
    metrics.register,  # explain_metric, metric_history, list_metrics
    sources.register,  # sources_status
    jobs.register,  # recompute, job_status
    operator.register,  # set_thresholds, set_owner, set_verification
    entities.register,  # acknowledge, what_changed
    audit.register,  # audit_page, audit_cut
)

__all__ = ["REGISTER", "Register"]
