"""Entity tools: `acknowledge` (a metric or an entity, with a note and an optional until) and `what_changed`
(colour transitions, entity events, acknowledgements and source loads since a moment, in one call)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.alerts import acknowledge as ack_store
from heartbeat_core.alerts.acknowledge import AcknowledgeInputError
from heartbeat_core.readmodel.annotations import Acknowledgement
from heartbeat_core.readmodel.changes import Changes, changes_since
from heartbeat_mcp.answers import READ, WRITE, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat


class AckAnswer(BaseModel):
    subject: str
    acknowledged: bool
    acknowledgement: Acknowledgement | None = None


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `acknowledge` and `what_changed`."""

    @server.tool(annotations=WRITE)
    def acknowledge(
        ctx: Context,
        subject: Annotated[
            str, Field(description="a metric id (metric:<id>) or an entity <type>:<key>, e.g. client:42")
        ],
        note: str | None = None,
        until: datetime | None = None,
        lift: bool = False,
    ) -> Annotated[CallToolResult, AckAnswer]:
        """Acknowledge a red: reminders for it stop (an entity is covered in every metric); a new entity in
        the same metric still alerts. `lift` removes the acknowledgement."""
        with tool_errors():
            try:
                with hb.connection() as conn:
                    result = ack_store.acknowledge(conn, subject, hb.actor_for(ctx), note, until, lift=lift)
            except AcknowledgeInputError as exc:
                raise ToolError(f"invalid input: {exc}") from None
            hb.forget()
            return answer(AckAnswer(subject=subject, acknowledged=result is not None, acknowledgement=result))

    @server.tool(annotations=READ)
    def what_changed(
        since: Annotated[datetime, Field(description="a timezone-aware moment, e.g. 2026-12-01T09:00:00Z")],
    ) -> Annotated[CallToolResult, Changes]:
        """Everything that changed since a moment: colour transitions, entities new / worse / gone,
        acknowledgements, and sources loaded (with their freshness)."""
        with tool_errors():
            if since.tzinfo is None:
                raise ToolError("invalid input: since: expected a timezone-aware moment (…Z or +00:00)")
            with hb.connection() as conn:
                return answer(changes_since(conn, since, clock.now()))
