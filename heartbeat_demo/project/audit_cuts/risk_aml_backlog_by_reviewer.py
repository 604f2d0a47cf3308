"""Open AML reviews by reviewer and age: who is the queue waiting for?"""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows

META = {
    "page": "risk",
    "title": "Open AML reviews by reviewer and age",
    "kind": "stacked",
    "window_default": "30d",
    "windows": ["30d"],
    "metrics": ["aml_review_backlog", "aml_reviews_pending_over_72h", "aml_review_backlog_days"],
    "description": "The AML backlog is growing: is everyone slower, or has part of the team stopped reviewing?",
    "how_to_read": "One bar per reviewer: their open reviews, coloured by how long each has waited. Reviews "
    "normally close within a day, so a healthy bar is short and mostly under 24 h. Tall bars of 3+ days "
    "concentrated on a few names mean the work is assigned to people who are not doing it (left, on "
    "leave, reassigned) — reassign their queue rather than asking the whole team to speed up.",
    "order": 30,
    "names": True,
}

SQL = """
SELECT reviewer,
       count(*) FILTER (WHERE age < interval '24 hours') AS a1,
       count(*) FILTER (WHERE age >= interval '24 hours' AND age < interval '72 hours') AS a2,
       count(*) FILTER (WHERE age >= interval '72 hours' AND age < interval '7 days') AS a3,
       count(*) FILTER (WHERE age >= interval '7 days') AS a4,
       count(*) AS total
FROM (SELECT reviewer, %(as_of)s - created_at AS age FROM aml.aml_retrospective
      WHERE created_at < %(as_of)s AND (reviewed_at IS NULL OR reviewed_at >= %(as_of)s)) o
GROUP BY reviewer ORDER BY total DESC, reviewer
"""

SERIES = (
    ("a1", "< 24 h", "good"),
    ("a2", "1–3 days", "neutral"),
    ("a3", "3–7 days", "warn"),
    ("a4", "7+ days", "bad"),
)


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL)
    total = sum(r["total"] for r in found)
    old = sorted(found, key=lambda r: -(r["a3"] + r["a4"]))
    stuck = [r for r in old if r["a3"] + r["a4"] > 0]
    if stuck:
        share = (
            100 * sum(r["a3"] + r["a4"] for r in stuck[:3]) / max(sum(r["a3"] + r["a4"] for r in found), 1)
        )
        names = ", ".join(r["reviewer"] for r in stuck[:3])
        takeaway = f"{total} open reviews; {share:.0f}% of those waiting 3+ days sit with {names}"
    else:
        takeaway = f"{total} open reviews, none waiting 3+ days"
    return {
        "takeaway": takeaway,
        "unit": "reviews",
        "x_label": "reviewer",
        "y_label": "open reviews",
        "categories": [r["reviewer"] for r in found],
        "series": [{"name": n, "tone": t, "values": [r[k] for r in found]} for k, n, t in SERIES],
    }
