"""Operator tools: `set_thresholds`, `set_owner`, `set_verification` (validated, recorded with the actor).

Writes go through `heartbeat_core.metrics.operator`, as the CLI and the web do; after one the server forgets
its memoised answers, so the next read shows the new colour at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from heartbeat_core.metrics import operator
from heartbeat_mcp import models
from heartbeat_mcp.answers import WRITE, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat

LineField = Literal["norm", "alert", "target", "target_due_date"]
VerificationState = Literal["verified", "unverified"]


def threshold_changes(given: dict[LineField, float | date | None], clear: list[LineField]) -> dict[str, Any]:
    """The lines to change: the ones given, and the ones named in `clear` set to null (never both)."""
    changes: dict[str, Any] = {field: value for field, value in given.items() if value is not None}
    both = sorted(set(changes) & set(clear))
    if both:
        raise ToolError(f"invalid input: {', '.join(both)} both set and cleared; choose one")
    for field in clear:
        changes[field] = None
    if not changes:
        raise ToolError(
            "invalid input: nothing to change; give norm, alert, target or target_due_date, "
            "or name lines to remove in clear"
        )
    return changes


def write_thresholds(
    hb: Heartbeat, metric_id: str, actor: str, changes: dict[str, Any]
) -> models.ThresholdsAnswer:
    """Write the lines, then answer with the colour they give today's value."""
    with hb.connection() as conn:
        result = operator.set_thresholds(conn, metric_id, changes=changes, actor=actor)
    hb.forget()
    _, state = hb.state(metric_id)
    return models.ThresholdsAnswer(
        metric_id=metric_id,
        norm_value=result["norm_value"],
        alert_value=result["alert_value"],
        target_value=result["target_value"],
        target_due_date=result["target_due_date"],
        status=state.status,
        reason=state.reason,
        updated_by=result["updated_by"],
        updated_at=result["updated_at"],
    )


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `set_thresholds`, `set_owner` and `set_verification`."""

    @server.tool(annotations=WRITE)
    def set_thresholds(
        ctx: Context,
        metric_id: str,
        norm: float | None = None,
        alert: float | None = None,
        target: float | None = None,
        target_due_date: date | None = None,
        clear: list[LineField] | None = None,
    ) -> Annotated[CallToolResult, models.ThresholdsAnswer]:
        """Set a metric's lines: norm (amber), alert (red), target (+ due date, YYYY-MM-DD). Omitted = unchanged;
        name lines in `clear` to remove them. Lines must agree with the metric's direction."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            given: dict[LineField, float | date | None] = {
                "norm": norm,
                "alert": alert,
                "target": target,
                "target_due_date": target_due_date,
            }
            changes = threshold_changes(given, list(clear or []))
            return answer(write_thresholds(hb, metric_id, actor, changes))

    @server.tool(annotations=WRITE)
    def set_owner(
        ctx: Context, metric_id: str, owner: str | None
    ) -> Annotated[CallToolResult, models.OwnerAnswer]:
        """Set a metric's owner (an email address), or null to clear it."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            with hb.connection() as conn:
                result = operator.set_owner(conn, metric_id, owner, actor=actor)
            hb.forget()
            return answer(models.OwnerAnswer.model_validate(result))

    @server.tool(annotations=WRITE)
    def set_verification(
        ctx: Context, metric_id: str, state: VerificationState
    ) -> Annotated[CallToolResult, models.VerificationAnswer]:
        """Mark a metric verified (its SQL and lines checked by a person) or unverified."""
        with tool_errors():
            actor = hb.actor_for(ctx)
            with hb.connection() as conn:
                result = operator.set_verification(conn, metric_id, state, actor=actor)
            hb.forget()
            return answer(models.VerificationAnswer.model_validate(result))
