"""The one `now()` seam: freshness, scheduling and as-of dates read time only through here.

Tests freeze or move the clock with `frozen_clock(...)` instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware (UTC)."""
    return _source()


def set_clock(source: Callable[[], datetime]) -> None:
    global _source
    _source = source


@contextmanager
def frozen_clock(at: datetime) -> Iterator[list[datetime]]:
    """Freeze time at `at`; the yielded one-item list can be changed to move the clock."""
    global _source
    if at.tzinfo is None:
        raise ValueError("frozen_clock needs a timezone-aware datetime")
    cell = [at]
    previous = _source
    _source = lambda: cell[0]  # noqa: E731
    try:
        yield cell
    finally:
        _source = previous


def business_day(moment: datetime, tz: tzinfo) -> date:
    """The office's calendar day for `moment`: names a metric_history row."""
    return moment.astimezone(tz).date()


def end_of_business_day(day: date, tz: tzinfo) -> datetime:
    """The exclusive upper bound of `day` in the office's timezone: the as-of moment of a past day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
