"""The REST API (JSON; OpenAPI at /api/docs). Reads come from the read model, writes go through
`heartbeat_core.metrics.operator` and `heartbeat_core.jobs`; nothing here decides a colour."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from heartbeat_core import readmodel
from heartbeat_core.ingest import land_events
from heartbeat_core.jobs.ledger import active_job, get_job
from heartbeat_core.jobs.runner import request_recompute
from heartbeat_core.metrics import operator
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel import CockpitSnapshot, HistoryPoint, MetricState
from heartbeat_core.redaction import redact_optional
from heartbeat_web.auth import require_token
from heartbeat_web.deps import Web, database_reads, database_writes, web
from heartbeat_web.gate import principal_of

router = APIRouter(prefix="/api")
health = APIRouter()

MetricId = Path(min_length=1, max_length=200, description="metric id, e.g. shop_orders_24h")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class CockpitOut(CockpitSnapshot):
    """The read model, ranked worst first, as DESIGN.md "Public interfaces" names it, plus serving flags."""

    build: str
    degraded: bool
    degraded_since: str | None
    degraded_reason: str | None
    active_job: dict[str, Any] | None


class MetricOut(BaseModel):
    metric: MetricState
    definition: dict[str, Any]
    detail: dict[str, Any] | None
    degraded: bool


class HistoryOut(BaseModel):
    metric_id: str
    days: int
    points: list[HistoryPoint]


class RecomputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric_ids: list[str] | Literal["all"] = Field(default="all", description='"all" or a list of metric ids')
    ingest: bool = True
    wait: bool = False


class VerificationIn(BaseModel):
    """Owner and verification state, either alone; `owner: null` clears the owner."""

    model_config = ConfigDict(extra="forbid")
    owner: str | None = None
    verification_state: Literal["unverified", "verified"] | None = None


class ThresholdsIn(BaseModel):
    """Any of the lines; a field present with null clears that line."""

    model_config = ConfigDict(extra="forbid")
    norm: float | None = None
    alert: float | None = None
    target: float | None = None
    target_due_date: date | None = None


def _actor(request: Request) -> str:
    """Who writes, for the audit trail: the credential the gate let in (`api:admin-token`); `api` on a
    loopback server without a token, as before credentials existed."""
    who = principal_of(request.scope)
    return "api" if who.role == "local" else f"api:{who.label}"


def _snapshot_state(w: Web, metric_id: str) -> MetricState:
    current = w.live.current
    if current is None:
        raise HTTPException(503, "no snapshot of the read model yet: the database has not answered")
    for m in current.snapshot.metrics:
        if m.metric_id == metric_id:
            return m
    raise HTTPException(404, str(UnknownMetric([metric_id], sorted(current.ids))))


@router.get(
    "/cockpit",
    response_model=CockpitOut,
    summary="The read model, ranked worst first (served from bytes built once per change)",
)
async def api_cockpit(request: Request) -> Response:
    w = web(request)
    current = w.live.current
    if current is None:
        return JSONResponse(
            {"detail": f"no snapshot yet: {w.live.last_error or 'the database has not answered'}"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    headers = {"ETag": current.etag, "X-Heartbeat-Build": w.build, "Cache-Control": "no-store"}
    if request.headers.get("if-none-match") == current.etag:
        return Response(status_code=304, headers=headers)
    body, gz = current.body("json", request.headers.get("accept-encoding"))
    headers["Vary"] = "Accept-Encoding"
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


@router.get("/metrics/active-job", summary="The running recompute job, or null")
def api_active_job() -> dict[str, Any] | None:
    view = active_job()
    return None if view is None else view.model_dump(mode="json")


@router.get("/metrics/recompute/{job_id}", summary="One recompute job's state, phase and progress")
def api_get_job(job_id: int = Path(ge=1, le=2**62)) -> dict[str, Any]:
    view = get_job(job_id)
    if view is None:
        raise HTTPException(404, f"unknown job {job_id}")
    return view.model_dump(mode="json")


@router.post(
    "/metrics/recompute",
    status_code=202,
    dependencies=[Depends(require_token)],
    summary="Ingest and recompute (single-flight: joins the running job when there is one)",
)
def api_recompute(request: Request, body: RecomputeIn | None = Body(None)) -> dict[str, Any]:
    w = web(request)
    body = body or RecomputeIn()
    ids = body.metric_ids
    if isinstance(ids, list):
        if not ids:
            raise HTTPException(422, 'metric_ids: expected "all" or a non-empty list of metric ids')
        current = w.live.current
        if current is not None:
            missing = [i for i in ids if i not in current.ids]
            if missing:
                raise HTTPException(404, str(UnknownMetric(missing, sorted(current.ids))))
    ticket = request_recompute(
        ids, trigger="api", ingest=body.ingest, requested_by=_actor(request), wait=body.wait, background=True
    )
    w.live.poke()
    return ticket.as_json()


@router.get(
    "/metrics/{metric_id}", response_model=MetricOut, summary="One metric: state, definition, detail rows"
)
def api_metric(request: Request, metric_id: str = MetricId) -> Any:
    w = web(request)
    state = _snapshot_state(w, metric_id)
    definition: dict[str, Any] = {}
    detail = None
    with database_reads(w) as conn:
        if conn is not None:
            row = readmodel.metric_definition(conn, metric_id) or {}
            keep = (
                "description", "how_to_read", "methodology", "value_sql", "detail_sql", "history_sql",
                "file_path", "typical_method", "typical_options", "synced_at", "thresholds_updated_by",
                "thresholds_updated_at", "owner_updated_by", "owner_updated_at", "verification_updated_by",
                "verification_updated_at", "benchmark_points",
            )  # fmt: skip
            definition = {k: row.get(k) for k in keep if k in row}
            detail = readmodel.metric_detail(conn, metric_id)
    return jsonable_encoder(
        {"metric": state, "definition": definition, "detail": detail, "degraded": w.live.degraded}
    )


@router.get("/metrics/{metric_id}/history", response_model=HistoryOut, summary="A metric's daily history")
def api_history(request: Request, metric_id: str = MetricId, days: int = Query(90, ge=1, le=3660)) -> Any:
    w = web(request)
    _snapshot_state(w, metric_id)
    with database_reads(w) as conn:
        if conn is None:
            raise HTTPException(503, "the database is unreachable; history is not cached")
        points = readmodel.metric_history(conn, metric_id, days)
    return {"metric_id": metric_id, "days": days, "points": points}


@router.patch(
    "/metrics/{metric_id}/verification",
    dependencies=[Depends(require_token)],
    summary="Set the owner and/or the verification state",
)
def api_verification(request: Request, body: VerificationIn, metric_id: str = MetricId) -> Any:
    w = web(request)
    fields = body.model_fields_set
    if not fields:
        raise HTTPException(422, "expected owner and/or verification_state in the body")
    if "verification_state" in fields and body.verification_state is None:
        raise HTTPException(422, "verification_state: expected unverified or verified, got null")
    result: dict[str, Any] = {"metric_id": metric_id}
    with database_writes(w) as conn:
        if "owner" in fields:
            result.update(operator.set_owner(conn, metric_id, body.owner, actor=_actor(request)))
        if body.verification_state is not None:
            result.update(
                operator.set_verification(conn, metric_id, body.verification_state, actor=_actor(request))
            )
    w.live.poke()
    return jsonable_encoder(result)


@router.patch(
    "/metrics/{metric_id}/thresholds",
    dependencies=[Depends(require_token)],
    summary="Change the norm, alert and target lines (null clears a line)",
)
def api_thresholds(request: Request, body: ThresholdsIn, metric_id: str = MetricId) -> Any:
    w = web(request)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if not changes:
        raise HTTPException(422, "expected at least one of norm, alert, target, target_due_date")
    with database_writes(w) as conn:
        result = operator.set_thresholds(conn, metric_id, changes=changes, actor=_actor(request))
    w.live.poke()
    return jsonable_encoder(result)


def _events(payload: Any) -> list[dict[str, Any]]:
    """A webhook body as a list of events: one object, a list of objects, or `{"events": [...]}`."""
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        events = payload["events"]
    elif isinstance(payload, list):
        events = payload
    elif isinstance(payload, dict):
        events = [payload]
    else:
        raise HTTPException(422, 'body: expected a JSON object, a list of objects, or {"events": [...]}')
    if not all(isinstance(e, dict) for e in events):
        raise HTTPException(422, "body: every event must be a JSON object")
    return events


@router.post(
    "/webhooks/{source}",
    status_code=202,
    dependencies=[Depends(require_token)],
    summary='Land events for a webhook source (a JSON object, a list, or {"events": [...]})',
)
def api_webhook(
    request: Request,
    source: str = Path(min_length=1, max_length=63),
    payload: Any = Body(..., description='one event object, a list of them, or {"events": [...]}'),
) -> Any:
    if not SOURCE_NAME.match(source):
        raise HTTPException(422, "source: expected a source name (lower case letters, digits, underscores)")
    events = _events(payload)
    try:
        result = land_events(source, events)
    except ValueError as exc:  # SourcesConfigError is a ValueError: unknown or not a webhook source
        message = str(exc)
        status = 404 if message.startswith("no source") else 422
        raise HTTPException(status, f"source: {message}") from None
    web(request).live.poke()
    if result.error:
        raise HTTPException(502, f"landing {source} failed: {redact_optional(result.error)}")
    return jsonable_encoder({"source": source, "received": len(events), "result": dataclasses.asdict(result)})


@health.get("/healthz", summary="Liveness plus whether the read model is degraded")
async def healthz(request: Request) -> Any:
    w = web(request)
    current = w.live.current
    return {
        "ok": True,
        "build": w.build,
        "snapshot": current is not None,
        "degraded": w.live.degraded,
        "snapshot_version": current.snapshot.version if current else None,
        "rendered_age_s": round(time.monotonic() - current.built_at, 3) if current else None,
        "metrics": len(current.snapshot.metrics) if current else 0,
    }
