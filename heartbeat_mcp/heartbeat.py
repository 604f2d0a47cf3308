"""The state one MCP server keeps: its snapshot cache, memos per snapshot build, the database gate, the actor.

Tools read through `serve_read` (answers memoised per snapshot build and argument set, served on the event
loop while fresh) or `connection()` (pooled, failing fast while the database is known to be down). A write
through this server calls `forget()`, so the next read checks the database again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio.to_thread
import psycopg
import psycopg.errors
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.requests import HTTPConnection

from heartbeat_core.db import DatabaseUnavailable, connect, get_pool
from heartbeat_core.metrics.registry import UnknownMetric
from heartbeat_core.readmodel import MetricState
from heartbeat_core.readmodel.cache import CachedSnapshot, SnapshotCache
from heartbeat_core.settings import get_settings
from heartbeat_mcp.answers import answer

POOL_TIMEOUT_S = 3.0
CHECK_EVERY_S = 1.0  # how stale a read may be (writes through this server are seen at once)
PROBE_TIMEOUT_S = 3
RETRY_AFTER_S = 5.0
MAX_ANSWERS = 64

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
BuildKey = tuple[int, float]  # (read-model version, built_at): one snapshot build


def connection_lost(exc: BaseException) -> bool:
    """The server is unreachable or went away (not a bad query): worth failing fast for a few seconds."""
    if isinstance(exc, DatabaseUnavailable | PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError) and not isinstance(exc, psycopg.errors.QueryCanceled):
        state = exc.sqlstate
        return state is None or state.startswith(("08", "57P"))
    return False


def _build_key(cached: CachedSnapshot) -> BuildKey:
    return (cached.snapshot.version, cached.built_at)


class Heartbeat:
    """The state one MCP server keeps: its snapshot cache, memos per snapshot build, the default actor."""

    def __init__(self, cache: SnapshotCache | None = None, actor: str = "mcp-stdio") -> None:
        self.cache = cache or SnapshotCache(max_age_s=30.0, retry_after_s=5.0)
        self.actor = actor
        self._lock = threading.Lock()
        self._per_build: dict[str, tuple[BuildKey, Any]] = {}
        self._recent: tuple[float, CachedSnapshot | None] = (0.0, None)
        self._answers: dict[tuple[Any, ...], CallToolResult] = {}
        self._reached = False  # has the database answered once?
        self._down_since: float | None = None
        self._down_reason = ""

    # -- the database gate -----------------------------------------------------------------------

    def _gate(self) -> None:
        """Fail fast while the database is known to be down, and probe it directly before the pool's first
        use (the pool would wait its full timeout to say less)."""
        now = time.monotonic()
        if self._down_since is not None and now - self._down_since < RETRY_AFTER_S:
            raise DatabaseUnavailable(self._down_reason)
        if self._reached and self._down_since is None:
            return
        try:
            with connect(connect_timeout=PROBE_TIMEOUT_S):
                pass
        except DatabaseUnavailable as exc:
            self._down_since, self._down_reason = now, str(exc)
            raise
        self._reached, self._down_since = True, None

    def _failed(self, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self._down_since, self._down_reason = time.monotonic(), first

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a lost server marks the database down for RETRY_AFTER_S."""
        self._gate()
        try:
            with get_pool().connection(timeout=POOL_TIMEOUT_S) as conn:
                yield conn
        except Exception as exc:
            if connection_lost(exc):
                self._failed(exc)
            raise

    # -- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> CachedSnapshot:
        """The cache's snapshot (the last good copy, marked degraded, while the database is down)."""
        if self.cache._current is None:  # no copy to fall back on: probe before the pool waits
            self._gate()
        cached = self.cache.get()
        if cached.degraded and self._down_since is None:
            self._failed(RuntimeError(cached.error or "database unavailable"))
        with self._lock:
            self._recent = (time.monotonic(), cached)
        return cached

    def recent(self) -> CachedSnapshot | None:
        """The snapshot checked against the database less than CHECK_EVERY_S ago, without any I/O."""
        checked_at, cached = self._recent
        if cached is None or time.monotonic() - checked_at >= CHECK_EVERY_S or cached.degraded:
            return None
        return cached

    def state(self, metric_id: str) -> tuple[CachedSnapshot, MetricState]:
        """One metric's state in the current snapshot; UnknownMetric names the closest ids."""
        cached = self.snapshot()
        for state in cached.snapshot.metrics:
            if state.metric_id == metric_id:
                return cached, state
        known = [s.metric_id for s in cached.snapshot.metrics]
        raise UnknownMetric([metric_id], known)

    def forget(self) -> None:
        """After a write through this server: the next read checks the database again."""
        self.cache.invalidate()
        with self._lock:
            self._recent = (0.0, None)
            self._answers.clear()

    def per_build(self, cached: CachedSnapshot, name: str, compute: Callable[[], T], fallback: T) -> T:
        """`compute()` once per snapshot build; while degraded, the last value (else `fallback`)."""
        key = _build_key(cached)
        with self._lock:
            held = self._per_build.get(name)
            if held is not None and (held[0] == key or cached.degraded):
                value: T = held[1]
                return value
            if cached.degraded:
                return fallback
            value = compute()
            self._per_build[name] = (key, value)
            return value

    # -- memoised read answers -------------------------------------------------------------------

    def _memo(self, cached: CachedSnapshot, key: tuple[Any, ...]) -> CallToolResult | None:
        return self._answers.get((_build_key(cached), *key))

    def _remember(
        self, cached: CachedSnapshot, key: tuple[Any, ...], result: CallToolResult
    ) -> CallToolResult:
        if cached.degraded:
            return result
        with self._lock:
            if len(self._answers) > MAX_ANSWERS:
                self._answers.clear()
            self._answers[(_build_key(cached), *key)] = result
        return result

    def read_answer(
        self,
        key: tuple[Any, ...],
        build: Callable[[CachedSnapshot], M],
        text: Callable[[M], str] | None = None,
    ) -> CallToolResult:
        """An answer built from the snapshot, once per snapshot build and argument set (runs in a thread)."""
        cached = self.snapshot()
        hit = self._memo(cached, key)
        if hit is not None:
            return hit
        model = build(cached)
        return self._remember(cached, key, answer(model, None if text is None else text(model)))

    async def serve_read(
        self,
        key: tuple[Any, ...],
        build: Callable[[CachedSnapshot], M],
        text: Callable[[M], str] | None = None,
    ) -> CallToolResult:
        """Fast path on the event loop when a recent snapshot's answer is memoised; else a worker thread."""
        recent = self.recent()
        if recent is not None:
            hit = self._memo(recent, key)
            if hit is not None:
                return hit
        return await anyio.to_thread.run_sync(self.read_answer, key, build, text)

    # -- who writes ------------------------------------------------------------------------------

    def actor_for(self, ctx: Context | None) -> str:
        """Who is writing: the bearer token's subject over HTTP, this server's default actor otherwise.

        Over HTTP with HEARTBEAT_API_TOKEN set and no authenticated user, the write is refused (the HTTP app
        already answers 401 before any tool runs; this is the second lock on the door)."""
        request = None
        if ctx is not None:
            with contextlib.suppress(ValueError):
                request = ctx.request_context.request
        if request is None:
            return self.actor
        user = request.scope.get("user") if isinstance(request, HTTPConnection) else None
        if isinstance(user, AuthenticatedUser):
            token = user.access_token
            if token.scopes and "write" not in token.scopes:
                raise ToolError(f"{token.subject} is a read-only token; writes need the admin token")
            return f"mcp-http:{token.subject or token.client_id}"
        if get_settings().api_token:
            raise ToolError(
                "writes over HTTP need the bearer token (Authorization: Bearer $HEARTBEAT_API_TOKEN)"
            )
        return "mcp-http"
