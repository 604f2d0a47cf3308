"""What every route needs: the app's parts, and a database connection that never makes a request wait
on a server that is known to be down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import HTTPException, Request
from jinja2 import Environment
from psycopg_pool import PoolTimeout

from heartbeat_core.db import DatabaseUnavailable, get_pool
from heartbeat_core.settings import Settings
from heartbeat_web.live import LiveCockpit

POOL_WAIT_S = 2.0
Connection = psycopg.Connection[Any]


@dataclass
class Web:
    settings: Settings
    env: Environment
    build: str
    live: LiveCockpit


def web(request: Request) -> Web:
    w = request.app.state.web
    if not isinstance(w, Web):
        raise RuntimeError("app.state.web is not set: build the app with heartbeat_web.app.create_app()")
    return w


@contextmanager
def database_reads(w: Web) -> Iterator[Connection | None]:
    """A pooled connection, or None while the read model is degraded (the database is down)."""
    if w.live.degraded:
        yield None
        return
    with ExitStack() as stack:
        try:
            conn: Connection | None = stack.enter_context(get_pool().connection(timeout=POOL_WAIT_S))
        except (DatabaseUnavailable, OSError, TimeoutError, PoolTimeout):
            w.live.poke()
            conn = None
        yield conn


@contextmanager
def database_writes(w: Web) -> Iterator[Connection]:
    """A pooled connection for an operator write; 503 with a reason when the database is down."""
    with database_reads(w) as conn:
        if conn is None:
            raise HTTPException(
                503, "the database is unreachable; try again when the cockpit is no longer degraded"
            )
        yield conn
