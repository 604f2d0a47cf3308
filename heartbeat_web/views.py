"""HTML pages: the TV cockpit (served from bytes rendered once per change) and the metric page (laptop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from heartbeat_core import clock, readmodel
from heartbeat_core.audit.registry import cuts_for_metric
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel.acknowledged import acknowledgements
from heartbeat_core.readmodel.annotations import Acknowledgement
from heartbeat_core.readmodel.entities import EntityTimeline, entity_timeline
from heartbeat_web.auth import token_configured
from heartbeat_web.charts import history_chart
from heartbeat_web.deps import Web, database_reads, web
from heartbeat_web.gate import principal_of
from heartbeat_web.live import BodyKind
from heartbeat_web.render import tile

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _html(body: bytes | str, status: int = 200, extra: dict[str, str] | None = None) -> Response:
    headers = {**HTML_HEADERS, **(extra or {})}
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=headers)


def _kind(request: Request, kind: BodyKind) -> BodyKind:
    """A display key gets its own copy of the cockpit (culprits counted unless HEARTBEAT_DISPLAY_DETAIL)."""
    if principal_of(request.scope).role != "display":
        return kind
    return "display_page" if kind == "page" else "display_partial"


def access_page(app: FastAPI) -> Callable[[str], bytes]:
    """The page that says how to get a key, with the reason this request was refused."""

    def render(reason: str) -> bytes:
        w = app.state.web
        return str(w.env.get_template("access.html").render(build=w.build, reason=reason)).encode()

    return render


@router.get("/access", response_class=HTMLResponse)
async def access(request: Request) -> Response:
    """Open without a credential: how to get a key."""
    return _html(access_page(request.app)("This Heartbeat shows its data only to a key holder."))


@router.get("/", response_class=HTMLResponse)
async def cockpit(request: Request) -> Response:
    w = web(request)
    current = w.live.current
    if current is None:
        page = w.env.get_template("waiting.html").render(
            build=w.build, refresh_s=w.settings.cockpit_refresh_s, reason=w.live.last_error
        )
        return _html(page, 503, {"Retry-After": "5", "X-Heartbeat-Build": w.build})
    body, gz = current.body(_kind(request, "page"), request.headers.get("accept-encoding"))
    extra = {"ETag": current.etag, "X-Heartbeat-Build": w.build, "Vary": "Accept-Encoding"}
    if gz:
        extra["Content-Encoding"] = "gzip"
    return _html(body, extra=extra)


@router.get("/partials/cockpit")
async def cockpit_partial(request: Request) -> Response:
    """What the TV's script swaps in: the body of `/`, with an ETag so an unchanged screen costs a 304."""
    w = web(request)
    current = w.live.current
    headers = {"X-Heartbeat-Build": w.build, "Cache-Control": "no-store"}
    if current is None:
        return Response(b"", status_code=503, headers={**headers, "Retry-After": "5"})
    headers["ETag"] = current.etag
    if request.headers.get("if-none-match") == current.etag:
        return Response(status_code=304, headers=headers)
    body, gz = current.body(_kind(request, "partial"), request.headers.get("accept-encoding"))
    headers["Vary"] = "Accept-Encoding"
    if gz:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


def _not_found(w: Web, message: str) -> Response:
    page = w.env.get_template("not_found.html").render(build=w.build, message=message)
    return _html(page, 404)


@router.get("/metrics/{metric_id}", response_class=HTMLResponse)
def metric_page(request: Request, metric_id: str, days: int = 180) -> Response:
    w = web(request)
    days = max(7, min(days, 3660))
    current = w.live.current
    state = None
    if current is not None:
        state = next((m for m in current.snapshot.metrics if m.metric_id == metric_id), None)
        if state is None:
            return _not_found(w, str(UnknownMetric([metric_id], sorted(current.ids))))
    definition: dict[str, Any] = {}
    detail: dict[str, Any] | None = None
    history: list[readmodel.HistoryPoint] = []
    audit_cuts: list[dict[str, Any]] = []
    entities: list[EntityTimeline] = []
    acks: dict[str, Acknowledgement] = {}
    with database_reads(w) as conn:
        if conn is not None:
            definition = readmodel.metric_definition(conn, metric_id) or {}
            if state is None:
                states = readmodel.metric_states(conn, ids=[metric_id])
                if not states:
                    return _not_found(w, f"unknown metric {metric_id!r}")
                state = states[0]
            detail = readmodel.metric_detail(conn, metric_id)
            history = readmodel.metric_history(conn, metric_id, days)
            audit_cuts = cuts_for_metric(conn, metric_id)
            entities = entity_timeline(conn, metric_id, limit=50)
            acks = {
                subject.removeprefix("entity:"): ack
                for subject, ack in acknowledgements(conn, clock.now()).items()
                if subject.startswith("entity:")
            }
    if state is None:
        return _html(
            w.env.get_template("not_found.html").render(
                build=w.build, message="The database is unreachable and no snapshot is loaded yet."
            ),
            503,
        )
    chart = history_chart(
        [p.as_of_date for p in history],
        [p.value for p in history],
        [p.status for p in history],
        unit=state.unit,
        norm=[p.norm_value for p in history],
        alert=[p.alert_value for p in history],
        band=[
            (p.typical_mean - p.typical_stddev, p.typical_mean + p.typical_stddev)
            if p.typical_mean is not None and p.typical_stddev is not None
            else None
            for p in history
        ],
        target=state.target_value,
        today=clock.business_day(clock.now(), w.settings.tz),
    )
    page = w.env.get_template("metric.html").render(
        build=w.build,
        m=state,
        t=tile(state),
        definition=definition,
        detail=detail,
        history=history,
        chart=chart,
        degraded=w.live.degraded,
        token_set=token_configured(),
        audit_cuts=audit_cuts,
        entities=entities,
        acks=acks,
        entity_type=state.entities.type if state.entities else "entity",
        weight_unit=(state.entities.weight_unit if state.entities else None) or "count",
    )
    return _html(page)
