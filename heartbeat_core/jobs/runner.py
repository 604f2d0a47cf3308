"""The one refresh path: `request_recompute` → ingest (serial) → compute (parallel) → typical → alerts.

Single-flight across processes: the worker holds a session-level advisory lock on a dedicated connection for
the whole job; the check-and-insert of the ledger row happens under a transaction-level "gate" lock, so two
requests at once make exactly one job. A partial unique index on the ledger backs this up.

The two steps a job delegates, landing a source and the alert phase, are wired here by name
(`heartbeat_core.ingest.run_one`, `heartbeat_core.alerts.evaluate_and_deliver`); a test that needs a source
that blocks or an alert phase that fails passes its own `JobSteps` to `request_recompute`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal, cast

import psycopg

from heartbeat_core import clock
from heartbeat_core.alerts import evaluate_and_deliver
from heartbeat_core.db import connect, get_pool
from heartbeat_core.formatting import counted, format_clock
from heartbeat_core.jobs.cron import last_tick
from heartbeat_core.jobs.ledger import (
    GATE_LOCK,
    JOB_LOCK,
    JOB_PHASES,
    LOCK_NS,
    JobPhase,
    mark_abandoned,
    read_job,
    wait_for_job,
)
from heartbeat_core.metrics.registry import RegistryMetric, active_metrics
from heartbeat_core.settings import get_settings

if TYPE_CHECKING:
    from heartbeat_core.ingest import SourceResult

log = logging.getLogger("heartbeat.jobs")

HEARTBEAT_INTERVAL_S = 10.0

IngestStep = Callable[[str], "SourceResult"]
AlertStep = Callable[[psycopg.Connection[Any], int], object]


def land_source(source: str) -> SourceResult:
    """Land one source (`heartbeat_core.ingest.run_one`, imported on first use: dlt takes seconds to import,
    and most processes that import the jobs never ingest)."""
    from heartbeat_core.ingest import run_one

    return run_one(source)


@dataclass(frozen=True)
class JobSteps:
    """What a job runs to land one source and for its alert phase (a failure of either is recorded, never fatal)."""

    ingest: IngestStep = land_source
    alerts: AlertStep = evaluate_and_deliver


def checked_phase(phase: str) -> JobPhase:
    """The ledger's phase column has no CHECK (migration 0006): the runner validates every phase it writes."""
    if phase not in JOB_PHASES:
        raise ValueError(f"unknown job phase {phase!r}; expected one of {', '.join(JOB_PHASES)}")
    return cast(JobPhase, phase)


@dataclass
class JobTicket:
    job_id: int
    coalesced: bool
    state: str

    def as_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "coalesced": self.coalesced, "state": self.state}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------------------
# Requesting a job


