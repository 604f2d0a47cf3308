"""The pipeline tool: `sources_status` (each source's last load, data age and freshness, its metrics).

`source_states` is the one place the MCP surface asks the core for source freshness (`today` uses it too).
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from heartbeat_core import clock
from heartbeat_core.readmodel import freshness
from heartbeat_core.readmodel.suspect import test_lines
from heartbeat_mcp import models
from heartbeat_mcp.answers import READ, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat


def source_states(conn: psycopg.Connection[Any]) -> list[freshness.SourceStatus]:
    """Every source's freshness verdict and its data tests not passing, as the read model gives them."""
    lines = test_lines(conn)
    return [s.model_copy(update={"tests": lines.get(s.source, [])}) for s in freshness.sources_status(conn)]


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `sources_status`."""

    @server.tool(annotations=READ)
    def sources_status() -> Annotated[CallToolResult, models.Sources]:
        """Each data source: last load, its result and error, data age and freshness, which metrics read it."""
        with tool_errors(), hb.connection() as conn:
            return answer(models.Sources(generated_at=clock.now(), sources=source_states(conn)))
