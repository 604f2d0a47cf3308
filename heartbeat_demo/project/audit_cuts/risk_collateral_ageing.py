"""Collateral invoices by month of issue: paid on time, paid late, still unpaid."""

from datetime import date
from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows

META = {
    "page": "risk",
    "title": "Card collateral by month: on time, late, unpaid",
    "kind": "stacked",
    "window_default": "90d",
    "windows": ["90d"],
    "metrics": ["collateral_paid_on_time_rate_30d", "card_collateral_overdue_amount"],
    "description": "Is the overdue collateral one client's problem or a slide in everyone's payment discipline?",
    "how_to_read": "Each bar is one month's collateral invoices in EUR, split by what happened to them. "
    "A healthy month is almost all green (paid by the due date) with a thin band paid late. Unpaid "
    "money in old months is the overdue-collateral tile; if it sits in one client (see the table above) "
    "it is a collection call, if it spreads across months and clients the on-time rate will follow it down.",
    "order": 20,
}

SQL = """
SELECT to_char(date_trunc('month', ci.issued_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
       sum(ci.amount) FILTER (WHERE ci.paid_at < %(as_of)s AND ci.paid_at::date <= ci.due_date) AS on_time,
       sum(ci.amount) FILTER (WHERE ci.paid_at < %(as_of)s AND ci.paid_at::date > ci.due_date) AS late,
       sum(ci.amount) FILTER (WHERE (ci.paid_at IS NULL OR ci.paid_at >= %(as_of)s)
                                AND ci.due_date >= %(as_of)s::date) AS not_due,
       sum(ci.amount) FILTER (WHERE (ci.paid_at IS NULL OR ci.paid_at >= %(as_of)s)
                                AND ci.due_date < %(as_of)s::date
                                AND ci.due_date >= %(as_of)s::date - 30) AS overdue,
       sum(ci.amount) FILTER (WHERE (ci.paid_at IS NULL OR ci.paid_at >= %(as_of)s)
                                AND ci.due_date < %(as_of)s::date - 30) AS overdue_30
FROM card_management.collateral_invoice ci
WHERE ci.issued_at < %(as_of)s AND ci.issued_at >= date_trunc('month', %(as_of)s) - interval '6 months'
GROUP BY 1 ORDER BY 1
"""

SERIES = (
    ("on_time", "Paid on time", "good"),
    ("late", "Paid late", "info"),
    ("not_due", "Not due yet", "neutral"),
    ("overdue", "Overdue < 30 days", "warn"),
    ("overdue_30", "Overdue 30+ days", "bad"),
)


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL)
    total_30 = sum(r["overdue_30"] or 0 for r in found)
    # months as people read them (`Aug 2026`); the chart's categories keep their sortable `2026-08`
    months_30 = [date.fromisoformat(f"{r['month']}-01").strftime("%b %Y") for r in found if r["overdue_30"]]
    if total_30:
        takeaway = f"EUR {total_30:,.0f} is 30+ days overdue, issued in {', '.join(months_30)}"
    else:
        takeaway = "Nothing is 30+ days overdue"
    return {
        "takeaway": takeaway,
        "unit": "money:EUR",
        "x_label": "month of issue",
        "y_label": "EUR",
        "categories": [r["month"] for r in found],
        "series": [
            {"name": label, "tone": tone, "values": [round(r[key] or 0, 2) for r in found]}
            for key, label, tone in SERIES
        ],
    }