def _resolve_ids(metric_ids: Sequence[str] | Literal["all"] | None) -> list[str] | None:
    if metric_ids is None or metric_ids == "all":
        return None
    ids = [metric_ids] if isinstance(metric_ids, str) else list(metric_ids)
    ids = sorted(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        return None
    with get_pool().connection() as conn:
        active_metrics(conn, ids)  # raises UnknownMetric naming the closest ids
    return ids


def request_recompute(
    metric_ids: Sequence[str] | Literal["all"] = "all",
    *,
    trigger: str = "api",
    ingest: bool = True,
    requested_by: str | None = None,
    wait: bool = False,
    background: bool = True,
    only_due_sources: bool = False,
    steps: JobSteps | None = None,
) -> JobTicket:
    """Start (or join) the one recompute job: ingest the metrics' sources, compute, refresh typical, alert.

    background=True runs the job in a daemon thread of this process (web, MCP); background=False runs it in
    the calling thread and returns when it is done (CLI, cron, scheduler). A request while a job runs returns
    that job with coalesced=True (with wait=True, after it ends). Unknown ids raise UnknownMetric first.
    only_due_sources=True (the scheduler's hourly job) skips sources whose `schedule` in sources.toml is not
    due yet (a daily source lands once a business day); explicit requests ingest every source they touch.
    `steps` replaces how sources are landed and alerts run (tests); by default the real ones.
    """
    ids = _resolve_ids(metric_ids)
    request: dict[str, Any] = {
        "ids": ids if ids is not None else "all",
        "ingest": bool(ingest),
        "compute": True,
        "typical": "due",
    }
    if only_due_sources:
        request["only_due_sources"] = True
    return submit(
        request, trigger=trigger, requested_by=requested_by, wait=wait, background=background, steps=steps
    )


def request_typical_refresh(
    metric_ids: Sequence[str] | Literal["all"] = "all",
    *,
    trigger: str = "schedule",
    requested_by: str | None = None,
    wait: bool = False,
    background: bool = False,
) -> JobTicket:
    """A job that only refreshes the rolling typical bands (and re-scores today), through the same path."""
    ids = _resolve_ids(metric_ids)
    request = {
        "ids": ids if ids is not None else "all",
        "ingest": False,
        "compute": False,
        "typical": "force",
    }
    return submit(request, trigger=trigger, requested_by=requested_by, wait=wait, background=background)


def submit(
    request: dict[str, Any],
    *,
    trigger: str,
    requested_by: str | None = None,
    wait: bool = False,
    background: bool = True,
    steps: JobSteps | None = None,
) -> JobTicket:
    """Claim the job (or join the running one) and run it here or in a daemon thread."""
    conn = connect(autocommit=True, application_name=f"heartbeat-job-{trigger}"[:63])
    owned = False
    try:
        claim = _claim(conn, request, trigger, requested_by)
        if claim[0] == "coalesced":
            _, job_id, state = claim
            conn.close()
            if wait:
                state = wait_for_job(job_id).state
            return JobTicket(job_id, True, state)
        job_id = claim[1]
        owned = True
    finally:
        if not owned:
            conn.close()

    worker = _Worker(conn, job_id, request, steps or JobSteps())
    if background:
        thread = threading.Thread(target=worker.run, name=f"recompute-{job_id}", daemon=True)
        thread.start()
        if wait:
            thread.join()
            return JobTicket(job_id, False, worker.state)
        return JobTicket(job_id, False, "queued")
    worker.run()
    return JobTicket(job_id, False, worker.state)


def _claim(
    conn: psycopg.Connection[Any], request: dict[str, Any], trigger: str, requested_by: str | None
) -> tuple[str, int, str]:
    """Under the gate lock: join the running job, or reap an orphan and insert ours holding the job lock."""
    for attempt in range(100):
        got = False
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NS, GATE_LOCK))
                row = conn.execute(
                    "SELECT job_id, state, pid, host FROM heartbeat.recompute_job"
                    " WHERE state IN ('queued', 'running') ORDER BY job_id DESC LIMIT 1"
                ).fetchone()
                locked = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NS, JOB_LOCK)).fetchone()
                got = bool(locked and locked[0])
                if row is not None and not got:
                    return ("coalesced", int(row[0]), str(row[1]))
                if row is None and not got:
                    # Someone holds the job lock without a ledger row: only possible for a moment outside
                    # our protocol; wait for it rather than run two jobs.
                    pass
                else:
                    if row is not None:
                        mark_abandoned(
                            conn,
                            int(row[0]),
                            f"the worker (pid {row[2]} on {row[3]}) died; job abandoned when a new one was requested",
                        )
                    new = conn.execute(
                        """INSERT INTO heartbeat.recompute_job (trigger, requested_by, request, state, phase,
                               created_at, heartbeat_at, pid, host)
                           VALUES (%s, %s, %s, 'queued', %s, %s, %s, %s, %s) RETURNING job_id""",
                        (
                            trigger,
                            requested_by,
                            json.dumps(request),
                            checked_phase("ingest"),
                            clock.now(),
                            clock.now(),
                            os.getpid(),
                            socket.gethostname(),
                        ),
                    ).fetchone()
                    assert new is not None
                    return ("owned", int(new[0]), "queued")
        except BaseException:
            if got:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NS, JOB_LOCK))
            raise
        time.sleep(min(0.01 * (attempt + 1), 0.2))
    raise RuntimeError("the recompute lock is held by a session that has no job in the ledger")


# ---------------------------------------------------------------------------------------------------------
# Running a job


