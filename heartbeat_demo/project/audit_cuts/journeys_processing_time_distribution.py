"""Distribution of outgoing payment processing times."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "journeys",
    "title": "How long outgoing payments take",
    "kind": "bar",
    "window_default": "7d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["payment_processing_time_p50_24h", "payment_processing_time_p95_24h"],
    "description": "Is the slow tail a few outliers or a second hump of payments taking a different path?",
    "how_to_read": "Completed outgoing payments in the window, grouped by minutes from creation to "
    "completion. Most land in the first few buckets. A long flat tail is normal variance; a second bump "
    "in the 30–60 minute or slower buckets means a group of payments takes another route (manual review, "
    "a different correspondent bank) and deserves a look of its own.",
    "order": 50,
}

SQL = """
SELECT bucket, count(*) AS n FROM (
    SELECT CASE WHEN m < 1 THEN 0 WHEN m < 2 THEN 1 WHEN m < 5 THEN 2 WHEN m < 10 THEN 3 WHEN m < 20 THEN 4
                WHEN m < 30 THEN 5 WHEN m < 60 THEN 6 ELSE 7 END AS bucket
    FROM (SELECT extract(epoch FROM updated_at - create_time) / 60 AS m FROM webbank.payment
          WHERE type_id = 1 AND state_id = 4
            AND updated_at >= %(as_of)s - make_interval(days => %(days)s) AND updated_at < %(as_of)s) x
) b GROUP BY bucket ORDER BY bucket
"""

LABELS = ["< 1 min", "1–2 min", "2–5 min", "5–10 min", "10–20 min", "20–30 min", "30–60 min", "60+ min"]


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    counts = {r["bucket"]: r["n"] for r in rows(conn, SQL, {"days": window_days(window)})}
    total = sum(counts.values())
    slow = counts.get(6, 0) + counts.get(7, 0)
    takeaway = (
        f"{total:,} completed; {100 * (total - slow) / total:.1f}% within 30 minutes, {slow:,} took longer"
        if total
        else "No completed outgoing payments in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "payments",
        "x_label": "minutes from creation to completion",
        "y_label": "payments",
        "bars": [
            {"label": label, "value": counts.get(i, 0), "highlight": i >= 6 and counts.get(i, 0) > 0}
            for i, label in enumerate(LABELS)
        ],
    }
