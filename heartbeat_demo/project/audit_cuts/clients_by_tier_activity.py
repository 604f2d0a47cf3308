"""Approved clients by tier and whether they transacted in the window."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "clients",
    "title": "Clients by tier and activity",
    "kind": "stacked",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["active_clients_7d", "active_clients_30d", "top_tier_clients"],
    "description": "Active clients moved: in which tier, and are they dormant or gone?",
    "how_to_read": "One bar per tier: every approved client, split into those with a booked payment in the "
    "window, those approved but quiet, and those blocked. Standard clients are many and mostly quiet; "
    "business and top clients are few but should nearly all be active — a growing quiet band there is "
    "revenue walking away, worth a call from their account manager.",
    "order": 10,
}

SQL = """
WITH decided AS (
    SELECT client_profile_id AS id,
           bool_or(profile_state = 'approved') AS approved,
           bool_or(profile_state = 'blocked') AS blocked
    FROM webbank.client_profile_state_log WHERE "timestamp" < %(as_of)s GROUP BY 1),
active AS (
    SELECT DISTINCT client_profile_id AS id FROM webbank.entry
    WHERE create_time >= %(as_of)s - make_interval(days => %(days)s) AND create_time < %(as_of)s)
SELECT c.tier,
       count(*) FILTER (WHERE NOT d.blocked AND a.id IS NOT NULL) AS active,
       count(*) FILTER (WHERE NOT d.blocked AND a.id IS NULL) AS quiet,
       count(*) FILTER (WHERE d.blocked) AS blocked
FROM webbank.client_profile c JOIN decided d ON d.id = c.id AND d.approved
LEFT JOIN active a ON a.id = c.id
GROUP BY c.tier
"""

TIERS = ("standard", "premium", "business", "top")


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = {r["tier"]: r for r in rows(conn, SQL, {"days": window_days(window)})}
    tiers = [t for t in TIERS if t in found] + sorted(set(found) - set(TIERS))
    active = sum(found[t]["active"] for t in tiers)
    total = sum(found[t]["active"] + found[t]["quiet"] for t in tiers)
    top = [t for t in ("business", "top") if t in found]
    top_active = sum(found[t]["active"] for t in top)
    top_total = sum(found[t]["active"] + found[t]["quiet"] for t in top)
    takeaway = f"{active:,} of {total:,} clients active ({100 * active / max(total, 1):.0f}%)"
    if top_total:
        takeaway += f"; business and top: {100 * top_active / top_total:.0f}% active"
    return {
        "takeaway": takeaway,
        "unit": "clients",
        "x_label": "tier",
        "y_label": "approved clients",
        "categories": tiers,
        "series": [
            {"name": "Active in window", "tone": "good", "values": [found[t]["active"] for t in tiers]},
            {"name": "Quiet", "tone": "neutral", "values": [found[t]["quiet"] for t in tiers]},
            {"name": "Blocked", "tone": "bad", "values": [found[t]["blocked"] for t in tiers]},
        ],
    }
