"""The app factory: cockpit, metric pages, REST API, `/mcp`, and the scheduler, in one process.

`create_app()` wires the read model's cache to a background renderer (`LiveCockpit`) and starts it, the
MCP app's lifespan and, unless asked not to, the scheduler in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette

from heartbeat_core.access import PrincipalBook
from heartbeat_core.db import DatabaseUnavailable
from heartbeat_core.jobs.scheduler import Scheduler
from heartbeat_core.metrics.operator import OperatorInputError
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel.cache import SnapshotCache
from heartbeat_core.settings import get_settings
from heartbeat_mcp.http import build_http_app, mcp_lifespan
from heartbeat_web import api, audit_views, catalog_views, docs, entities_api, fast, sources_api, views
from heartbeat_web.deps import Web
from heartbeat_web.fast import CockpitFastPath
from heartbeat_web.gate import CredentialGate
from heartbeat_web.live import LiveCockpit, running_job
from heartbeat_web.render import STATIC, CockpitRenderer, build_id, make_env

log = logging.getLogger("heartbeat.web")

FIRST_SCREEN_WAIT_S = 5.0
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    *,
    scheduler: bool = False,
    mcp: bool = True,
    poll_s: float = 1.0,
    cache: SnapshotCache | None = None,
    build: str | None = None,
) -> FastAPI:
    """The whole web surface; `scheduler` runs the recompute schedules here, `mcp` mounts `/mcp`."""
    settings = get_settings()
    env = make_env()
    build = build or build_id()
    live = LiveCockpit(
        cache or SnapshotCache(max_age_s=60.0, retry_after_s=2.0),
        CockpitRenderer(env, settings, build),
        build_id=build,
        poll_s=poll_s,
        job_reader=running_job,
        display_render=CockpitRenderer(env, settings, build, detail=settings.display_detail),
    )
    mcp_app = build_http_app() if mcp else None
    # built before uvicorn starts, so a bad schedule setting fails `heartbeat serve` with a one-line reason
    sched = Scheduler(settings) if scheduler else None
    app = FastAPI(
        title="Heartbeat",
        version="0.1.0",
        description="What is broken in the business's data, worst first. Writes need "
        "`Authorization: Bearer $HEARTBEAT_API_TOKEN` once a token is set.",
        docs_url="/api/swagger",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_lifespan(live, mcp_app, sched),
    )
    app.state.web = Web(settings=settings, env=env, build=build, live=live)
    app.state.scheduler = None
    _error_handlers(app, live)
    _routes(app, live, build, mcp_app)
    return app


async def _first_screen(live: LiveCockpit) -> None:
    """Wait briefly for the first screen, so the first request finds it when the database answers; never
    wait long for a dead one."""
    deadline = asyncio.get_running_loop().time() + FIRST_SCREEN_WAIT_S
    while live.current is None and live.last_error is None:
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


def _lifespan(live: LiveCockpit, mcp_app: Starlette | None, sched: Scheduler | None) -> Lifespan:
    """Start the cockpit renderer, the MCP session manager and the scheduler; stop them in reverse."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live.start()
        await _first_screen(live)
        async with contextlib.AsyncExitStack() as stack:
            if mcp_app is not None:
                # Starlette does not run a mounted app's lifespan: the MCP session manager runs in ours.
                await stack.enter_async_context(mcp_lifespan(mcp_app))
            if sched is not None:
                sched.start()
                stack.callback(sched.stop)
                log.info("scheduler started")
            app.state.scheduler = sched
            try:
                yield
            finally:
                live.stop()

    return lifespan


def _field_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _jsonable(errors: Any) -> Any:
    return jsonable_encoder(errors, custom_encoder={Exception: str})


def _error_handlers(app: FastAPI, live: LiveCockpit) -> None:
    """Errors as JSON with a one-line `detail`; a database failure also wakes the cockpit's renderer, so
    the screen goes to degraded mode within a poll."""

    @app.exception_handler(UnknownMetric)
    async def unknown_metric(request: Request, exc: UnknownMetric) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(OperatorInputError)
    async def bad_edit(request: Request, exc: OperatorInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _field_message(exc), "errors": _jsonable(exc.errors())}, status_code=422
        )

    @app.exception_handler(DatabaseUnavailable)
    async def db_down(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        live.poke()
        return JSONResponse({"detail": "the database is unreachable"}, status_code=503)

    @app.exception_handler(psycopg.OperationalError)
    async def db_broken(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        live.poke()
        return JSONResponse({"detail": "the database connection failed; try again"}, status_code=503)


def _routes(app: FastAPI, live: LiveCockpit, build: str, mcp_app: Starlette | None) -> None:
    """The raw fast path for the three hot reads in front, then pages, API, static files and `/mcp`."""
    fast.configure(views.CSP)
    app.add_middleware(CockpitFastPath, live=live, build=build)
    # added last, so outermost: in front of the fast path and everything else
    app.add_middleware(CredentialGate, book=PrincipalBook(), page=views.access_page(app))
    app.include_router(views.router)
    app.include_router(docs.router)
    app.include_router(api.router)
    app.include_router(entities_api.router)  # acknowledgements, change feed (issue 13)
    app.include_router(sources_api.router)  # sources and their data tests (issue 18)
    audit_views.reset_cache()  # bodies are keyed by version counters another database (a test's) repeats
    app.include_router(audit_views.pages)  # /audit pages and /api/audit
    app.include_router(audit_views.api)
    app.include_router(catalog_views.router)  # /catalog (issue 16)
    app.include_router(api.health)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    if mcp_app is not None:  # heartbeat_mcp's streamable-HTTP app (bearer token enforced there)
        app.mount("/mcp", mcp_app, name="mcp")
