"""The recompute job ledger (`heartbeat.recompute_job`): what readers see of jobs, and the liveness rule.

A job is alive while some session holds the job advisory lock. A ledger row that says queued/running while
the lock is free belongs to a dead worker: it is marked `abandoned`, always under the gate lock so a
finishing worker and a reaper never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, get_args

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.db import connect, get_pool

# Advisory lock keys (two int4 keys: namespace "HB", then the purpose).
LOCK_NS = 0x4842
JOB_LOCK = 1  # session-level: held by the worker for the whole job
GATE_LOCK = 2  # transaction-level: check-and-insert, finish, reap

JobState = Literal["queued", "running", "succeeded", "partial", "failed", "abandoned"]
JobPhase = Literal["ingest", "compute", "typical", "alerts", "done"]
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running")
FINAL_STATES: tuple[JobState, ...] = ("succeeded", "partial", "failed", "abandoned")
JOB_PHASES: tuple[JobPhase, ...] = get_args(JobPhase)
CHANNEL = "heartbeat_job"


class JobSource(BaseModel):
    source: str
    state: str  # running | succeeded | skipped | failed | unavailable
    rows: int | None = None
    seconds: float | None = None
    error: str | None = None
    note: str | None = None  # e.g. why a scheduled job skipped it
    tests: dict[str, Any] | None = None  # the data tests run after it landed: total, failed, errors, seconds


class JobMetric(BaseModel):
    metric_id: str
    state: str  # succeeded | failed
    status: str | None = None
    error: str | None = None


class JobHook(BaseModel):
    name: str
    state: str  # succeeded | failed
    seconds: float | None = None
    error: str | None = None


class JobView(BaseModel):
    job_id: int
    trigger: str
    requested_by: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    state: JobState
    phase: JobPhase
    done: int = 0
    total: int = 0
    current_step: str | None = None
    sources: list[JobSource] = Field(default_factory=list)
    metrics: list[JobMetric] = Field(default_factory=list)
    hooks: list[JobHook] = Field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    error: str | None = None
    seconds: float | None = None
    pid: int | None = None
    host: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


_COLUMNS = (
    "job_id, trigger, requested_by, request, state, phase, done, total, current_step, sources, metrics, hooks,"
    " created_at, started_at, finished_at, heartbeat_at, error, pid, host"
)


def _view(row: dict[str, Any]) -> JobView:
    started, finished = row.get("started_at"), row.get("finished_at")
    seconds = None
    if started is not None:
        seconds = round(((finished or clock.now()) - started).total_seconds(), 3)
    return JobView(**row, seconds=seconds)


def read_job(conn: psycopg.Connection[Any], job_id: int) -> JobView | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM heartbeat.recompute_job WHERE job_id = %s", (job_id,))
        row = cur.fetchone()
    return _view(row) if row else None


def _active_row(conn: psycopg.Connection[Any]) -> JobView | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM heartbeat.recompute_job WHERE state IN ('queued', 'running')"
            " ORDER BY job_id DESC LIMIT 1"
        )
        row = cur.fetchone()
    return _view(row) if row else None


def job_lock_held(conn: psycopg.Connection[Any]) -> bool:
    """Whether any session of this database holds the job lock (read from pg_locks; takes nothing)."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_locks
                          WHERE locktype = 'advisory' AND granted AND objsubid = 2
                            AND classid = %s::int::oid AND objid = %s::int::oid
                            AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))""",
        (LOCK_NS, JOB_LOCK),
    ).fetchone()
    return bool(row and row[0])


def mark_abandoned(conn: psycopg.Connection[Any], job_id: int, reason: str | None = None) -> None:
    """Inside a transaction that holds the gate lock."""
    conn.execute(
        """UPDATE heartbeat.recompute_job
           SET state = 'abandoned', finished_at = %s,
               error = coalesce(error || '; ', '') || %s
           WHERE job_id = %s AND state IN ('queued', 'running')""",
        (
            clock.now(),
            reason or "the worker died (its lock was free); the next request ran a new job",
            job_id,
        ),
    )


def reap_orphans(conn: psycopg.Connection[Any]) -> list[int]:
    """Mark active rows whose worker is gone as abandoned (takes the gate lock); returns their ids."""
    reaped: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NS, GATE_LOCK))
        if job_lock_held(conn):
            return reaped
        for (job_id,) in conn.execute(
            "SELECT job_id FROM heartbeat.recompute_job WHERE state IN ('queued', 'running')"
        ).fetchall():
            mark_abandoned(conn, job_id)
            reaped.append(job_id)
    return reaped


def get_job(job_id: int) -> JobView | None:
    """One job as the ledger has it (None if there is no such job)."""
    with get_pool().connection() as conn:
        view = read_job(conn, job_id)
        if view is not None and view.active and not job_lock_held(conn):
            reap_orphans(conn)
            view = read_job(conn, job_id)
    return view


def active_job() -> JobView | None:
    """The job running now (None when idle); an orphaned row found on the way is marked abandoned."""
    with get_pool().connection() as conn:
        view = _active_row(conn)
        if view is None:
            return None
        if job_lock_held(conn):
            return view
        reap_orphans(conn)
        return _active_row(conn)


def recent_jobs(limit: int = 20) -> list[JobView]:
    with get_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM heartbeat.recompute_job ORDER BY job_id DESC LIMIT %s", (limit,))
        return [_view(r) for r in cur.fetchall()]


def wait_for_job(
    job_id: int,
    on_progress: Callable[[JobView], None] | None = None,
    timeout_s: float = 3600,
) -> JobView:
    """Block until the job ends (LISTEN on the ledger's notifications); `on_progress` sees each change.

    Raises LookupError for an unknown job and TimeoutError after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    with connect(autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        last: JobView | None = None
        while True:
            view = read_job(conn, job_id)
            if view is None:
                raise LookupError(f"no recompute job {job_id}")
            if view.active and not job_lock_held(conn):
                reap_orphans(conn)
                view = read_job(conn, job_id) or view
            if on_progress is not None and (last is None or _changed(last, view)):
                on_progress(view)
            last = view
            if view.final:
                return view
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"recompute job {job_id} still {view.state} after {timeout_s:g} s")
            # Wake on the next ledger change; the 1 s cap re-checks liveness if the worker dies silently.
            for _ in conn.notifies(timeout=min(1.0, remaining), stop_after=1):
                pass


def _changed(a: JobView, b: JobView) -> bool:
    return (a.state, a.phase, a.done, a.total, a.current_step, len(a.sources), len(a.metrics)) != (
        b.state,
        b.phase,
        b.done,
        b.total,
        b.current_step,
        len(b.sources),
        len(b.metrics),
    )
