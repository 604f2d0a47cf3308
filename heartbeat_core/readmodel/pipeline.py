"""Is the pipeline moving? The stalled-pipeline verdict, decided once for every surface.

The rule: the pipeline is stalled when nothing has run successfully for more than twice the interval of
the recompute schedule (`HEARTBEAT_SCHEDULE_RECOMPUTE`), while there are metrics to compute. "Ran
successfully" is the newest of a recompute job that ended `succeeded` or `partial` (a partial job ran: only
some metrics failed, and those carry their errors on their own tiles) and of any metric's `computed_at` (a
`heartbeat compute` from cron writes values without a job). A schedule that cannot be parsed (or is turned
off) never declares a stall: there is no promise to miss.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from croniter import croniter
from pydantic import BaseModel

from heartbeat_core.formatting import format_duration
from heartbeat_core.jobs.ledger import JobState

# The ledger states in which a job did its work; `failed` and `abandoned` did not.
RAN_STATES: tuple[JobState, ...] = ("succeeded", "partial")
STALL_FACTOR = 2  # missed runs tolerated before "stalled": one late run is not news
_KEYWORDS = {"hourly": 3600.0, "daily": 86400.0}


class PipelineHealth(BaseModel):
    """The stalled-pipeline verdict with what it was decided from, and one line for people."""

    stalled: bool = False
    last_success_at: datetime | None = None
    schedule_interval_s: float | None = None
    stalled_for_s: float | None = None
    reason: str = "no recompute schedule to judge against"


def schedule_interval_s(expr: str, base: datetime) -> float | None:
    """Seconds between two runs of a schedule (`hourly`, `daily` or a cron expression) after `base`;
    None when it cannot be parsed (an empty or disabled schedule)."""
    if expr.strip().lower() in _KEYWORDS:
        return _KEYWORDS[expr.strip().lower()]
    try:
        it = croniter(expr, base)
        first = it.get_next(datetime)
        second = it.get_next(datetime)
    except Exception:  # croniter raises several unrelated types for a bad expression
        return None
    return float((second - first).total_seconds())


def last_successful_job(conn: psycopg.Connection[Any]) -> datetime | None:
    """When the newest job that ran (succeeded or partial) finished; None before the ledger has one."""
    exists = conn.execute("SELECT to_regclass('heartbeat.recompute_job') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(
        "SELECT finished_at FROM heartbeat.recompute_job WHERE state = ANY(%s) AND finished_at IS NOT NULL"
        " ORDER BY job_id DESC LIMIT 1",
        (list(RAN_STATES),),
    ).fetchone()
    return row[0] if row else None


def judge_pipeline(
    schedule: str,
    now: datetime,
    *,
    computed: Sequence[datetime | None],
    job_finished_at: datetime | None,
) -> PipelineHealth:
    """The verdict from the schedule, the clock, the metrics' `computed_at` and the last job that ran.

    Pure: `computed` holds one entry per active metric (an empty list means nothing to compute, never
    stalled)."""
    interval = schedule_interval_s(schedule, now)
    moments = [m for m in (*computed, job_finished_at) if m is not None]
    last = max(moments) if moments else None
    if interval is None:
        return PipelineHealth(last_success_at=last)
    every = format_duration(interval)
    if not computed:
        return PipelineHealth(
            last_success_at=last,
            schedule_interval_s=interval,
            reason=f"no metrics to compute (every {every})",
        )
    age = None if last is None else max((now - last).total_seconds(), 0.0)
    if age is not None and age <= STALL_FACTOR * interval:
        return PipelineHealth(
            last_success_at=last,
            schedule_interval_s=interval,
            reason=f"last successful run {format_duration(age)} ago (scheduled every {every})",
        )
    reason = (
        "no successful compute yet"
        if age is None
        else f"no successful compute for {format_duration(age)} (scheduled every {every})"
    )
    return PipelineHealth(
        stalled=True, last_success_at=last, schedule_interval_s=interval, stalled_for_s=age, reason=reason
    )
