"""Refresh audit snapshots: sync the registry from disk, then run every (cut × window) read-only.

Each computation runs on its own pooled connection inside a READ ONLY transaction with a statement
timeout and `heartbeat.as_of()` set to the clock's now. Its payload is validated for the cut's kind and
stored as the snapshot; a failing cut keeps its last good payload and records the error beside it.
Called by `heartbeat audit refresh`, `POST /api/audit/cuts/{id}/refresh` and the scheduler's daily hook.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors

from heartbeat_core import clock
from heartbeat_core.audit.discovery import Cut, Problem
from heartbeat_core.audit.payloads import PayloadError, validate_payload
from heartbeat_core.audit.registry import CutSyncReport, UnknownCut, cuts_directory, load_cuts, sync_cuts
from heartbeat_core.db import connect, get_pool
from heartbeat_core.formatting import counted
from heartbeat_core.settings import get_settings


@dataclass
class CutOutcome:
    cut_id: str
    window: str
    error: str | None = None
    duration_ms: int = 0
    takeaway: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_json(self) -> dict[str, Any]:
        return {
            "cut_id": self.cut_id,
            "window": self.window,
            "ok": self.ok,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "takeaway": self.takeaway,
        }


@dataclass
class RefreshReport:
    outcomes: list[CutOutcome] = field(default_factory=list)
    sync: CutSyncReport | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> list[CutOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def problems(self) -> list[Problem]:
        return self.sync.problems if self.sync else []

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "computed": len(self.outcomes) - len(self.failed),
            "failed": len(self.failed),
            "outcomes": [o.as_json() for o in self.outcomes],
            "problems": [str(p) for p in self.problems],
        }


def _describe(exc: BaseException, cut: Cut, timeout_s: float) -> str:
    if isinstance(exc, errors.QueryCanceled):
        return f"timed out after {timeout_s:g} s (statement timeout)"
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return "tries to write: audit cuts run in a read-only transaction"
    if isinstance(exc, PayloadError):
        return str(exc)
    if isinstance(exc, psycopg.Error):
        text = (exc.diag.message_primary if exc.diag else None) or str(exc)
        message = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    else:
        message = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".rstrip(
                ": "
            )
        )
    # Point at the line of the cut module where it failed.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == cut.path]
    where = f" ({cut.path.name}:{frames[-1].lineno})" if frames else ""
    return f"{message}{where}"


def compute_cut(
    conn: psycopg.Connection[Any], cut: Cut, window: str, *, timeout_s: float | None = None
) -> dict[str, Any]:
    """Run one cut for one window on `conn`, read-only, and return its validated payload (or raise)."""
    settings = get_settings()
    timeout = settings.metric_statement_timeout_s if timeout_s is None else timeout_s
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('heartbeat.as_of', %s, true),"
            " set_config('TimeZone', %s, true)",
            (f"{max(int(timeout * 1000), 1)}", clock.now().isoformat(), settings.timezone),
        )
        payload = cut.compute(conn, window=window)
    return validate_payload(cut.meta.kind, payload)


def _store(conn: psycopg.Connection[Any], outcome: CutOutcome, payload: dict[str, Any] | None) -> None:
    now = clock.now()
    with conn.transaction():
        if payload is not None:
            conn.execute(
                """INSERT INTO heartbeat.audit_cut_snapshot
                       (cut_id, window_key, payload, computed_at, duration_ms, attempted_at, error, error_at)
                   VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)
                   ON CONFLICT (cut_id, window_key) DO UPDATE SET payload = excluded.payload,
                       computed_at = excluded.computed_at, duration_ms = excluded.duration_ms,
                       attempted_at = excluded.attempted_at, error = NULL, error_at = NULL""",
                (outcome.cut_id, outcome.window, json.dumps(payload), now, outcome.duration_ms, now),
            )
        else:
            conn.execute(
                """INSERT INTO heartbeat.audit_cut_snapshot
                       (cut_id, window_key, payload, computed_at, duration_ms, attempted_at, error, error_at)
                   VALUES (%s, %s, NULL, NULL, %s, %s, %s, %s)
                   ON CONFLICT (cut_id, window_key) DO UPDATE SET duration_ms = excluded.duration_ms,
                       attempted_at = excluded.attempted_at, error = excluded.error, error_at = excluded.error_at""",
                (outcome.cut_id, outcome.window, outcome.duration_ms, now, outcome.error, now),
            )


# Audit cuts are Python modules handed a Postgres connection to the marts; in warehouse mode the marts live in
# the engine, so a cut would read tables that are absent (or a stale copy): it is not run, and says so.
NOT_IN_WAREHOUSE_MODE = (
    "not run in warehouse mode: audit cuts are Python over the Postgres marts (a psycopg connection), and the "
    "marts live in the warehouse engine ({engine}); the last good snapshot is kept (docs/scale-out.md)"
)


def _engine_label(url: str) -> str:
    from heartbeat_core.warehouse.config import WarehouseError, parse_url

    try:
        return parse_url(url).label
    except WarehouseError:
        return url.split(":", 1)[0]


def _run_one(cut: Cut, window: str, timeout_s: float | None) -> CutOutcome:
    outcome = CutOutcome(cut.cut_id, window)
    settings = get_settings()
    timeout = settings.metric_statement_timeout_s if timeout_s is None else timeout_s
    payload: dict[str, Any] | None = None
    with get_pool().connection() as conn:
        started = time.perf_counter()
        if settings.warehouse_url:
            outcome.error = NOT_IN_WAREHOUSE_MODE.format(engine=_engine_label(settings.warehouse_url))
            _store(conn, outcome, None)
            return outcome
        try:
            payload = compute_cut(conn, cut, window, timeout_s=timeout)
            outcome.takeaway = payload.get("takeaway")
        except Exception as exc:
            outcome.error = _describe(exc, cut, timeout)
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()
        outcome.duration_ms = int((time.perf_counter() - started) * 1000)
        _store(conn, outcome, payload)
    return outcome


def refresh_cuts(
    cut_ids: Sequence[str] | None = None,
    windows: Sequence[str] | None = None,
    *,
    directory: Path | None = None,
    parallelism: int | None = None,
    timeout_s: float | None = None,
    on_outcome: Callable[[CutOutcome], None] | None = None,
) -> RefreshReport:
    """Sync the registry from disk, then recompute the snapshots of `cut_ids` (default: every active cut)
    for `windows` (default: each cut's windows). Raises `UnknownCut` for an id that is not a loaded cut."""
    started = time.perf_counter()
    report = RefreshReport()
    directory = directory or cuts_directory()
    with connect() as conn:
        report.sync = sync_cuts(conn, directory)
        conn.commit()
        found = load_cuts(directory).by_id()
        if cut_ids:
            for cut_id in cut_ids:
                if cut_id not in found:
                    raise UnknownCut(cut_id, sorted(found))
        selected = [found[c] for c in (cut_ids or sorted(found))]
        # Windows a cut no longer offers have no snapshot to keep.
        for cut in selected:
            conn.execute(
                "DELETE FROM heartbeat.audit_cut_snapshot WHERE cut_id = %s AND NOT (window_key = ANY(%s))",
                (cut.cut_id, list(cut.meta.windows)),
            )
        conn.commit()
    tasks = [
        (cut, window)
        for cut in selected
        for window in cut.meta.ordered_windows
        if windows is None or window in windows
    ]
    workers = max(1, min(parallelism or get_settings().compute_parallelism, len(tasks) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit") as pool:
        for outcome in pool.map(lambda t: _run_one(t[0], t[1], timeout_s), tasks):
            report.outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    report.seconds = time.perf_counter() - started
    return report


class AuditRefreshFailed(RuntimeError):
    """Some snapshots failed (they kept their last good payload); the message lists them."""


def scheduled_refresh() -> RefreshReport:
    """The scheduler's daily audit refresh (04:45 by default): every cut, every window. Raises
    `AuditRefreshFailed` after refreshing everything else when some failed, so the scheduler records it."""
    report = refresh_cuts()
    if not report.ok:
        failed = [f"{o.cut_id}[{o.window}]: {o.error}" for o in report.failed[:5]]
        failed += [str(p) for p in report.problems[:3]]
        raise AuditRefreshFailed(
            f"{len(report.failed)} of {counted(len(report.outcomes), 'audit snapshot')} failed, "
            f"{counted(len(report.problems), 'broken cut file')}: " + "; ".join(failed)
        )
    return report
