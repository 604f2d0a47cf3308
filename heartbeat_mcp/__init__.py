"""Heartbeat's MCP server: tools, resources and a daily-triage prompt over `heartbeat_core`.

- `build_server()` → an `MCPServer` (stdio: `heartbeat mcp`; in-process tests: `mcp.Client(server)`);
- `build_http_app()` → the streamable-HTTP ASGI app (mount at `/mcp`; enter `mcp_lifespan(app)`).
"""

from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.http import build_http_app, mcp_lifespan
from heartbeat_mcp.server import HeartbeatServer, build_server

__all__ = ["Heartbeat", "HeartbeatServer", "build_http_app", "build_server", "mcp_lifespan"]
