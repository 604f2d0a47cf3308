"""AML reviews opened versus completed per day."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "risk",
    "title": "AML reviews opened vs completed per day",
    "kind": "line",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["aml_reviews_completed_24h", "aml_review_backlog", "aml_time_to_review_p50_7d"],
    "description": "Since when has the AML team been closing fewer reviews than arrive?",
    "how_to_read": "Two lines per day: reviews opened and reviews completed. They track each other when the "
    "team keeps up (completions lag openings by about a day). The day the completed line drops below the "
    "opened line and stays there is when the backlog started to grow; the gap between them is how fast.",
    "order": 40,
}

SQL = """
WITH days AS (
    SELECT generate_series((%(as_of)s - make_interval(days => %(days)s))::date,
                           %(as_of)s::date, interval '1 day')::date AS day),
opened AS (
    SELECT created_at::date AS day, count(*) AS n FROM aml.aml_retrospective
    WHERE created_at >= %(as_of)s - make_interval(days => %(days)s + 1) AND created_at < %(as_of)s
    GROUP BY 1),
done AS (
    SELECT reviewed_at::date AS day, count(*) AS n FROM aml.aml_retrospective
    WHERE reviewed_at >= %(as_of)s - make_interval(days => %(days)s + 1) AND reviewed_at < %(as_of)s
    GROUP BY 1)
SELECT d.day, coalesce(o.n, 0) AS opened, coalesce(c.n, 0) AS completed
FROM days d LEFT JOIN opened o USING (day) LEFT JOIN done c USING (day) ORDER BY d.day
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    days = window_days(window)
    found = rows(conn, SQL, {"days": days})
    full = found[:-1] or found  # today is partial
    last7 = full[-7:]
    opened = sum(r["opened"] for r in last7)
    completed = sum(r["completed"] for r in last7)
    takeaway = (
        f"Last 7 full days: {opened} opened, {completed} completed "
        f"({'backlog growing by ' + str(opened - completed) if opened > completed else 'keeping up'})"
    )
    return {
        "takeaway": takeaway,
        "unit": "reviews",
        "x_label": "day",
        "y_label": "reviews per day",
        "series": [
            {"name": "Opened", "tone": "info", "points": [{"x": r["day"], "y": r["opened"]} for r in found]},
            {
                "name": "Completed",
                "tone": "good",
                "points": [{"x": r["day"], "y": r["completed"]} for r in found],
            },
        ],
        "notes": ["Today is a partial day."],
    }
