"""Helpdesk tickets by topic and state."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "risk",
    "title": "Helpdesk tickets by topic",
    "kind": "stacked",
    "window_default": "7d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["helpdesk_open_tickets", "helpdesk_tickets_opened_24h"],
    "description": "What are clients writing to support about — and is one topic piling up unanswered?",
    "how_to_read": "Tickets opened in the window, one bar per topic, split by where they are now. Topics "
    "follow incidents: a rejected-payments rule shows up as a jump in payment tickets a few hours later. "
    "A topic whose open part is large relative to its size is one the team cannot answer yet — usually "
    "because the answer depends on another team.",
    "order": 60,
}

SQL = """
SELECT topic,
       count(*) FILTER (WHERE resolved_at IS NULL OR resolved_at >= %(as_of)s) AS open,
       count(*) FILTER (WHERE resolved_at < %(as_of)s AND resolved_at >= %(as_of)s - interval '3 days') AS solved,
       count(*) FILTER (WHERE resolved_at < %(as_of)s - interval '3 days') AS closed,
       count(*) AS total
FROM helpdesk.ticket
WHERE created_at >= %(as_of)s - make_interval(days => %(days)s) AND created_at < %(as_of)s
GROUP BY topic ORDER BY total DESC
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL, {"days": window_days(window)})
    total = sum(r["total"] for r in found)
    top = found[0] if found else None
    takeaway = (
        f"{total} tickets; most about {top['topic']} ({top['total']}, {top['open']} still open)"
        if top
        else "No tickets in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "tickets",
        "x_label": "topic",
        "y_label": "tickets opened",
        "categories": [r["topic"] for r in found],
        "series": [
            {"name": "Open", "tone": "warn", "values": [r["open"] for r in found]},
            {"name": "Solved (last 3 days)", "tone": "good", "values": [r["solved"] for r in found]},
            {"name": "Closed", "tone": "neutral", "values": [r["closed"] for r in found]},
        ],
    }
