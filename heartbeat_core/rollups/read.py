"""How a metric reads a rollup: `rollups.<id>` in metric SQL is the rollup over the metric's window, exactly.

Metric files stay plain SQL (`FROM rollups.entry_client_day r`); at compute time each reference becomes

    the stored days that lie wholly inside [window_start, as_of)         -- closed days: the rollup table
    UNION ALL the rollup's own query over the window's partial days     -- still open (today) or cut by the
                                                                          -- window's start: raw rows

so a value computed mid-day reads today from raw rows, and a past day's value (as_of at the end of a business
day, the window whole days) reads only the table. `raw=True` gives the same window entirely from raw rows:
the reference the gate compares a rollup-reading metric against. Outside compute (psql) `rollups.<id>` is
simply the stored table, every day in it.

A rollup with a reach (`-- reach: N days`: a row of day d looks back at earlier days, e.g. a client's gap since
its previous active day) has no meaning for part of a day: its reference is the window's whole days and the
as-of's own day when still open (`whole_days_sql`) — from the table, or (`raw=True`) its own query over exactly
that span — and the metric reads the cut day and today's open part from raw rows itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from heartbeat_core.rollups.refresh import bind_range, day_start

_REF = re.compile(
    r"\brollups\s*\.\s*\"?([a-z][a-z0-9_]*)\"?(\s+(?:as\s+)?([a-z_][a-z0-9_]*))?",
    re.IGNORECASE,
)
_NOT_ALIASES = {
    "where", "join", "on", "left", "right", "inner", "full", "cross", "natural", "group", "order", "limit",
    "union", "except", "intersect", "having", "window", "offset", "fetch", "for", "using", "lateral", "tablesample",
}  # fmt: skip


def reads(sql: str | None) -> set[str]:
    """The rollup ids a metric's SQL reads."""
    return {m.group(1).lower() for m in _REF.finditer(sql or "")}


def _first_whole_day(window_start: datetime, tz: ZoneInfo) -> date:
    local = window_start.astimezone(tz)
    return local.date() if local == day_start(local.date(), tz) else local.date() + timedelta(days=1)


def whole_days(window_start: datetime, as_of: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The whole business days [first, end) inside [window_start, as_of) (first >= end: none)."""
    return _first_whole_day(window_start, tz), as_of.astimezone(tz).date()


def whole_days_sql(
    rollup_id: str, sql: str, window_start: datetime, as_of: datetime, tz: ZoneInfo, *, raw: bool = False
) -> str:
    """A rollup with a reach over the window's whole days and, when the as-of moment is not a midnight, the
    as-of's own day: stored as last refreshed (`raw=True`: its query up to the as-of moment). A row of that
    day says what earlier days determine (a client's previous active day), so a metric takes it only for
    clients it found active in raw rows and filters it out of whole-day sums (`day < as_of's day`)."""
    first, end_day = whole_days(window_start, as_of, tz)
    last = end_day if as_of > day_start(end_day, tz) else end_day - timedelta(days=1)
    if raw:
        start, stop = day_start(first, tz), as_of
        if stop < start:
            stop = start
        return f"SELECT * FROM ({bind_range(sql, start, stop)}) AS hb_raw"
    return (
        f'SELECT * FROM rollups."{rollup_id}" WHERE "day" >= \'{first.isoformat()}\''
        f" AND \"day\" <= '{last.isoformat()}'"
    )


def window_sql(
    rollup_id: str, sql: str, window_start: datetime, as_of: datetime, tz: ZoneInfo, *, raw: bool = False
) -> str:
    """The rollup over [window_start, as_of): whole days from the table, partial days from raw rows."""
    if raw or window_start >= as_of:
        return f"SELECT * FROM ({bind_range(sql, window_start, as_of)}) AS hb_raw"
    first, end_day = _first_whole_day(window_start, tz), as_of.astimezone(tz).date()
    if first >= end_day:  # no whole day inside the window
        return f"SELECT * FROM ({bind_range(sql, window_start, as_of)}) AS hb_raw"
    parts = [
        f'SELECT * FROM rollups."{rollup_id}" WHERE "day" >= \'{first.isoformat()}\''
        f" AND \"day\" < '{end_day.isoformat()}'"
    ]
    head_end, tail_start = day_start(first, tz), day_start(end_day, tz)
    if window_start < head_end:
        parts.append(f"SELECT * FROM ({bind_range(sql, window_start, head_end)}) AS hb_head")
    if tail_start < as_of:
        parts.append(f"SELECT * FROM ({bind_range(sql, tail_start, as_of)}) AS hb_open_day")
    return "\nUNION ALL\n".join(parts)


def expand(
    sql: str,
    rollups: dict[str, str],
    window_start: datetime,
    as_of: datetime,
    tz: ZoneInfo,
    *,
    raw: bool = False,
    whole_day_only: frozenset[str] = frozenset(),
) -> str:
    """Replace each `rollups.<id>` whose query is known by its window subquery (aliases kept); those of
    `whole_day_only` (rollups with a reach) by the window's whole days."""

    def window(rollup_id: str) -> str:
        over = whole_days_sql if rollup_id in whole_day_only else window_sql
        return over(rollup_id, rollups[rollup_id], window_start, as_of, tz, raw=raw)

    return _substitute(sql, set(rollups), window)


def expand_whole_days(sql: str, rollup_ids: set[str], window_start: str, as_of: str) -> str:
    """Each `rollups.<id>` as its stored days in [window_start::date, as_of::date), both SQL expressions of a
    day list's columns: one statement over many past days (backfill). Exact only when both are midnights of
    the session's zone (every end-of-day as-of of a period in whole days), which the caller checks."""

    def window(rollup_id: str) -> str:
        return (
            f'SELECT * FROM rollups."{rollup_id}" WHERE "day" >= ({window_start})::date'
            f' AND "day" < ({as_of})::date'
        )

    return _substitute(sql, rollup_ids, window)


def _substitute(sql: str, rollup_ids: set[str], window: Callable[[str], str]) -> str:
    """Replace each `rollups.<id>` of `rollup_ids` by `(window(id))`, its alias kept (or the id as alias)."""

    def replace(match: re.Match[str]) -> str:
        rollup_id = match.group(1).lower()
        if rollup_id not in rollup_ids:
            return match.group(0)
        sub = f"({window(rollup_id)})"
        alias, after = match.group(3), match.group(2) or ""
        if alias and alias.lower() not in _NOT_ALIASES:
            return sub + after
        return f"{sub} AS {rollup_id}{after}"

    return _REF.sub(replace, sql)
