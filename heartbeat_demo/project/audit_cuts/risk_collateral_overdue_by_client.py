"""Which clients owe card collateral, how much and since when (the ACME-like incident)."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows
from heartbeat_core.formatting import counted, plural

META = {
    "page": "risk",
    "title": "Overdue card collateral by client",
    "kind": "table",
    "window_default": "30d",
    "windows": ["30d"],
    "metrics": ["card_collateral_overdue_clients", "card_collateral_overdue_amount"],
    "description": "The overdue-collateral tiles are red: which clients are behind, by how much, and since when?",
    "how_to_read": "Every client with a MasterCard collateral invoice unpaid past its due date, worst first. "
    "Rows marked red are 30+ days past due — that is money Satchel is covering for the client's card "
    "spending, and what the red tiles count. A client with several months unpaid is a pattern, not a "
    "late payment: call them before the next invoice is issued. This cut is a snapshot, so the window "
    "switcher does not change it.",
    "order": 10,
    "names": True,
}

SQL = """
SELECT c.name AS client, ci.client_profile_id AS client_id, c.tier,
       count(*) AS invoices, sum(ci.amount) AS owed,
       sum(ci.amount) FILTER (WHERE ci.due_date < %(as_of)s - interval '30 days') AS owed_30d,
       min(ci.due_date) AS oldest_due,
       (%(as_of)s::date - min(ci.due_date)) AS days_overdue
FROM card_management.collateral_invoice ci
LEFT JOIN webbank.client_profile c ON c.id = ci.client_profile_id
WHERE ci.issued_at < %(as_of)s
  AND (ci.paid_at IS NULL OR ci.paid_at >= %(as_of)s)
  AND ci.due_date < %(as_of)s::date
GROUP BY 1, 2, 3
ORDER BY coalesce(sum(ci.amount) FILTER (WHERE ci.due_date < %(as_of)s - interval '30 days'), 0) DESC,
         owed DESC
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL)
    flagged = [r for r in found if r["owed_30d"]]
    table = [
        {
            "client": r["client"] or f"client {r['client_id']}",
            "tier": r["tier"],
            "invoices": r["invoices"],
            "owed": r["owed"],
            "owed_30d": r["owed_30d"] or 0,
            "oldest_due": r["oldest_due"],
            "days_overdue": r["days_overdue"],
            "critical": bool(r["owed_30d"]),
        }
        for r in found[:15]
    ]
    if flagged:
        worst = flagged[0]
        takeaway = (
            f"{counted(len(flagged), 'client')} {plural(len(flagged), 'is', 'are')} 30+ days behind; "
            f"{worst['client']} owes EUR {worst['owed']:,.0f} over {counted(worst['invoices'], 'invoice')}, "
            f"the oldest due {counted(worst['days_overdue'], 'day')} ago"
        )
    elif found:
        takeaway = (
            f"{counted(len(found), 'client')} {plural(len(found), 'is', 'are')} past due, none by 30 days yet"
        )
    else:
        takeaway = "No collateral invoice is past due"
    return {
        "takeaway": takeaway,
        "unit": "money:EUR",
        "columns": [
            {"key": "client", "label": "Client"},
            {"key": "tier", "label": "Tier"},
            {"key": "invoices", "label": "Unpaid invoices", "unit": "count"},
            {"key": "owed", "label": "Owed", "unit": "money:EUR"},
            {"key": "owed_30d", "label": "30+ days overdue", "unit": "money:EUR"},
            {"key": "oldest_due", "label": "Oldest due"},
            {"key": "days_overdue", "label": "Days overdue", "unit": "days"},
        ],
        "rows": table,
        "total_rows": len(found),
        "highlight_key": "critical",
    }