class _Worker:
    def __init__(self, conn: psycopg.Connection[Any], job_id: int, request: dict[str, Any], steps: JobSteps):
        self.conn = conn
        self.job_id = job_id
        self.request = request
        self.steps = steps
        self.state = "queued"
        self.sources: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._db = threading.Lock()
        self._stop = threading.Event()

    # -- ledger writes (all on the lock connection, serialised) --

    def _update(self, sql: str, params: dict[str, Any], phase: JobPhase | None = None) -> None:
        if phase is not None:
            sql, params = f"phase = %(phase)s, {sql}", {**params, "phase": checked_phase(phase)}
        with self._db:
            self.conn.execute(
                f"UPDATE heartbeat.recompute_job SET {sql}, heartbeat_at = %(now)s WHERE job_id = %(job_id)s",
                {**params, "now": clock.now(), "job_id": self.job_id},
            )

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                self._update("state = state", {})
            except Exception:  # the finishing path reports connection problems
                return

    # -- phases --

    def run(self) -> None:
        beat = threading.Thread(target=self._beat, name=f"recompute-{self.job_id}-beat", daemon=True)
        state, error = "failed", None
        try:
            self.state = "running"
            self._update("state = 'running', started_at = %(now)s", {})
            beat.start()
            state = self._run_phases()
        except BaseException as exc:
            error = _one_line(exc)
            log.exception("recompute job %s failed", self.job_id)
            state = "failed"
            if not isinstance(exc, Exception):
                raise
        finally:
            self._stop.set()
            self.state = state
            self._finish(state, error)

    def _run_phases(self) -> str:
        ids = self.request.get("ids")
        ids = None if ids == "all" else list(ids or []) or None
        with get_pool().connection() as conn:
            metrics = _still_active(conn, ids)
        metric_ids = [m.metric_id for m in metrics]
        sources = sorted({s for m in metrics for s in m.sources}) if self.request.get("ingest") else []
        do_compute = bool(self.request.get("compute", True))
        total = len(sources) + (len(metric_ids) if do_compute else 0)
        self._update("total = %(total)s", {"total": total})

        # 1. ingest, serially: a failed source is recorded and the job goes on with landed data.
        not_due = _sources_not_due(sources) if self.request.get("only_due_sources") else {}
        for source in sources:
            if source in not_due:
                self._skip_source(source, not_due[source])
            else:
                self._ingest_one(source)

        # 2. compute, parallel and bounded: each metric fails alone.
        if do_compute and metric_ids:
            self._update("current_step = %(step)s", {"step": f"{len(metric_ids)} metrics"}, phase="compute")
            from heartbeat_core.compute.engine import compute_metrics

            compute_metrics(metric_ids, job_id=self.job_id, on_outcome=self._on_outcome)

        # 3. typical, when due (or forced by a typical-refresh job).
        typical_mode = self.request.get("typical", "due")
        if typical_mode != "skip":
            self._typical(metric_ids, force=typical_mode == "force")

        # 4. incidents (their stored history), audit cuts older than their sources, then alerts.
        self._incidents()
        self._audit_cuts()
        self._alerts()

        failed_sources = [s for s in self.sources if s["state"] == "failed"]
        failed_metrics = [m for m in self.metrics if m["state"] == "failed"]
        failed_hooks = [h for h in self.hooks if h["state"] == "failed"]
        if do_compute and self.metrics and len(failed_metrics) == len(self.metrics):
            self.errors.append("every metric failed")
            return "failed"
        if failed_sources:
            self.errors.append(
                f"{counted(len(failed_sources), 'source')} failed: "
                + ", ".join(s["source"] for s in failed_sources)
            )
        if failed_metrics:
            self.errors.append(f"{counted(len(failed_metrics), 'metric')} failed")
        if failed_hooks:
            self.errors.append(f"{counted(len(failed_hooks), 'alert hook')} failed")
        if self.errors:
            return "partial"
        return "succeeded"

    def _ingest_one(self, source: str) -> None:
        entry: dict[str, Any] = {
            "source": source,
            "state": "running",
            "rows": None,
            "seconds": None,
            "error": None,
        }
        self.sources.append(entry)
        self._update(
            "current_step = %(step)s, sources = %(sources)s",
            {"step": f"ingest {source}", "sources": json.dumps(self.sources)},
            phase="ingest",
        )
        started = time.perf_counter()
        try:
            result = self.steps.ingest(source)
            if result.error or not result.ok:
                entry["state"], entry["error"] = "failed", result.error or "ingest reported failure"
            else:
                entry["state"] = "skipped" if result.skipped else "succeeded"
            entry["rows"] = result.rows
        except Exception as exc:
            entry["state"], entry["error"] = "failed", _one_line(exc)
            log.warning("ingest of %s failed in job %s: %s", source, self.job_id, entry["error"])
        if entry["state"] == "succeeded":
            landed = {t.name: t.rows for t in result.tables if t.error is None}
            entry["tests"] = self._data_tests(source, landed)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        self._update("done = done + 1, sources = %(sources)s", {"sources": json.dumps(self.sources)})

    def _data_tests(self, source: str, landed: dict[str, int]) -> dict[str, Any]:
        """The source's data tests, right after it landed, on the rows landed since their last run where
        they allow it (issue 18); they never fail the job. In warehouse mode they run on the engine the source
        landed in (`warehouse.datatests`), over whole tables."""
        try:
            from heartbeat_core.datatests import run_source_tests

            with get_pool().connection() as conn:
                started = time.perf_counter()
                results = run_source_tests(conn, source, job_id=self.job_id, landed=landed)
        except Exception as exc:  # a missing project or a bad sources.toml: the ingest step reported it
            log.warning("data tests of %s did not run in job %s: %s", source, self.job_id, _one_line(exc))
            return {"error": _one_line(exc)}
        return {
            "total": len(results),
            "failed": sum(r.status == "fail" for r in results),
            "errors": sum(r.status == "error" for r in results),
            "incremental": sum(r.mode == "incremental" for r in results),
            "seconds": round(time.perf_counter() - started, 3),
        }

    def _skip_source(self, source: str, note: str) -> None:
        self.sources.append(
            {"source": source, "state": "skipped", "rows": None, "seconds": 0.0, "error": None, "note": note}
        )
        self._update("done = done + 1, sources = %(sources)s", {"sources": json.dumps(self.sources)})

    def _on_outcome(self, outcome: Any) -> None:
        entry = {
            "metric_id": outcome.metric_id,
            "state": "failed" if outcome.error else "succeeded",
            "status": outcome.status,
            "error": outcome.error,
        }
        self.metrics.append(entry)
        self._update(
            "done = done + 1, current_step = %(step)s, metrics = metrics || %(entry)s::jsonb",
            {"step": f"computed {outcome.metric_id}", "entry": json.dumps([entry])},
        )

    def _typical(self, metric_ids: list[str], *, force: bool) -> None:
        from heartbeat_core.readmodel import typical

        try:
            with get_pool().connection() as conn:
                if not force and not typical.typical_due(conn, metric_ids or None):
                    return
                self._update("current_step = 'typical refresh'", {}, phase="typical")
                typical.refresh_typical(conn, metric_ids or None, rescore_today=True)
                conn.commit()
        except Exception as exc:
            self.hooks.append(
                {"name": "typical", "state": "failed", "seconds": None, "error": _one_line(exc)}
            )
            log.warning("typical refresh failed in job %s: %s", self.job_id, _one_line(exc))

    def _incidents(self) -> None:
        from heartbeat_core.readmodel.incident_history import refresh_incidents

        try:
            with get_pool().connection() as conn:
                refresh_incidents(conn)
                conn.commit()
        except Exception as exc:
            self.hooks.append(
                {"name": "incidents", "state": "failed", "seconds": None, "error": _one_line(exc)}
            )
            log.warning("incident refresh failed in job %s: %s", self.job_id, _one_line(exc))

    def _audit_cuts(self) -> None:
        """Recompute the audit cuts whose sources landed after their snapshot, so a cut never says "nothing
        stuck" beside a red it explains (issue 14); a failure is recorded, and the surfaces mark the cut out of
        date until a refresh succeeds."""
        from heartbeat_core.audit.currency import refresh_out_of_date

        started = time.perf_counter()
        try:
            with get_pool().connection() as conn:
                refreshed = refresh_out_of_date(conn)
        except Exception as exc:
            self.hooks.append(
                {"name": "audit cuts", "state": "failed", "seconds": None, "error": _one_line(exc)}
            )
            log.warning("audit cut refresh failed in job %s: %s", self.job_id, _one_line(exc))
            return
        if refreshed:
            seconds = round(time.perf_counter() - started, 3)
            self.hooks.append({"name": "audit cuts", "state": "succeeded", "seconds": seconds, "error": None,
                               "cuts": refreshed})  # fmt: skip

    def _alerts(self) -> None:
        step = self.steps.alerts
        name = f"{step.__module__}.{step.__qualname__}"
        self._update("current_step = 'alert evaluation'", {}, phase="alerts")
        started = time.perf_counter()
        entry: dict[str, Any] = {"name": name, "state": "succeeded", "seconds": None, "error": None}
        try:
            with get_pool().connection() as conn:
                step(conn, self.job_id)
                conn.commit()
        except Exception as exc:
            entry["state"], entry["error"] = "failed", _one_line(exc)
            log.warning("alert phase %s failed in job %s: %s", name, self.job_id, entry["error"])
        entry["seconds"] = round(time.perf_counter() - started, 3)
        self.hooks.append(entry)
        self._update("hooks = %(hooks)s", {"hooks": json.dumps(self.hooks)})

    def _finish(self, state: str, error: str | None) -> None:
        message = "; ".join([*([error] if error else []), *self.errors]) or None
        try:
            with self._db, self.conn.transaction():
                # Under the gate, update then release the job lock: requesters see either a running job
                # holding the lock or a finished one with the lock free, never a mix.
                self.conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NS, GATE_LOCK))
                self.conn.execute(
                    """UPDATE heartbeat.recompute_job
                       SET state = %(state)s, phase = %(phase)s, finished_at = %(now)s, heartbeat_at = %(now)s,
                           current_step = NULL, error = %(error)s, hooks = %(hooks)s,
                           sources = %(sources)s, started_at = coalesce(started_at, %(now)s)
                       WHERE job_id = %(job_id)s""",
                    {
                        "state": state,
                        "phase": checked_phase("done"),
                        "now": clock.now(),
                        "error": message,
                        "hooks": json.dumps(self.hooks),
                        "sources": json.dumps(self.sources),
                        "job_id": self.job_id,
                    },
                )
                self.conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NS, JOB_LOCK))
        except Exception:
            log.exception("could not record the end of recompute job %s", self.job_id)
        finally:
            self.conn.close()


