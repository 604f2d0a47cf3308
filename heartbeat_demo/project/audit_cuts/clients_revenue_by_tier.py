"""Fee revenue by client tier."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "clients",
    "title": "Fee revenue by client tier",
    "kind": "bar",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["top_tier_revenue_share_30d", "revenue_per_active_client_30d", "revenue_30d"],
    "description": "Who pays the bills — and is the top-tier share slipping?",
    "how_to_read": "Fee revenue booked in the window, by the paying client's tier, with each tier's active "
    "clients and revenue per active client beside its bar. A handful of business and top clients "
    "usually earn as much as thousands of standard ones, which is why losing one of them moves the "
    "top-tier share tile. Compare revenue per client across windows to tell fewer clients from "
    "smaller ones.",
    "order": 60,
}

SQL = """
SELECT c.tier, sum(e.fee) AS revenue, count(DISTINCT e.client_profile_id) AS clients
FROM webbank.entry e JOIN webbank.client_profile c ON c.id = e.client_profile_id
WHERE e.create_time >= %(as_of)s - make_interval(days => %(days)s) AND e.create_time < %(as_of)s
  AND NOT (e.entry_state_id = 3 AND e.updated_at < %(as_of)s)
GROUP BY 1
"""

TIERS = ("standard", "premium", "business", "top")


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = {r["tier"]: r for r in rows(conn, SQL, {"days": window_days(window)})}
    tiers = [t for t in TIERS if t in found] + sorted(set(found) - set(TIERS))
    total = sum(found[t]["revenue"] for t in tiers)
    top = sum(found[t]["revenue"] for t in tiers if t in ("business", "top"))
    takeaway = (
        f"EUR {total:,.0f} in fees; business and top clients bring {100 * top / total:.0f}%"
        if total
        else "No fee revenue in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "money:EUR",
        "x_label": "tier",
        "y_label": "fee revenue, EUR",
        "bars": [
            {
                "label": t,
                "value": round(found[t]["revenue"], 2),
                "note": f"{found[t]['clients']:,} active · EUR {found[t]['revenue'] / max(found[t]['clients'], 1):,.2f} each",
            }
            for t in tiers
        ],
    }
