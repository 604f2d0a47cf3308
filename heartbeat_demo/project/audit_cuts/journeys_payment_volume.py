"""Payments created per day by direction, with the typical band."""

import statistics
from typing import Any

import psycopg

from heartbeat_core.audit.helpers import as_of, rows, window_days
from heartbeat_core.formatting import format_date

META = {
    "page": "journeys",
    "title": "Payments per day by direction",
    "kind": "line",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["payments_24h", "payment_volume_eur_24h"],
    "description": "Is payment activity normal for the day of the week, or has a flow dried up?",
    "how_to_read": "Payments created per day, in total and by direction. The shaded band is the typical "
    "weekday total (mean ± one standard deviation over the window's full weekdays); weekends sit well "
    "below it by design. A direction that drops while the others hold points at one integration (the "
    "incoming rail, the card-to-account flow) rather than at clients going quiet.",
    "order": 70,
}

SQL = """
SELECT create_time::date AS day, count(*) AS total,
       count(*) FILTER (WHERE type_id = 1) AS outgoing,
       count(*) FILTER (WHERE type_id = 2) AS incoming,
       count(*) FILTER (WHERE type_id = 3) AS internal
FROM webbank.payment
WHERE create_time >= (%(as_of)s - make_interval(days => %(days)s))::date AND create_time < %(as_of)s
GROUP BY 1 ORDER BY 1
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    from datetime import date

    at = as_of(conn)
    found = rows(conn, SQL, {"days": window_days(window), "as_of": at})
    full = found[:-1]
    weekdays = [r["total"] for r in full if date.fromisoformat(r["day"]).isoweekday() <= 5]
    band = None
    if len(weekdays) >= 3:
        mean, sd = statistics.fmean(weekdays), statistics.pstdev(weekdays)
        band = {"low": round(mean - sd, 1), "high": round(mean + sd, 1), "label": "typical weekday"}
    if full:
        last = full[-1]
        day = format_date(date.fromisoformat(last["day"]), at.date())
        takeaway = f"{last['total']:,} payments on {day} (yesterday)"
        if band:
            takeaway += f"; a typical weekday is {band['low']:,.0f}–{band['high']:,.0f}"
    else:
        takeaway = "Not a full day of payments in this window yet"
    return {
        "takeaway": takeaway,
        "unit": "payments",
        "x_label": "day",
        "y_label": "payments created",
        "series": [
            {"name": name.capitalize(), "points": [{"x": r["day"], "y": r[name]} for r in found]}
            for name in ("total", "outgoing", "incoming", "internal")
        ],
        "lines": {"band": band},
        "notes": ["Today is a partial day."],
    }
