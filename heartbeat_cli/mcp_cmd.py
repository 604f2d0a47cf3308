"""`heartbeat mcp`: the MCP server over stdio, for Claude Desktop, Claude Code and other MCP clients."""

from __future__ import annotations

import logging
import sys

import typer

from heartbeat_cli.errors import one_line_errors


@one_line_errors
def mcp_cmd() -> None:
    """Serve Heartbeat's MCP tools over stdio (writes are recorded as actor "mcp-stdio").

    Point an MCP client at `heartbeat mcp` with HEARTBEAT_DATABASE_URL (or the embedded default) in its
    environment. Logs go to stderr; stdout carries only the protocol.
    """
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from heartbeat_mcp.server import build_server  # the CLI may reach a surface; the core never does

    build_server(actor="mcp-stdio").run()


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_cmd)
