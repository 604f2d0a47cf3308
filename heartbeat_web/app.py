"""The app factory: cockpit, metric pages, REST API, `/mcp`, and the scheduler, in one process.

`create_app()` wires the read model's cache to a background renderer (`LiveCockpit`) and starts it, the
MCP app's lifespan and, unless asked not to, the scheduler in the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from heartbeat_core.db import DatabaseUnavailable
from heartbeat_core.metrics.operator import OperatorInputError
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel.cache import SnapshotCache
from heartbeat_core.settings import get_settings
from heartbeat_web import api, audit_views, docs, fast, integrations, views
from heartbeat_web.deps import Web
from heartbeat_web.fast import CockpitFastPath
from heartbeat_web.live import LiveCockpit
from heartbeat_web.render import STATIC, CockpitRenderer, build_id, make_env

log = logging.getLogger("heartbeat.web")


def _field_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        parts.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def create_app(
    *,
    scheduler: bool = False,
    mcp: bool = True,
    poll_s: float = 1.0,
    cache: SnapshotCache | None = None,
    build: str | None = None,
) -> FastAPI:
    settings = get_settings()
    env = make_env()
    build = build or build_id()
    cache = cache or SnapshotCache(max_age_s=60.0, retry_after_s=2.0)
    live = LiveCockpit(
        cache,
        CockpitRenderer(env, settings, build),
        build_id=build,
        poll_s=poll_s,
        job_reader=integrations.job_strip,
    )
    mcp_app = integrations.mcp_http_app() if mcp else None
    # built before uvicorn starts, so a bad schedule setting fails `heartbeat serve` with a one-line reason
    sched = integrations.scheduler() if scheduler else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live.start()
        # the first screen before the first request when the database answers; never wait long for a dead one
        for _ in range(100):
            if live.current is not None or live.last_error is not None:
                break
            await asyncio.sleep(0.05)
        async with contextlib.AsyncExitStack() as stack:
            if mcp_app is not None:
                # The MCP streamable-HTTP app runs its session manager in its own lifespan.
                router = getattr(mcp_app, "router", None)
                ctx = getattr(router, "lifespan_context", None)
                if ctx is not None:
                    await stack.enter_async_context(ctx(mcp_app))
            if sched is not None:
                await _maybe_await(sched.start())
                stack.push_async_callback(lambda: _maybe_await(sched.stop()))
                log.info("scheduler started")
            app.state.scheduler = sched
            try:
                yield
            finally:
                live.stop()

    app = FastAPI(
        title="Heartbeat",
        version="0.1.0",
        description="What is broken in the business's data, worst first. Writes need "
        "`Authorization: Bearer $HEARTBEAT_API_TOKEN` once a token is set.",
        docs_url="/api/swagger",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.web = Web(settings=settings, env=env, build=build, live=live)
    app.state.scheduler = None

    @app.exception_handler(UnknownMetric)
    async def unknown_metric(request: Request, exc: UnknownMetric) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(OperatorInputError)
    async def bad_edit(request: Request, exc: OperatorInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _field_message(exc), "errors": jsonable(exc.errors())}, status_code=422
        )

    @app.exception_handler(integrations.NotAvailable)
    async def not_available(request: Request, exc: integrations.NotAvailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=501)

    @app.exception_handler(DatabaseUnavailable)
    async def db_down(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        live.poke()
        return JSONResponse({"detail": "the database is unreachable"}, status_code=503)

    @app.exception_handler(psycopg.OperationalError)
    async def db_broken(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        live.poke()
        return JSONResponse({"detail": "the database connection failed; try again"}, status_code=503)

    fast.configure(views.CSP)
    app.add_middleware(CockpitFastPath, live=live, build=build)
    app.include_router(views.router)
    app.include_router(docs.router)
    app.include_router(api.router)
    app.include_router(audit_views.pages)  # /audit pages and /api/audit (heartbeat_web/audit_views.py)
    app.include_router(audit_views.api)
    app.include_router(api.health)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    # MCP mount point: heartbeat_mcp's streamable-HTTP app answers at /mcp (bearer token enforced there).
    if mcp_app is not None:
        app.mount("/mcp", mcp_app, name="mcp")
    return app


def jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={Exception: str})
