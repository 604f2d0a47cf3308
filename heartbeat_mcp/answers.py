"""What every tool shares: its annotations, the shape of an answer and the errors an agent can act on.

A tool declares `-> Annotated[CallToolResult, models.X]`: the SDK advertises `models.X` as the output schema
and validates the structured content against it, while the tool chooses the text block (compact JSON, or a
line-per-metric rendering for the most-asked answers).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import psycopg
import psycopg.errors
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from heartbeat_core.db import DatabaseUnavailable
from heartbeat_core.formatting import format_value
from heartbeat_core.metrics.operator import OperatorInputError
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel import MetricState

READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
RUN = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)


def shown(state: MetricState) -> str:
    """A metric's value with its unit, as people read it."""
    return format_value(state.value, state.unit)


def answer(model: BaseModel, text: str | None = None) -> CallToolResult:
    """Structured content plus a text block for clients that read only text: its compact JSON, or `text`.

    Nulls and defaults (false, 0, empty lists with a default) are left out: an agent's context is precious,
    and the output schemas say so (see schema.py); required fields stay even when empty."""
    data = model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    if text is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the failures an agent can act on into tool errors with a one-line message."""
    try:
        yield
    except ToolError:
        raise
    except UnknownMetric as exc:
        raise ToolError(f"{exc}. Call list_metrics to see the ids.") from None
    except OperatorInputError as exc:
        raise ToolError(f"invalid input: {exc}") from None
    except DatabaseUnavailable as exc:
        raise ToolError(f"database unavailable: {exc}. Try again shortly.") from None
    except psycopg.errors.QueryCanceled:
        raise ToolError(
            "the database took too long to answer (statement timeout). Try again shortly."
        ) from None
    except psycopg.OperationalError as exc:  # a pool timeout too (psycopg_pool.PoolTimeout is one)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ToolError(f"database unavailable: {first}. Try again shortly.") from None
