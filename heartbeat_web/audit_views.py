"""Audit pages (`/audit`, `/audit/<page>`) and the audit REST API, served from snapshots only.

A page is rendered once per change — the key is (page, window, audit version, read-model version, minute,
token set) — and served from bytes after that; when the database is down the last rendered copy is served
with a banner. Nothing here computes a cut: refreshes go through `heartbeat_core.audit.refresh_cuts`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict

from heartbeat_core import clock
from heartbeat_core.audit import (
    WINDOWS,
    CutInputError,
    UnknownCut,
    UnknownPage,
    UnknownWindow,
    cut_view,
    page_view,
    pages_index,
    refresh_cuts,
    registry_view,
    set_cut_fields,
)
from heartbeat_core.audit.read import check_window, known_pages, page_info
from heartbeat_core.formatting import format_duration
from heartbeat_web import audit_charts
from heartbeat_web.auth import require_token, token_configured
from heartbeat_web.deps import Web, database_reads, database_writes, web
from heartbeat_web.views import _html

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/audit", tags=["audit"])

CutId = Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$", description="audit cut id")
PageName = Path(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$", description="audit page")
WindowQ = Query(None, description="7d, 30d or 90d (default: each cut's own)")


class _PageCache:
    """Rendered pages by key; small, per process; the newest copy per (page, window) also serves outages."""

    def __init__(self, size: int = 64) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.last: dict[tuple[str, str], bytes] = {}

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            body = self.items.get(key)
            if body is not None:
                self.items.move_to_end(key)
            return body

    def put(self, key: tuple[Any, ...], body: bytes, size: int = 64) -> None:
        with self.lock:
            self.items[key] = body
            self.items.move_to_end(key)
            while len(self.items) > size:
                self.items.popitem(last=False)
            self.last[(str(key[0]), str(key[1]))] = body


_cache = _PageCache()


def _versions(conn: Any) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT version FROM heartbeat.audit_state), (SELECT version FROM heartbeat.read_model_state)"
    ).fetchone()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


def _age(view: dict[str, Any]) -> str:
    return format_duration(view["age_s"]) if view.get("age_s") is not None else "never"


def _decorate(cut: dict[str, Any]) -> dict[str, Any]:
    cut = dict(cut)
    cut["chart"] = audit_charts.render(cut["kind"], cut["payload"], cut["title"])
    cut["age"] = _age(cut)
    return cut


def _render_page(w: Web, conn: Any, page: str, window: str | None) -> bytes:
    view = page_view(conn, page, window)
    ctx = {
        "build": w.build,
        "p": view,
        "cuts": [_decorate(c) for c in view["cuts"]],
        "pages": [page_info(x) for x in known_pages(conn)],
        "window": window,
        "windows": WINDOWS,
        "token_set": token_configured(),
        "generated": clock.now().astimezone(w.settings.tz).strftime("%Y-%m-%d %H:%M"),
        "degraded": False,
    }
    return w.env.get_template("audit_page.html").render(ctx).encode()


def _render_index(w: Web, conn: Any) -> bytes:
    index = pages_index(conn)
    for p in index:
        p["cuts"] = [{**c, "age": _age(c)} for c in p["cuts"]]
    ctx = {
        "build": w.build,
        "index": index,
        "pages": [page_info(p["page"]) for p in index],
        "generated": clock.now().astimezone(w.settings.tz).strftime("%Y-%m-%d %H:%M"),
    }
    return w.env.get_template("audit_index.html").render(ctx).encode()


def _serve(w: Web, page: str, window: str | None) -> Response:
    minute = clock.now().replace(second=0, microsecond=0)
    with database_reads(w) as conn:
        if conn is None:
            stale = _cache.last.get((page, window or ""))
            if stale is not None:
                return _html(stale, extra={"X-Heartbeat-Stale": "database unreachable"})
            body = w.env.get_template("not_found.html").render(
                build=w.build,
                message="The database is unreachable and this audit page has not been served yet.",
            )
            return _html(body, 503, {"Retry-After": "5"})
        key = (page, window or "", *_versions(conn), minute, token_configured(), w.build)
        cached = _cache.get(key)
        if cached is not None:
            return _html(cached)
        try:
            body = _render_index(w, conn) if page == "" else _render_page(w, conn, page, window)
        except UnknownPage as exc:
            html = w.env.get_template("not_found.html").render(build=w.build, message=str(exc))
            return _html(html, 404)
    _cache.put(key, body)
    return _html(body)


@pages.get("/audit", response_class=HTMLResponse)
def audit_index(request: Request) -> Response:
    return _serve(web(request), "", None)


@pages.get("/audit/{page}", response_class=HTMLResponse)
def audit_page(request: Request, page: str = PageName, window: str | None = Query(None)) -> Response:
    w = web(request)
    try:
        window = check_window(window)
    except UnknownWindow as exc:
        html = w.env.get_template("not_found.html").render(build=w.build, message=str(exc))
        return _html(html, 404)
    return _serve(w, page, window)


# ------------------------------------------------------------------------------------------- REST


def _reads(w: Web) -> Any:
    return database_writes(w)  # same 503-with-a-reason when the database is down


@api.get("/pages/{page}", summary="An audit page: its cuts in order with their snapshots")
def api_page(request: Request, page: str = PageName, window: str | None = WindowQ) -> Any:
    w = web(request)
    with _reads(w) as conn:
        try:
            return jsonable_encoder(page_view(conn, page, window))
        except UnknownPage as exc:
            raise HTTPException(404, str(exc)) from None
        except UnknownWindow as exc:
            raise HTTPException(422, str(exc)) from None


@api.get("/cuts/{cut_id}", summary="One cut's snapshot for a window (its default when the cut lacks it)")
def api_cut(request: Request, cut_id: str = CutId, window: str | None = WindowQ) -> Any:
    w = web(request)
    with _reads(w) as conn:
        try:
            return jsonable_encoder(cut_view(conn, cut_id, window))
        except UnknownCut as exc:
            raise HTTPException(404, str(exc)) from None
        except UnknownWindow as exc:
            raise HTTPException(422, str(exc)) from None


@api.get("/registry", summary="Every active cut with owner, verification and each window's snapshot state")
def api_registry(request: Request) -> Any:
    w = web(request)
    with _reads(w) as conn:
        return jsonable_encoder({"cuts": registry_view(conn)})


@api.post(
    "/cuts/{cut_id}/refresh",
    dependencies=[Depends(require_token)],
    summary="Recompute a cut's snapshots now (all its windows, or one); a failure keeps the last good one",
)
def api_refresh(request: Request, cut_id: str = CutId, window: str | None = WindowQ) -> Any:
    try:
        window = check_window(window)
        report = refresh_cuts([cut_id], [window] if window else None)
    except UnknownCut as exc:
        raise HTTPException(404, str(exc)) from None
    except UnknownWindow as exc:
        raise HTTPException(422, str(exc)) from None
    result = report.as_json()
    result["ok"] = not report.failed
    return jsonable_encoder(result)


class CutVerificationIn(BaseModel):
    """Owner and verification state, either alone; `owner: null` clears the owner."""

    model_config = ConfigDict(extra="forbid")
    owner: str | None = None
    verification_state: str | None = None


@api.patch(
    "/cuts/{cut_id}/verification",
    dependencies=[Depends(require_token)],
    summary="Set a cut's owner and/or verification state",
)
def api_verification(request: Request, body: CutVerificationIn = Body(...), cut_id: str = CutId) -> Any:
    w = web(request)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    with database_writes(w) as conn:
        try:
            return jsonable_encoder(set_cut_fields(conn, cut_id, changes, actor="api"))
        except UnknownCut as exc:
            raise HTTPException(404, str(exc)) from None
        except CutInputError as exc:
            raise HTTPException(422, str(exc)) from None
