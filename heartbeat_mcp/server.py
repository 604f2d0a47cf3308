"""Heartbeat's MCP server: tools, resources and the daily-triage prompt, thin over `heartbeat_core`.

`build_server()` gives an `MCPServer`; `heartbeat mcp` runs it over stdio, `heartbeat_mcp.http` serves it
as streamable HTTP. Reads come from one `SnapshotCache` per server (the read model is built once per
change); writes go through `heartbeat_core.metrics.operator`; recompute through `heartbeat_core.jobs`.
Tools live in `heartbeat_mcp/tools/` (one module per concern), resources and the prompt beside them.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from heartbeat_mcp import prompts, resources
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.schema import compact_tool_schemas
from heartbeat_mcp.tools import REGISTER

INSTRUCTIONS = (
    "Heartbeat watches the business's metrics. Start with `today` (the state in one call) or `what_is_red` "
    "(problems ranked worst first); `explain_metric` says why a metric has its colour and shows the rows "
    "behind it. Colour (the value is bad) and freshness (the pipeline is stale) are separate signals."
)


class HeartbeatServer(MCPServer[Any]):
    """An `MCPServer` that keeps its `Heartbeat` (tests and hosts reach the cache through it)."""

    def __init__(self, hb: Heartbeat) -> None:
        super().__init__("heartbeat", instructions=INSTRUCTIONS, version="0.1.0")
        self.heartbeat = hb


def build_server(hb: Heartbeat | None = None, actor: str = "mcp-stdio") -> HeartbeatServer:
    """A Heartbeat MCP server. `actor` names who writes when no bearer token identifies the caller."""
    hb = hb or Heartbeat(actor=actor)
    server = HeartbeatServer(hb)
    for register in REGISTER:
        register(server, hb)
    resources.register(server, hb)
    prompts.register(server)
    compact_tool_schemas(server)
    return server


__all__ = ["INSTRUCTIONS", "Heartbeat", "HeartbeatServer", "build_server"]
