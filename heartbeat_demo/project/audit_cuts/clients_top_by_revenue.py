"""The clients who bring the most fee revenue."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "clients",
    "title": "Top clients by fee revenue",
    "kind": "table",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["revenue_30d", "top_tier_revenue_share_30d"],
    "description": "Which clients would we feel first if they left?",
    "how_to_read": "The 15 clients with the most fee revenue in the window: their payments, the EUR volume "
    "they moved and the fees booked. Names here that also appear in the overdue-collateral table on "
    "the risk page are the conversations to have carefully. A top client missing from a shorter window "
    "but present in a longer one has gone quiet.",
    "order": 70,
    "names": True,
}

SQL = """
WITH t AS (
    SELECT e.client_profile_id AS id, count(*) AS payments, sum(e.amount) AS volume, sum(e.fee) AS fees
    FROM webbank.entry e
    WHERE e.create_time >= %(as_of)s - make_interval(days => %(days)s) AND e.create_time < %(as_of)s
      AND NOT (e.entry_state_id = 3 AND e.updated_at < %(as_of)s)
    GROUP BY 1)
SELECT c.name, c.tier, c.country, t.payments, t.volume, t.fees, sum(t.fees) OVER () AS all_fees
FROM t JOIN webbank.client_profile c ON c.id = t.id
ORDER BY t.fees DESC LIMIT 15
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL, {"days": window_days(window)})
    all_fees = found[0]["all_fees"] if found else 0
    table = [
        {
            "client": r["name"],
            "tier": r["tier"],
            "country": r["country"],
            "payments": r["payments"],
            "volume": round(r["volume"], 2),
            "fees": round(r["fees"], 2),
            "share": round(100 * r["fees"] / all_fees, 2) if all_fees else None,
        }
        for r in found
    ]
    share = sum(r["share"] or 0 for r in table)
    takeaway = (
        f"{found[0]['name']} leads with EUR {found[0]['fees']:,.0f}; the top 15 bring {share:.0f}% of fees"
        if found
        else "No fee revenue in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "money:EUR",
        "columns": [
            {"key": "client", "label": "Client"},
            {"key": "tier", "label": "Tier"},
            {"key": "country", "label": "Country"},
            {"key": "payments", "label": "Payments", "unit": "count"},
            {"key": "volume", "label": "Volume", "unit": "money:EUR"},
            {"key": "fees", "label": "Fees", "unit": "money:EUR"},
            {"key": "share", "label": "Share of fees", "unit": "pct"},
        ],
        "rows": table,
    }
