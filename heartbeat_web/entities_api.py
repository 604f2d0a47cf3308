"""REST for issue 13: acknowledge a metric or an entity (token-protected write) and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from heartbeat_core import clock
from heartbeat_core.alerts.acknowledge import AcknowledgeInputError, acknowledge
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel.changes import Changes, changes_since
from heartbeat_web.auth import require_token
from heartbeat_web.deps import database_reads, database_writes, web

router = APIRouter(prefix="/api")


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="metric:<id> (or a metric id) or an entity <type>:<key>, e.g. client:42")
    by: str | None = Field(default=None, description="who acknowledges (default: api)")
    note: str | None = None
    until: datetime | None = None
    lift: bool = False


@router.post(
    "/acknowledgements",
    dependencies=[Depends(require_token)],
    summary="Acknowledge a metric or an entity (reminders stop; a new entity still alerts)",
)
def api_acknowledge(request: Request, body: AcknowledgeIn) -> Any:
    w = web(request)
    with database_writes(w) as conn:
        try:
            result = acknowledge(conn, body.subject, body.by or "api", body.note, body.until, lift=body.lift)
        except (AcknowledgeInputError, UnknownMetric) as exc:
            raise HTTPException(422, str(exc)) from None
    w.live.poke()
    return jsonable_encoder(
        {"subject": body.subject, "acknowledged": result is not None, "acknowledgement": result}
    )


@router.get("/changes", response_model=Changes, summary="What changed since a moment, in one call")
def api_changes(
    request: Request, since: datetime = Query(..., description="timezone-aware, e.g. 2026-12-01T09:00:00Z")
) -> Any:
    if since.tzinfo is None:
        raise HTTPException(422, "since: expected a timezone-aware moment (…Z or +00:00)")
    with database_reads(web(request)) as conn:
        if conn is None:
            raise HTTPException(503, "the database is unreachable; the change feed is not cached")
        return changes_since(conn, since, clock.now())
