"""Small helpers for cut modules: the window as an interval, rows as dicts, numbers as floats.

Cut SQL measures time against `heartbeat.as_of()` (the refresh sets it to the clock's now), so a cut
computed in a test with a frozen clock sees the same world as one computed live.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core.audit.discovery import WINDOW_DAYS


def window_days(window: str) -> int:
    """7, 30 or 90."""
    try:
        return WINDOW_DAYS[window]
    except KeyError:
        raise ValueError(f"window: expected one of {', '.join(WINDOW_DAYS)}, got {window!r}") from None


def plain(value: Any) -> Any:
    """A JSON-friendly scalar: Decimal → float, dates → ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_of(conn: psycopg.Connection[Any]) -> datetime:
    """The moment the cut describes: `heartbeat.as_of()` (the refresh sets it to the clock's now)."""
    row = conn.execute("SELECT heartbeat.as_of()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def rows(
    conn: psycopg.Connection[Any], sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run one SELECT; rows as dicts of plain values. `%(days)s` and friends come from `params`;
    `%(as_of)s` is filled with `heartbeat.as_of()` read once — a bound timestamp, unlike the function
    called per row, lets the planner use indexes and estimate the window."""
    values = dict(params or {})
    if "%(as_of)s" in sql and "as_of" not in values:
        values["as_of"] = as_of(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.encode(), values)
        return [{k: plain(v) for k, v in r.items()} for r in cur.fetchall()]


def one(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    found = rows(conn, sql, params)
    return found[0] if found else {}


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def num(value: Any, digits: int = 2) -> float:
    return round(float(value or 0), digits)
