"""Resources: `heartbeat://metrics` (the catalogue), `heartbeat://metrics/{metric_id}` (one explained) and
`heartbeat://schema` (the shared shapes the output schemas name only as objects).

Same builders as `list_metrics` and `explain_metric`; failures an agent can act on become resource errors.
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from heartbeat_mcp.answers import tool_errors
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.schema import shared_shapes
from heartbeat_mcp.tools.metrics import explain, metric_list


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add the metric resources."""

    @server.resource("heartbeat://metrics", mime_type="application/json")
    def metrics_resource() -> str:
        """Every active metric: id, name, colour, value, freshness; worst first."""
        try:
            with tool_errors():
                data = metric_list(hb)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return data.model_dump_json(exclude_none=True, exclude_defaults=True)

    @server.resource("heartbeat://schema", mime_type="application/json")
    def schema_resource() -> str:
        """JSON schemas of the shapes answers share (Flag, EntitySummary, Driver, Incident, ...)."""
        return json.dumps(shared_shapes(), separators=(",", ":"))

    @server.resource("heartbeat://metrics/{metric_id}", mime_type="application/json")
    def metric_resource(metric_id: str) -> str:
        """One metric explained: components, why, freshness, definition, last 30 values, detail rows."""
        try:
            with tool_errors():
                data = explain(hb, metric_id)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return data.model_dump_json(exclude_none=True, exclude_defaults=True)
