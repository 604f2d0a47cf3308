"""The cockpit's rendered bytes, built once per read-model change and served from memory.

A background thread asks `SnapshotCache` every `poll_s` whether the read model moved (one tiny query);
when it did, or the job strip or the degraded flag changed, it renders the page, the swap-in partial
and the `/api/cockpit` JSON once and swaps them in atomically. Requests only read `current`: no
request waits on the database pool, so a dead database cannot slow the TV.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from heartbeat_core import clock
from heartbeat_core.db import DatabaseUnavailable
from heartbeat_core.jobs.ledger import JobPhase, JobState, JobView, active_job
from heartbeat_core.readmodel import CockpitSnapshot
from heartbeat_core.readmodel.cache import CachedSnapshot, SnapshotCache
from heartbeat_core.redaction import redact_optional

log = logging.getLogger("heartbeat.web")


@dataclass(frozen=True)
class JobStrip:
    """The running job as the top strip shows it."""

    job_id: int
    state: JobState
    phase: JobPhase | None
    progress: float | None  # 0..1, in 5% steps: the screen is re-rendered only when the bar visibly moves
    message: str | None = None

    @classmethod
    def of(cls, view: JobView) -> JobStrip:
        progress = None
        if view.total:
            progress = round(max(0.0, min(1.0, view.done / view.total)) * 20) / 20
        return cls(view.job_id, view.state, view.phase, progress, view.current_step)

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "phase": self.phase,
            "progress": self.progress,
            "message": self.message,
        }


BodyKind = Literal["page", "partial", "json", "display_page", "display_partial"]


@dataclass(frozen=True)
class Rendered:
    key: tuple[Any, ...]
    etag: str
    page: bytes
    partial: bytes
    json: bytes
    snapshot: CockpitSnapshot
    degraded: bool
    degraded_since: datetime | None
    built_at: float
    ids: frozenset[str] = field(default_factory=frozenset)
    page_gz: bytes = b""
    partial_gz: bytes = b""
    json_gz: bytes = b""
    # the display keys' copy (culprits counted unless HEARTBEAT_DISPLAY_DETAIL=true); the same bytes otherwise
    display_page: bytes = b""
    display_partial: bytes = b""
    display_page_gz: bytes = b""
    display_partial_gz: bytes = b""

    def body(self, kind: BodyKind, accept_encoding: str | None) -> tuple[bytes, bool]:
        """The bytes of `kind` (page, partial, json), gzipped once per change when the client accepts it."""
        gz = accept_encoding is not None and "gzip" in accept_encoding
        plain, packed = {
            "page": (self.page, self.page_gz),
            "partial": (self.partial, self.partial_gz),
            "json": (self.json, self.json_gz),
            "display_page": (self.display_page or self.page, self.display_page_gz or self.page_gz),
            "display_partial": (
                self.display_partial or self.partial,
                self.display_partial_gz or self.partial_gz,
            ),
        }[kind]
        return (packed, True) if gz else (plain, False)


Renderer = Callable[[CachedSnapshot, "JobStrip | None"], tuple[bytes, bytes, dict[str, Any]]]


class LiveCockpit:
    def __init__(
        self,
        cache: SnapshotCache,
        render: Renderer,
        *,
        build_id: str,
        poll_s: float = 1.0,
        job_reader: Callable[[], JobStrip | None] | None = None,
        display_render: Renderer | None = None,
    ) -> None:
        self.cache = cache
        self._render = render
        self._display_render = display_render
        self.build_id = build_id
        self.poll_s = poll_s
        self._job_reader = job_reader
        self._current: Rendered | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self.last_error: str | None = None
        self.renders = 0

    @property
    def current(self) -> Rendered | None:
        return self._current

    @property
    def degraded(self) -> bool:
        current = self._current
        return current is None or current.degraded

    def refresh(self) -> Rendered | None:
        """One tick: ask the cache, render when anything the screen shows has changed."""
        with self._refresh_lock:
            try:
                cached = self.cache.get()
            except DatabaseUnavailable as exc:
                self.last_error = redact_optional(str(exc))
                return self._current
            job = None
            if self._job_reader is not None and not cached.degraded:
                try:
                    job = self._job_reader()
                except Exception as exc:  # the strip is optional; never let it blank the screen
                    log.debug("job strip unavailable: %s", exc)
            key = (
                cached.snapshot.version,
                cached.built_at,
                cached.degraded,
                job and (job.job_id, job.state, job.phase, job.progress),
            )
            current = self._current
            if current is not None and current.key == key:
                return current
            page, partial, head = self._render(cached, job)
            display_page, display_partial = page, partial
            if self._display_render is not None:
                display_page, display_partial, _ = self._display_render(cached, job)
            head = {
                "build": self.build_id,
                "degraded": cached.degraded,
                "degraded_since": cached.degraded_since.isoformat() if cached.degraded_since else None,
                "degraded_reason": redact_optional(cached.error),
                "active_job": job.as_json() if job else None,
                **head,
            }
            body = json.dumps(head, separators=(",", ":")).encode()
            payload = body[:-1] + b"," + cached.json_bytes[1:]
            etag = '"' + hashlib.sha1(repr(key).encode() + self.build_id.encode()).hexdigest()[:20] + '"'
            self._current = Rendered(
                key=key,
                etag=etag,
                page=page,
                partial=partial,
                json=payload,
                snapshot=cached.snapshot,
                degraded=cached.degraded,
                degraded_since=cached.degraded_since,
                built_at=time.monotonic(),
                ids=frozenset(m.metric_id for m in cached.snapshot.metrics),
                page_gz=gzip.compress(page, 6, mtime=0),
                partial_gz=gzip.compress(partial, 6, mtime=0),
                json_gz=gzip.compress(payload, 6, mtime=0),
                **self._display_copy(page, partial, display_page, display_partial),
            )
            self.renders += 1
            self.last_error = redact_optional(cached.error)
            return self._current

    @staticmethod
    def _display_copy(page: bytes, partial: bytes, d_page: bytes, d_partial: bytes) -> dict[str, bytes]:
        """The display keys' bytes, only when they differ from everyone's (no culprit, no second copy)."""
        if d_page == page and d_partial == partial:
            return {}
        return {
            "display_page": d_page,
            "display_partial": d_partial,
            "display_page_gz": gzip.compress(d_page, 6, mtime=0),
            "display_partial_gz": gzip.compress(d_partial, 6, mtime=0),
        }

    def poke(self) -> None:
        """Refresh soon (after an operator edit or a recompute request)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # keep serving the last good screen whatever happens
                log.exception("cockpit refresh failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="heartbeat-cockpit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def running_job() -> JobStrip | None:
    """The job for the cockpit's top strip, None when idle."""
    view = active_job()
    return None if view is None else JobStrip.of(view)


def office_time(moment: datetime | None, tz: Any) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(tz).strftime("%H:%M")


def now() -> datetime:
    return clock.now()
