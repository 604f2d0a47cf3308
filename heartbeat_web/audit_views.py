"""Audit pages (`/audit`, `/audit/<page>`) and the audit REST API, served from snapshots only.

A page is rendered once per change — the key is (page, window, audit version, read-model version, minute,
token set) — and served from bytes after that; when the database is down the last rendered copy is served
with a banner. Nothing here computes a cut: refreshes go through `heartbeat_core.audit.refresh_cuts`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

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
from heartbeat_core.formatting import format_clock
from heartbeat_web.auth import require_token, token_configured
from heartbeat_web.charts import AsOf, render_cut
from heartbeat_web.deps import Web, database_reads, database_writes, web
from heartbeat_web.gate import principal_of
from heartbeat_web.views import _html

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/audit", tags=["audit"])

CutId = Path(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$", description="audit cut id")
PageName = Path(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$", description="audit page")
WindowQ = Query(None, description="7d, 30d or 90d (default: each cut's own)")


CHECK_EVERY_S = 1.0  # how stale a read may be: another process's refresh shows within a second


class _PageCache:
    """Rendered bodies by key, small and per process. The database is asked at most once a second whether
    anything changed (two version counters); a page is rendered by one request while the others wait
    for it; the newest body per (kind, page, window) also serves while the database is down."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.last: dict[tuple[str, str, str], bytes] = {}
        self.render_locks: dict[tuple[Any, ...], threading.Lock] = {}
        self.versions: tuple[int, int] | None = None
        self.checked_at = 0.0

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self.lock:
            body = self.items.get(key)
            if body is not None:
                self.items.move_to_end(key)
            return body

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        with self.lock:
            self.items[key] = body
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
            self.last[(str(key[0]), str(key[1]), str(key[2]))] = body

    def render_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self.lock:
            if len(self.render_locks) > 4 * self.size:
                self.render_locks.clear()
            return self.render_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        """Forget every body: a new app may read another database, whose version counters can repeat."""
        with self.lock:
            self.items.clear()
            self.last.clear()
            self.versions, self.checked_at = None, 0.0

    def invalidate(self) -> None:
        """After a write through this process: ask the database again on the next read."""
        with self.lock:
            self.checked_at = 0.0


_cache = _PageCache()


def reset_cache() -> None:
    """An app starts with no rendered audit pages (`create_app`)."""
    _cache.clear()


def _versions(conn: Any) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT version FROM heartbeat.audit_state), (SELECT version FROM heartbeat.read_model_state)"
    ).fetchone()
    return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)


def _current_versions(w: Web) -> tuple[int, int] | None:
    now = time.monotonic()
    with _cache.lock:
        if _cache.versions is not None and now - _cache.checked_at < CHECK_EVERY_S:
            return _cache.versions
    with database_reads(w) as conn:
        if conn is None:
            return None
        versions = _versions(conn)
    with _cache.lock:
        _cache.versions, _cache.checked_at = versions, now
    return versions


def _clock(moment: Any, tz: Any) -> str:
    """A moment on an audit page, as a time without an age (`15:16 UTC`, `28 Nov 01:12 UTC`): pages are
    cached for up to an hour without a change, so an age would be up to an hour wrong."""
    return "never" if moment is None else format_clock(moment, clock.now(), tz)


def _age(view: dict[str, Any], tz: Any) -> str:
    """When a snapshot was computed."""
    return _clock(view.get("computed_at"), tz)


HTML = "html"
HTML_NO_NAMES = "html-no-names"  # a display key's copy: cuts that name people show without their content


def _html_kind(request: Request) -> str:
    """Which copy of a page this request may see (display keys see names only with HEARTBEAT_DISPLAY_DETAIL)."""
    if principal_of(request.scope).role == "display" and not web(request).settings.display_detail:
        return HTML_NO_NAMES
    return HTML


def _without_names(cut: dict[str, Any], hide: bool) -> dict[str, Any]:
    if not (hide and cut.get("names")):
        return cut
    return {**cut, "payload": None, "names_hidden": True}


def _decorate(cut: dict[str, Any], at: AsOf, hide: bool = False) -> dict[str, Any]:
    cut = _without_names(cut, hide)
    drawn = "" if cut.get("names_hidden") else render_cut(cut["kind"], cut["payload"], cut["title"], at)
    cut["chart"] = drawn
    cut["age"] = _age(cut, at.tz)
    cut["error_clock"] = _clock(cut["error_at"], at.tz) if cut.get("error_at") else None
    return cut


def _render_page(w: Web, conn: Any, page: str, window: str | None, hide: bool) -> bytes:
    view = page_view(conn, page, window)
    at = AsOf(clock.now(), w.settings.tz)
    ctx = {
        "build": w.build,
        "p": view,
        "cuts": [_decorate(c, at, hide) for c in view["cuts"]],
        "pages": [page_info(x) for x in known_pages(conn)],
        "window": window,
        "windows": WINDOWS,
        "token_set": token_configured(),
        "generated": _clock(at.now, at.tz),
        "degraded": False,
    }
    return w.env.get_template("audit_page.html").render(ctx).encode()


