"""How long applicants wait for an onboarding decision."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "clients",
    "title": "Time to an onboarding decision",
    "kind": "bar",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["onboarding_time_to_decision_p50_7d", "onboarding_pending_over_48h"],
    "description": "Is onboarding slow for everyone, or is there a tail of applications nobody picks up?",
    "how_to_read": "Applications decided in the window, by hours from submission to decision. The bulk "
    "should sit under 12 hours. A fat bar at 48+ hours is the tail the pending tile warns about "
    "before it shows up here: applications that waited because nobody owned them.",
    "order": 80,
}

SQL = """
WITH d AS (
    SELECT l.client_profile_id AS id, min(l."timestamp") AS decided_at
    FROM webbank.client_profile_state_log l
    WHERE l.profile_state IN ('approved', 'rejected')
      AND l."timestamp" >= %(as_of)s - make_interval(days => %(days)s) AND l."timestamp" < %(as_of)s
    GROUP BY 1)
SELECT CASE WHEN h < 2 THEN 0 WHEN h < 6 THEN 1 WHEN h < 12 THEN 2 WHEN h < 24 THEN 3 WHEN h < 48 THEN 4 ELSE 5 END AS bucket,
       count(*) AS n
FROM (SELECT extract(epoch FROM d.decided_at - c.created_at) / 3600 AS h
      FROM d JOIN webbank.client_profile c ON c.id = d.id) x
GROUP BY 1 ORDER BY 1
"""

LABELS = ["< 2 h", "2–6 h", "6–12 h", "12–24 h", "24–48 h", "48+ h"]


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    counts = {r["bucket"]: r["n"] for r in rows(conn, SQL, {"days": window_days(window)})}
    total = sum(counts.values())
    within = counts.get(0, 0) + counts.get(1, 0) + counts.get(2, 0)
    takeaway = (
        f"{total:,} decided; {100 * within / total:.0f}% within 12 h, {counts.get(5, 0)} after 48+ h"
        if total
        else "No onboarding decisions in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "clients",
        "x_label": "hours from submission to decision",
        "y_label": "applications",
        "bars": [
            {"label": label, "value": counts.get(i, 0), "highlight": i == 5 and counts.get(i, 0) > 0}
            for i, label in enumerate(LABELS)
        ],
    }
