"""Entity tools: `acknowledge` (a metric or an entity, with a note and an optional until) and `what_changed`
(colour transitions, entity events, acknowledgements and source loads since a moment, in one call)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.alerts import acknowledge as ack_store
from heartbeat_core.alerts.acknowledge import AcknowledgeInputError
from heartbeat_core.readmodel.changes import changes_since
from heartbeat_mcp.answers import READ, WRITE, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat


class AckAnswer(BaseModel):
    acknowledged: bool
    acknowledgement: dict[str, Any] | None = None


class ChangesAnswer(BaseModel):
    # the change feed (readmodel.changes.Changes) with loose lists: tools/list stays small

    since: datetime
    colours: list[dict[str, Any]]
    entity_events: list[dict[str, Any]]
    acknowledgements: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    left_out: int


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `acknowledge` and `what_changed`."""

    @server.tool(annotations=WRITE)
    def acknowledge(
        ctx: Context,
        subject: Annotated[str, Field(description="metric or type:key")],
        note: str | None = None,
        until: datetime | None = None,
    ) -> Annotated[CallToolResult, AckAnswer]:
        """Acknowledge a red metric or entity: reminders stop, new entities still alert."""
        with tool_errors():
            try:
                with hb.connection() as conn:
                    lift = until is not None and until <= clock.now()
                    result = ack_store.acknowledge(
                        conn, subject, hb.actor_for(ctx), note, None if lift else until, lift=lift
                    )
            except AcknowledgeInputError as exc:
                raise ToolError(f"invalid input: {exc}") from None
            hb.forget()
            shown = result.model_dump(mode="json") if result else None
            return answer(AckAnswer(acknowledged=result is not None, acknowledgement=shown))

    @server.tool(annotations=READ)
    def what_changed(
        since: Annotated[datetime, Field(description="with zone, e.g. 2026-12-01T09:00Z")],
    ) -> Annotated[CallToolResult, ChangesAnswer]:
        """Changes since a moment: colours, entities, acks, sources."""
        with tool_errors():
            if since.tzinfo is None:
                raise ToolError("invalid input: since: expected a timezone-aware moment (…Z or +00:00)")
            with hb.connection() as conn:
                feed = changes_since(conn, since, clock.now()).model_dump(mode="json")
            return answer(ChangesAnswer.model_validate(feed))
