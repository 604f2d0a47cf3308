"""What every route needs: the app's parts, and a database connection that never makes a request wait
on a server that is known to be down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from jinja2 import Environment

from heartbeat_core.db import DatabaseUnavailable, get_pool
from heartbeat_core.settings import Settings
from heartbeat_web.live import LiveCockpit

POOL_WAIT_S = 2.0


@dataclass
class Web:
    settings: Settings
    env: Environment
    build: str
    live: LiveCockpit


def web(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


@contextmanager
def database_reads(w: Web) -> Iterator[Any]:
    """A pooled connection, or None while the read model is degraded (the database is down)."""
    if w.live.degraded:
        yield None
        return
    try:
        ctx = get_pool().connection(timeout=POOL_WAIT_S)
        conn = ctx.__enter__()
    except (DatabaseUnavailable, OSError, TimeoutError) as exc:
        w.live.poke()
        del exc
        yield None
        return
    except Exception as exc:
        if type(exc).__name__ != "PoolTimeout":
            raise
        w.live.poke()
        yield None
        return
    try:
        yield conn
    except BaseException as exc:
        ctx.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        ctx.__exit__(None, None, None)


@contextmanager
def database_writes(w: Web) -> Iterator[Any]:
    """A pooled connection for an operator write; 503 with a reason when the database is down."""
    with database_reads(w) as conn:
        if conn is None:
            raise HTTPException(
                503, "the database is unreachable; try again when the cockpit is no longer degraded"
            )
        yield conn
