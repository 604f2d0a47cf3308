"""Cron arithmetic shared by the scheduler (when a schedule is due) and the runner (when a source is due).

Expressions are read in the office's timezone (HEARTBEAT_TIMEZONE); moments go in and come out as aware
datetimes in the caller's zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from croniter import croniter


def last_tick(expression: str, now: datetime, tz: tzinfo) -> datetime:
    """The latest tick of `expression` at or before `now` (in the office's timezone), in `now`'s zone."""
    local = now.astimezone(tz) + timedelta(microseconds=1)
    prev: datetime = croniter(expression, local).get_prev(datetime)
    return prev.astimezone(now.tzinfo or tz)


def next_tick(expression: str, now: datetime, tz: tzinfo) -> datetime:
    """The first tick of `expression` after `now`, in `now`'s zone."""
    nxt: datetime = croniter(expression, now.astimezone(tz)).get_next(datetime)
    return nxt.astimezone(now.tzinfo or tz)
