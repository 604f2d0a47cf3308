"""The in-process scheduler that `heartbeat serve` runs: hourly recompute, daily typical and audit refresh.

    scheduler = Scheduler(get_settings()).start()   # ... scheduler.stop()

Cron expressions come from settings (HEARTBEAT_SCHEDULE_RECOMPUTE / _TYPICAL / _AUDIT; "off" disables one)
and are read in the office's timezone (HEARTBEAT_TIMEZONE). The last tick each schedule ran for lives in
`heartbeat.schedule_state`, claimed atomically: a tick missed while the server was down runs once at start (not
once per missed tick), and two servers never run the same tick. Recompute and typical refresh go through
the single-flight job, so the scheduler never runs two jobs at once.

Between jobs it also sends the alert outbox's due retries (a 429's `Retry-After`, a 5xx's backoff): when a
channel's head row is due, `tick` runs one `heartbeat_core.alerts.deliver()` pass, and the loop wakes for the
earliest due row. The outbox's claims (a per-channel advisory lock, then the row) keep that pass and a job's
alert phase from sending a row twice. A failing delivery is logged, redacted, and backed off; it never stops
the schedules. The loop only calls `tick(now)` and `next_wake(now)`, which tests drive with a frozen clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from psycopg.rows import dict_row

from heartbeat_core import alerts, clock
from heartbeat_core.audit import scheduled_refresh
from heartbeat_core.db import get_pool
from heartbeat_core.jobs.cron import last_tick, next_tick
from heartbeat_core.jobs.ledger import wait_for_job
from heartbeat_core.jobs.runner import request_recompute, request_typical_refresh
from heartbeat_core.redaction import redact
from heartbeat_core.settings import Settings, SettingsError, get_settings

log = logging.getLogger("heartbeat.scheduler")

DISABLED = ("", "off", "none", "disabled", "never")
MAX_SLEEP_S = 60.0
OUTBOX_MIN_SLEEP_S = 1.0  # a due row another deliverer holds in flight: look again this soon, not in a spin
OUTBOX = "outbox"  # the name `tick` reports for a delivery pass

__all__ = ["Schedule", "Scheduler", "default_schedules", "last_tick", "next_tick", "run_audit_refresh"]


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def run_audit_refresh() -> list[str]:
    """The daily audit refresh (`heartbeat_core.audit.scheduled_refresh`); its failure as one-line messages."""
    try:
        scheduled_refresh()
    except Exception as exc:
        log.exception("the audit refresh failed")
        return [f"scheduled_refresh: {_one_line(exc)}"]
    return []


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str
    action: Callable[[], int | None]  # returns the job id it ran or joined, if any

    @property
    def enabled(self) -> bool:
        return self.expression.strip().lower() not in DISABLED


def _recompute() -> int | None:
    # A tick that arrives mid-job joins that job (coalesced) and is absorbed.
    return request_recompute("all", trigger="schedule", background=False, only_due_sources=True).job_id


def _typical() -> int | None:
    ticket = request_typical_refresh("all", trigger="schedule", background=False)
    if ticket.coalesced:  # a recompute was running: refresh the bands once it ends
        wait_for_job(ticket.job_id)
        ticket = request_typical_refresh("all", trigger="schedule", background=False)
    return ticket.job_id


def _audit() -> int | None:
    failures = run_audit_refresh()
    if failures:
        raise RuntimeError("; ".join(failures))
    return None


def default_schedules(settings: Settings) -> list[Schedule]:
    return [
        Schedule("recompute", settings.schedule_recompute, _recompute),
        Schedule("typical", settings.schedule_typical, _typical),
        Schedule("audit", settings.schedule_audit, _audit),
    ]


_ENV = {
    "recompute": "HEARTBEAT_SCHEDULE_RECOMPUTE",
    "typical": "HEARTBEAT_SCHEDULE_TYPICAL",
    "audit": "HEARTBEAT_SCHEDULE_AUDIT",
}


class Scheduler:
    def __init__(self, settings: Settings | None = None, *, schedules: list[Schedule] | None = None):
        self.settings = settings or get_settings()
        self.schedules = [s for s in (schedules or default_schedules(self.settings)) if s.enabled]
        for s in self.schedules:
            if not croniter.is_valid(s.expression):
                var = _ENV.get(s.name, f"schedule {s.name}")
                raise SettingsError(
                    f"{var}={s.expression!r}: expected a cron expression such as '17 * * * *'"
                )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._outbox_failures = 0
        self._outbox_held_until: datetime | None = None  # after a failed pass: back off until then

    # -- the testable core --

    def tick(self, now: datetime | None = None) -> list[str]:
        """Send the outbox's due rows, then run every schedule whose latest tick (≤ now) has not run yet;
        returns the names run (`outbox` for a delivery pass)."""
        moment = now or clock.now()
        ran = [OUTBOX] if self.deliver_due(moment) else []
        for schedule in self.schedules:
            due = last_tick(schedule.expression, moment, self.settings.tz)
            if not self._claim(schedule, due, moment):
                continue
            ran.append(schedule.name)
            job_id, error = None, None
            try:
                job_id = schedule.action()
            except Exception as exc:
                error = _one_line(exc)
                log.exception("scheduled %s failed", schedule.name)
            self._record(schedule, job_id, error)
        return ran

    def next_wake(self, now: datetime | None = None) -> datetime | None:
        """The next schedule tick or due outbox row after `now`, whichever is first."""
        moment = now or clock.now()
        ticks = [next_tick(s.expression, moment, self.settings.tz) for s in self.schedules]
        outbox = self._outbox_wake(moment)
        if outbox is not None:
            ticks.append(outbox)
        return min(ticks) if ticks else None

    def deliver_due(self, now: datetime) -> bool:
        """One outbox pass if a channel's head row is due at `now`; True if a pass ran. Never raises."""
        if self._outbox_held_until is not None and now < self._outbox_held_until:
            return False
        due = self._outbox_due(now)
        if due is None or due > now:
            return False
        try:
            report = alerts.deliver()
        except Exception as exc:
            self._outbox_failed(now, exc)
            return True
        self._outbox_failures, self._outbox_held_until = 0, None
        if report.sent or report.failed:
            log.info("outbox: sent %d, failed %d", len(report.sent), len(report.failed))
        return True

    def _outbox_due(self, now: datetime) -> datetime | None:
        """The outbox's next due row; None (and a backoff, as for a failed pass) when it cannot be read."""
        try:
            with get_pool().connection() as conn:
                return alerts.next_due(conn)
        except Exception as exc:
            self._outbox_failed(now, exc)
            return None

    def _outbox_failed(self, now: datetime, exc: Exception) -> None:
        self._outbox_failures += 1
        wait = min(MAX_SLEEP_S, 2.0**self._outbox_failures)
        self._outbox_held_until = now + timedelta(seconds=wait)
        log.warning("outbox delivery failed (next try in %.0f s): %s", wait, redact(_one_line(exc)))

    def _outbox_wake(self, now: datetime) -> datetime | None:
        """When the loop should wake for the outbox: its earliest due row, not sooner than a second from now
        (a due row may be in another deliverer's hands) nor than a failure's backoff."""
        due = self._outbox_due(now)
        if due is None:
            return None
        floor = now + timedelta(seconds=OUTBOX_MIN_SLEEP_S)
        return max(due, floor, self._outbox_held_until or floor)

    def _claim(self, schedule: Schedule, due: datetime, now: datetime) -> bool:
        """Atomically take `due` for this schedule; a schedule seen for the first time starts from `due`."""
        with get_pool().connection() as conn:
            inserted = conn.execute(
                """INSERT INTO heartbeat.schedule_state (name, expression, last_tick_at)
                   VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name""",
                (schedule.name, schedule.expression, due),
            ).fetchone()
            if inserted:
                conn.commit()
                return False
            claimed = conn.execute(
                """UPDATE heartbeat.schedule_state
                   SET last_tick_at = %s, last_started_at = %s, expression = %s
                   WHERE name = %s AND (last_tick_at IS NULL OR last_tick_at < %s) RETURNING name""",
                (due, now, schedule.expression, schedule.name, due),
            ).fetchone()
            conn.commit()
            return claimed is not None

    def _record(self, schedule: Schedule, job_id: int | None, error: str | None) -> None:
        self.last_error = error
        with get_pool().connection() as conn:
            conn.execute(
                """UPDATE heartbeat.schedule_state SET last_finished_at = %s, last_job_id = %s, last_error = %s
                   WHERE name = %s""",
                (clock.now(), job_id, error, schedule.name),
            )
            conn.commit()

    # -- the thread --

    def start(self) -> Scheduler:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="heartbeat-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.tick()
                failures = 0
            except Exception as exc:  # database down: retry with backoff, never die
                failures += 1
                self.last_error = _one_line(exc)
                log.warning("scheduler tick failed: %s", self.last_error)
            self._stop.wait(self._sleep_s(failures))

    def _sleep_s(self, failures: int) -> float:
        if failures:
            return min(MAX_SLEEP_S, 2.0**failures)
        moment = clock.now()
        wake = self.next_wake(moment)
        if wake is None:
            return MAX_SLEEP_S
        seconds = (wake - moment).total_seconds() + 0.05
        return max(0.05, min(MAX_SLEEP_S, seconds))


def schedule_states() -> list[dict[str, Any]]:
    """The scheduler's last runs, for status pages."""
    with get_pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM heartbeat.schedule_state ORDER BY name")
        return cur.fetchall()
