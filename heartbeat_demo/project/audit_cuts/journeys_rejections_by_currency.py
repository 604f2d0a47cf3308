"""Rejection rate of outgoing payments by day and currency."""

from datetime import date
from typing import Any

import psycopg

from heartbeat_core.audit.helpers import as_of, rows, window_days
from heartbeat_core.formatting import format_date

META = {
    "page": "journeys",
    "title": "Outgoing rejections by currency",
    "kind": "heat_table",
    "window_default": "7d",
    "windows": ["7d", "30d"],
    "metrics": ["outgoing_payment_approval_rate_24h"],
    "description": "Are rejections up for everyone, or for one kind of payment?",
    "how_to_read": "Rows are days (newest first), columns the payment currency, each cell the share of that "
    "day's outgoing payments in that currency that screening rejected. The normal rate is 1–4% "
    "everywhere. A block of dark cells in the non-EUR columns starting on one day is a rule that treats "
    "foreign-currency payments as suspicious — a configuration change, not a wave of fraud.",
    "order": 20,
}

SQL = """
SELECT create_time::date AS day, currency, count(*) AS n, count(*) FILTER (WHERE state_id = 3) AS rejected
FROM webbank.payment
WHERE type_id = 1 AND create_time >= %(as_of)s - make_interval(days => %(days)s)
  AND create_time < %(as_of)s
GROUP BY 1, 2
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    at = as_of(conn)
    found = rows(conn, SQL, {"days": window_days(window), "as_of": at})
    volume: dict[str, int] = {}
    for r in found:
        volume[r["currency"]] = volume.get(r["currency"], 0) + r["n"]
    currencies = sorted(volume, key=lambda c: (c != "EUR", -volume[c]))
    days = sorted({r["day"] for r in found}, reverse=True)
    cell = {(r["day"], r["currency"]): r for r in found}
    values = []
    for day in days:
        line = []
        for cur in currencies:
            hit = cell.get((day, cur))
            line.append(round(100 * hit["rejected"] / hit["n"], 1) if hit and hit["n"] else None)
        values.append(line)
    if days:
        recent = [r for r in found if r["day"] == days[0]]
        eur = (
            sum(r["rejected"] for r in recent if r["currency"] == "EUR"),
            sum(r["n"] for r in recent if r["currency"] == "EUR"),
        )
        other = (
            sum(r["rejected"] for r in recent if r["currency"] != "EUR"),
            sum(r["n"] for r in recent if r["currency"] != "EUR"),
        )
        takeaway = (
            f"{format_date(date.fromisoformat(days[0]), at.date())}: {100 * other[0] / max(other[1], 1):.0f}% of non-EUR payments rejected "
            f"vs {100 * eur[0] / max(eur[1], 1):.0f}% of EUR ones"
        )
    else:
        takeaway = "No outgoing payments in this window"
    return {
        "takeaway": takeaway,
        "unit": "pct",
        "row_label": "day",
        "column_label": "currency",
        "rows": days,
        "columns": currencies,
        "values": values,
        "notes": ["Cells with few payments swing widely; read whole rows and columns, not single cells."],
    }