def source_due(schedule: str, last_success: datetime | None, now: datetime, tz: tzinfo) -> bool:
    """Whether a source with this `schedule` (hourly | daily | cron) should land now, given its last success."""
    if last_success is None or schedule == "hourly":
        return True
    expression = "0 0 * * *" if schedule == "daily" else schedule
    try:
        return last_success < last_tick(expression, now, tz)
    except (ValueError, KeyError):  # an expression croniter rejects: land rather than go stale
        return True


def _sources_not_due(sources: list[str]) -> dict[str, str]:
    """Sources whose schedule is not due, with a one-line note; any doubt means "due"."""
    try:
        from heartbeat_core.ingest import load_sources

        config = load_sources()
    except Exception:
        return {}
    settings = get_settings()
    now = clock.now()
    with get_pool().connection() as conn:
        last: dict[str, datetime | None] = dict(
            conn.execute(
                "SELECT source, last_success_at FROM heartbeat.source_state WHERE source = ANY(%s)",
                (sources,),
            ).fetchall()
        )
    out = {}
    for name in sources:
        spec = config.get(name)
        note = not_due_note(spec.schedule if spec is not None else "hourly", last.get(name), now, settings.tz)
        if note is not None:
            out[name] = note
    return out


def not_due_note(schedule: str, landed: datetime | None, now: datetime, tz: tzinfo) -> str | None:
    """Why a source is skipped, or None when it is due: `not due: schedule daily, landed 01:12 UTC`. The
    note is kept with the job and read later, so the moment has no age (`format_clock`)."""
    if landed is None or source_due(schedule, landed, now, tz):
        return None
    return f"not due: schedule {schedule}, landed {format_clock(landed, now, tz)}"


def _still_active(conn: psycopg.Connection[Any], ids: list[str] | None) -> list[RegistryMetric]:
    """The requested metrics that are still active (one retired since the request is skipped, not fatal)."""
    metrics = active_metrics(conn, None)
    if ids is None:
        return metrics
    wanted = set(ids)
    return [m for m in metrics if m.metric_id in wanted]


def job_state(job_id: int) -> str | None:
    with get_pool().connection() as conn:
        view = read_job(conn, job_id)
    return view.state if view else None
