"""Signups per week (per day for 7 days) and what became of them."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "clients",
    "title": "Signups and their decisions",
    "kind": "stacked",
    "window_default": "90d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["new_signups_7d", "onboarding_approval_rate_7d"],
    "description": "Are fewer people signing up, or are more of them being turned away?",
    "how_to_read": "Applications by the week (day, for 7 days) they were submitted, split by what has been "
    "decided so far: approved, rejected, or still pending. The total is the top of the marketing funnel; "
    "the rejected share is compliance's. The newest period always has a pending band because decisions "
    "take hours — judge the rejection share on the periods before it.",
    "order": 20,
}

SQL = """
WITH d AS (
    SELECT client_profile_id AS id,
           bool_or(profile_state = 'approved') AS approved, bool_or(profile_state = 'rejected') AS rejected
    FROM webbank.client_profile_state_log
    WHERE "timestamp" < %(as_of)s AND profile_state IN ('approved', 'rejected')
    GROUP BY 1)
SELECT to_char(date_trunc(%(grain)s, c.created_at), 'YYYY-MM-DD') AS period,
       count(*) FILTER (WHERE d.approved) AS approved,
       count(*) FILTER (WHERE d.rejected) AS rejected,
       count(*) FILTER (WHERE d.id IS NULL) AS pending
FROM webbank.client_profile c LEFT JOIN d ON d.id = c.id
WHERE c.created_at >= date_trunc(%(grain)s, %(as_of)s - make_interval(days => %(days)s - 1)) AND c.created_at < %(as_of)s
GROUP BY 1 ORDER BY 1
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    days = window_days(window)
    grain = "day" if days <= 7 else "week"
    found = rows(conn, SQL, {"days": days, "grain": grain})
    settled = found[:-1] or found
    decided = sum(r["approved"] + r["rejected"] for r in settled)
    rejected = sum(r["rejected"] for r in settled)
    signups = sum(r["approved"] + r["rejected"] + r["pending"] for r in found)
    takeaway = (
        f"{signups:,} signups; {100 * rejected / max(decided, 1):.0f}% of decided applications rejected "
        f"(excluding the current {grain})"
    )
    return {
        "takeaway": takeaway,
        "unit": "clients",
        "x_label": grain,
        "y_label": "applications",
        "categories": [r["period"] for r in found],
        "series": [
            {"name": "Approved", "tone": "good", "values": [r["approved"] for r in found]},
            {"name": "Rejected", "tone": "bad", "values": [r["rejected"] for r in found]},
            {"name": "Pending", "tone": "neutral", "values": [r["pending"] for r in found]},
        ],
    }
