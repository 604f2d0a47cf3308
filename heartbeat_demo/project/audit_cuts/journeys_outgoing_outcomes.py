"""What happens to outgoing payments: completed, rejected, failed, still in flight."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "journeys",
    "title": "Outgoing payments by outcome",
    "kind": "stacked",
    "window_default": "7d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["outgoing_payment_approval_rate_24h", "payment_failure_rate_7d"],
    "description": "The approval-rate tile dropped: since when, and is it rejections or failures?",
    "how_to_read": "Each bar is one day (weeks for 90 days) of outgoing payments, as shares of that period: "
    "completed, rejected at screening, failed after approval, and still in flight. Normally the bar is "
    "about 97% completed. A rejected band that jumps on the last day or two is a screening rule "
    "misfiring (see rejections by currency below); a failed band that grows is the payment rails.",
    "order": 10,
}

SQL = """
SELECT to_char(date_trunc(%(grain)s, create_time), 'YYYY-MM-DD') AS period,
       count(*) FILTER (WHERE state_id = 4) AS completed,
       count(*) FILTER (WHERE state_id = 3) AS rejected,
       count(*) FILTER (WHERE state_id = 5) AS failed,
       count(*) FILTER (WHERE state_id IN (1, 2)) AS in_flight,
       count(*) AS total
FROM webbank.payment
WHERE type_id = 1 AND create_time >= date_trunc(%(grain)s, %(as_of)s - make_interval(days => %(days)s - 1))
  AND create_time < %(as_of)s
GROUP BY 1 ORDER BY 1
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    days = window_days(window)
    grain = "week" if days > 30 else "day"
    found = rows(conn, SQL, {"days": days, "grain": grain})
    last = found[-1] if found else None
    if last and last["total"]:
        base = [r for r in found[:-2]] or found
        base_rej = 100 * sum(r["rejected"] for r in base) / max(sum(r["total"] for r in base), 1)
        takeaway = (
            f"Latest {grain}: {100 * last['rejected'] / last['total']:.1f}% rejected "
            f"(earlier in the window {base_rej:.1f}%), {100 * last['failed'] / last['total']:.1f}% failed"
        )
    else:
        takeaway = "No outgoing payments in this window"
    series = (
        ("completed", "Completed", "good"),
        ("rejected", "Rejected", "bad"),
        ("failed", "Failed", "warn"),
        ("in_flight", "In flight", "neutral"),
    )
    return {
        "takeaway": takeaway,
        "unit": "payments",
        "x_label": grain,
        "y_label": "share of outgoing payments",
        "percent": True,
        "categories": [r["period"] for r in found],
        "series": [{"name": n, "tone": t, "values": [r[k] for r in found]} for k, n, t in series],
    }
