"""Fee revenue by product over time."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "journeys",
    "title": "Fee revenue by product",
    "kind": "stacked",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["revenue_24h", "revenue_7d", "revenue_30d"],
    "description": "Revenue moved: which product moved it?",
    "how_to_read": "Fee revenue in EUR booked per day (per week for 90 days), stacked by product. SWIFT "
    "transfers carry the highest fee per payment, so fewer completed foreign-currency payments — for "
    "instance because screening rejects them — shows up here within a day as a thinner SWIFT band. "
    "Weekends are always lower; compare a day with the same weekday before it.",
    "order": 60,
}

SQL = """
SELECT to_char(date_trunc(%(grain)s, create_time), 'YYYY-MM-DD') AS period, product, sum(fee) AS revenue
FROM webbank.entry
WHERE create_time >= date_trunc(%(grain)s, %(as_of)s - make_interval(days => %(days)s - 1))
  AND create_time < %(as_of)s
  AND NOT (entry_state_id = 3 AND updated_at < %(as_of)s)
GROUP BY 1, 2 ORDER BY 1
"""

PRODUCTS = ("sepa_transfer", "swift_transfer", "incoming_transfer", "internal_transfer")


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    days = window_days(window)
    grain = "week" if days > 30 else "day"
    found = rows(conn, SQL, {"days": days, "grain": grain})
    periods = sorted({r["period"] for r in found})
    products = [p for p in PRODUCTS if any(r["product"] == p for r in found)]
    products += sorted({r["product"] for r in found} - set(products))
    cell = {(r["period"], r["product"]): r["revenue"] for r in found}
    totals = {p: sum(cell.get((x, p), 0) for x in periods) for p in products}
    grand = sum(totals.values())
    top = max(totals, key=lambda p: totals[p]) if totals else None
    takeaway = (
        f"EUR {grand:,.0f} in fees; {top.replace('_', ' ')} brings {100 * totals[top] / grand:.0f}%"
        if top and grand
        else "No fee revenue in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "money:EUR",
        "x_label": grain,
        "y_label": "fee revenue, EUR",
        "categories": periods,
        "series": [
            {"name": p.replace("_", " "), "values": [round(cell.get((x, p), 0), 2) for x in periods]}
            for p in products
        ],
    }
