"""Helpdesk resolution time by priority."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "risk",
    "title": "Helpdesk resolution time by priority",
    "kind": "table",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["helpdesk_resolution_time_p50_7d", "helpdesk_urgent_open_over_4h"],
    "description": "Is support slow for everyone, or are urgent tickets waiting behind routine ones?",
    "how_to_read": "For tickets resolved in the window: the median and 90th-percentile hours to resolve, per "
    "priority, beside how many of that priority are open right now and the oldest of them. Urgent should "
    "resolve in a couple of hours; an urgent median near the normal one means priorities are not being "
    "honoured. Flagged rows have urgent or high tickets open longer than 4 hours.",
    "order": 70,
}

SQL = """
WITH resolved AS (
    SELECT priority, extract(epoch FROM resolved_at - created_at) / 3600.0 AS hours FROM helpdesk.ticket
    WHERE resolved_at >= %(as_of)s - make_interval(days => %(days)s) AND resolved_at < %(as_of)s),
open AS (
    SELECT priority, count(*) AS n, max(extract(epoch FROM %(as_of)s - created_at) / 3600.0) AS oldest_h
    FROM helpdesk.ticket
    WHERE created_at < %(as_of)s AND (resolved_at IS NULL OR resolved_at >= %(as_of)s)
    GROUP BY 1)
SELECT p.priority, r.resolved, r.p50, r.p90, coalesce(o.n, 0) AS open_now, o.oldest_h
FROM (VALUES ('urgent', 1), ('high', 2), ('normal', 3), ('low', 4)) AS p(priority, rank)
LEFT JOIN (SELECT priority, count(*) AS resolved,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS p50,
                  percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90
           FROM resolved GROUP BY 1) r USING (priority)
LEFT JOIN open o USING (priority)
ORDER BY p.rank
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL, {"days": window_days(window)})
    table = [
        {
            "priority": r["priority"],
            "resolved": r["resolved"] or 0,
            "p50": round(r["p50"], 1) if r["p50"] is not None else None,
            "p90": round(r["p90"], 1) if r["p90"] is not None else None,
            "open_now": r["open_now"],
            "oldest_open": round(r["oldest_h"], 1) if r["oldest_h"] is not None else None,
            "late": r["priority"] in ("urgent", "high") and (r["oldest_h"] or 0) > 4,
        }
        for r in found
    ]
    urgent = table[0]
    takeaway = (
        f"Urgent tickets resolve in {urgent['p50']} h (median); {urgent['open_now']} urgent open now"
        if urgent["p50"] is not None
        else f"No urgent ticket resolved in this window; {urgent['open_now']} open now"
    )
    if urgent["late"]:
        takeaway += f", the oldest for {urgent['oldest_open']} h"
    return {
        "takeaway": takeaway,
        "unit": "hours",
        "columns": [
            {"key": "priority", "label": "Priority"},
            {"key": "resolved", "label": "Resolved", "unit": "count"},
            {"key": "p50", "label": "Median hours", "unit": "hours"},
            {"key": "p90", "label": "p90 hours", "unit": "hours"},
            {"key": "open_now", "label": "Open now", "unit": "count"},
            {"key": "oldest_open", "label": "Oldest open (h)", "unit": "hours"},
        ],
        "rows": table,
        "highlight_key": "late",
    }
