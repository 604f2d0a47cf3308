"""Build the read model once per change, serve it many times, and keep the last good copy.

The registry and history change only when a job ends or an operator edits, and a counter in
`heartbeat.read_model_state` moves each time; readers pay one tiny query to learn whether to rebuild.
Freshness ages with the clock, so a snapshot is also rebuilt after `max_age_s`. When the database is
down, the last good snapshot is served, marked degraded, and the database is not asked again for
`retry_after_s`, so a reader never waits on a dead server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core import clock, readmodel
from heartbeat_core.db import DatabaseUnavailable, get_pool


@dataclass(frozen=True)
class CachedSnapshot:
    snapshot: readmodel.CockpitSnapshot
    json_bytes: bytes
    built_at: float
    degraded: bool = False
    degraded_since: datetime | None = None
    error: str | None = None


class SnapshotCache:
    def __init__(
        self,
        max_age_s: float = 30.0,
        retry_after_s: float = 5.0,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        self.max_age_s = max_age_s
        self.retry_after_s = retry_after_s
        self._connect = connect
        self._lock = threading.Lock()
        self._current: CachedSnapshot | None = None
        self._version: int | None = None
        self._checked_at = 0.0
        self._failed_at: float | None = None
        self._degraded_since: datetime | None = None
        self.builds = 0

    def _connection(self) -> Any:
        if self._connect is not None:
            return self._connect()
        return get_pool().connection(timeout=2.0)

    def invalidate(self) -> None:
        with self._lock:
            self._version = None

    def get(self) -> CachedSnapshot:
        """The current snapshot; raises DatabaseUnavailable only when there has never been a good one."""
        with self._lock:
            now = time.monotonic()
            current = self._current
            if self._failed_at is not None and now - self._failed_at < self.retry_after_s and current:
                return current
            try:
                with self._connection() as conn:
                    version = readmodel.read_model_version(conn)
                    fresh_enough = current is not None and now - current.built_at < self.max_age_s
                    if (
                        current is not None
                        and version == self._version
                        and fresh_enough
                        and not current.degraded
                    ):
                        return current
                    snapshot = readmodel.cockpit_snapshot(conn)
            except (psycopg.Error, DatabaseUnavailable, OSError, TimeoutError) as exc:
                return self._degrade(now, exc)
            except Exception as exc:  # pool timeouts surface as their own class
                if type(exc).__name__ != "PoolTimeout":
                    raise
                return self._degrade(now, exc)
            self._failed_at = None
            self._degraded_since = None
            self._version = version
            self.builds += 1
            self._current = CachedSnapshot(snapshot, snapshot.model_dump_json().encode(), now)
            return self._current

    def _degrade(self, now: float, exc: Exception) -> CachedSnapshot:
        self._failed_at = now
        if self._degraded_since is None:
            self._degraded_since = clock.now()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._current is None:
            raise DatabaseUnavailable(message) from exc
        good = self._current
        self._current = CachedSnapshot(
            good.snapshot, good.json_bytes, good.built_at, True, self._degraded_since, message
        )
        return self._current