def _render_index(w: Web, conn: Any, hide: bool) -> bytes:
    index = pages_index(conn)
    for p in index:
        p["cuts"] = [{**_without_names(c, hide), "age": _age(c, w.settings.tz)} for c in p["cuts"]]
    ctx = {
        "build": w.build,
        "index": index,
        "pages": [page_info(p["page"]) for p in index],
        "generated": _clock(clock.now(), w.settings.tz),
    }
    return w.env.get_template("audit_index.html").render(ctx).encode()


def _render_json(w: Web, conn: Any, page: str, window: str | None) -> bytes:
    return json.dumps(jsonable_encoder(page_view(conn, page, window)), separators=(",", ":")).encode()


def _key(w: Web, kind: str, page: str, window: str | None, versions: tuple[int, int]) -> tuple[Any, ...]:
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    return (kind, page, window or "", *versions, hour, token_configured(), w.build)


def _fast(w: Web, kind: str, page: str, window: str | None) -> bytes | None:
    """The cached body when the versions were checked less than a second ago: no I/O, no thread hop."""
    with _cache.lock:
        if _cache.versions is None or time.monotonic() - _cache.checked_at >= CHECK_EVERY_S:
            return None
        versions = _cache.versions
    return _cache.get(_key(w, kind, page, window, versions))


def _cached(w: Web, kind: str, page: str, window: str | None) -> tuple[int, bytes, str | None]:
    """(status, body, stale reason) for a page, rendered at most once per change (and per hour, so ages
    and freshness move on without a change)."""
    versions = _current_versions(w)
    if versions is None:
        stale = _cache.last.get((kind, page, window or ""))
        if stale is not None:
            return 200, stale, "database unreachable"
        return 503, b"", "database unreachable"
    key = _key(w, kind, page, window, versions)
    body = _cache.get(key)
    if body is not None:
        return 200, body, None
    lock = _cache.render_lock(key)
    if not lock.acquire(blocking=False):
        # Another request is rendering this page: serve the previous copy rather than queue behind it.
        previous = _cache.last.get((kind, page, window or ""))
        if previous is not None:
            return 200, previous, None
        lock.acquire()
    try:
        body = _cache.get(key)
        if body is not None:
            return 200, body, None
        with database_reads(w) as conn:
            if conn is None:
                stale = _cache.last.get((kind, page, window or ""))
                return (
                    (200, stale, "database unreachable") if stale is not None else (503, b"", "unreachable")
                )
            if kind == "json":
                body = _render_json(w, conn, page, window)
            elif page == "":
                body = _render_index(w, conn, hide=kind == HTML_NO_NAMES)
            else:
                body = _render_page(w, conn, page, window, hide=kind == HTML_NO_NAMES)
        _cache.put(key, body)
    finally:
        lock.release()
    return 200, body, None


def _serve(w: Web, page: str, window: str | None, kind: str = HTML) -> Response:
    try:
        status, body, stale = _cached(w, kind, page, window)
    except UnknownPage as exc:
        html = w.env.get_template("not_found.html").render(build=w.build, message=str(exc))
        return _html(html, 404)
    if status == 503:
        html = w.env.get_template("not_found.html").render(
            build=w.build, message="The database is unreachable and this audit page has not been served yet."
        )
        return _html(html, 503, {"Retry-After": "5"})
    return _html(body, extra={"X-Heartbeat-Stale": stale} if stale else None)


# The page routes are async: a cached body is served on the event loop; only a version check or a
# render goes to the threadpool (the hop alone costs tail latency under load).


@pages.get("/audit", response_class=HTMLResponse)
async def audit_index(request: Request) -> Response:
    w = web(request)
    kind = _html_kind(request)
    body = _fast(w, kind, "", None)
    if body is not None:
        return _html(body)
    return await run_in_threadpool(_serve, w, "", None, kind)


@pages.get("/audit/{page}", response_class=HTMLResponse)
async def audit_page(request: Request, page: str = PageName, window: str | None = Query(None)) -> Response:
    w = web(request)
    try:
        window = check_window(window)
    except UnknownWindow as exc:
        html = w.env.get_template("not_found.html").render(build=w.build, message=str(exc))
        return _html(html, 404)
    kind = _html_kind(request)
    body = _fast(w, kind, page, window)
    if body is not None:
        return _html(body)
    return await run_in_threadpool(_serve, w, page, window, kind)


# ------------------------------------------------------------------------------------------- REST


def _reads(w: Web) -> Any:
    return database_writes(w)  # same 503-with-a-reason when the database is down


@api.get("/pages/{page}", summary="An audit page: its cuts in order with their snapshots")
async def api_page(request: Request, page: str = PageName, window: str | None = WindowQ) -> Any:
    w = web(request)
    try:
        window = check_window(window)
    except UnknownWindow as exc:
        raise HTTPException(422, str(exc)) from None
    body = _fast(w, "json", page, window)
    if body is None:
        try:
            status, body, _ = await run_in_threadpool(_cached, w, "json", page, window)
        except UnknownPage as exc:
            raise HTTPException(404, str(exc)) from None
        if status == 503:
            raise HTTPException(503, "the database is unreachable")
    return Response(body, media_type="application/json")


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
    _cache.invalidate()
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
            result = jsonable_encoder(set_cut_fields(conn, cut_id, changes, actor="api"))
        except UnknownCut as exc:
            raise HTTPException(404, str(exc)) from None
        except CutInputError as exc:
            raise HTTPException(422, str(exc)) from None
    _cache.invalidate()
    return result
