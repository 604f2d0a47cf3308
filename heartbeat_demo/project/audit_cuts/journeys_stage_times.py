"""How long each step of a payment takes, and what is sitting in each step now."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days
from heartbeat_core.formatting import counted

META = {
    "page": "journeys",
    "title": "Where payments spend their time",
    "kind": "table",
    "window_default": "7d",
    "windows": ["7d", "30d", "90d"],
    "metrics": [
        "payment_processing_time_p50_24h",
        "payment_processing_time_p95_24h",
        "outgoing_payments_stuck",
    ],
    "description": "Processing time is up: which step of the journey got slower, and is anything stuck in it now?",
    "how_to_read": "One row per step of the payment journey, from its state log: how many payments passed "
    "through it in the window and the median, p90 and p99 minutes they spent there; then how many sit in "
    "that step right now and for how long the oldest has waited. Screening normally takes under a "
    "minute and settlement a few. A step whose p99 stretches while its median holds is a queue forming; "
    "flagged rows have a payment waiting over an hour — that is the stuck-payments tile.",
    "order": 30,
}

SQL = """
WITH p AS (
    SELECT p.id, p.type_id, p.create_time AS created,
           CASE WHEN p.state_id IN (4, 5) AND p.updated_at < %(as_of)s THEN p.updated_at END AS done
    FROM webbank.payment p
    WHERE p.create_time >= %(as_of)s - make_interval(days => %(days)s) AND p.create_time < %(as_of)s),
d AS (
    SELECT l.payment_id, min(l."timestamp") AS decided FROM webbank.payment_state_log l
    WHERE l.state_id IN (2, 3)
      AND l."timestamp" >= %(as_of)s - make_interval(days => %(days)s) AND l."timestamp" < %(as_of)s
    GROUP BY 1),
o AS MATERIALIZED (SELECT p.created, p.done, d.decided FROM p JOIN d ON d.payment_id = p.id WHERE p.type_id = 1),
steps AS (
    SELECT 1 AS ord, 'Outgoing: screening (created → decided)' AS step,
           extract(epoch FROM decided - created) / 60 AS minutes FROM o
    UNION ALL
    SELECT 2, 'Outgoing: settlement (approved → completed)', extract(epoch FROM done - decided) / 60
    FROM o WHERE done IS NOT NULL
    UNION ALL
    SELECT 3, 'Incoming and internal: created → completed', extract(epoch FROM done - created) / 60
    FROM p WHERE type_id <> 1 AND done IS NOT NULL)
SELECT ord, step, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) AS p90,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY minutes) AS p99
FROM steps GROUP BY ord, step ORDER BY ord
"""

NOW_SQL = """
SELECT CASE WHEN type_id = 1 AND state_id = 1 THEN 1 WHEN type_id = 1 THEN 2 ELSE 3 END AS ord,
       count(*) AS waiting, max(extract(epoch FROM %(as_of)s - updated_at) / 60) AS oldest
FROM webbank.payment
WHERE state_id IN (1, 2) AND create_time < %(as_of)s
GROUP BY 1
"""


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL, {"days": window_days(window)})
    now = {r["ord"]: r for r in rows(conn, NOW_SQL)}
    table = []
    for r in found:
        w = now.get(r["ord"], {})
        oldest = w.get("oldest")
        table.append(
            {
                "step": r["step"],
                "payments": r["n"],
                "p50": _r(r["p50"]),
                "p90": _r(r["p90"]),
                "p99": _r(r["p99"]),
                "waiting_now": w.get("waiting", 0),
                "oldest_waiting": _r(oldest),
                "stuck": (oldest or 0) > 60,
            }
        )
    slowest = max(table, key=lambda t: t["p90"] or 0) if table else None
    stuck = [t for t in table if t["stuck"]]
    if slowest:
        takeaway = f"Slowest step: {slowest['step'].lower()} (p90 {slowest['p90']:.1f} min)"
        takeaway += (
            f"; {counted(sum(t['waiting_now'] for t in stuck), 'payment')} waiting over an hour"
            if stuck
            else "; nothing stuck now"
        )
    else:
        takeaway = "No payments in this window"
    return {
        "takeaway": takeaway,
        "unit": "minutes",
        "columns": [
            {"key": "step", "label": "Step"},
            {"key": "payments", "label": "Payments", "unit": "count"},
            {"key": "p50", "label": "Median", "unit": "minutes"},
            {"key": "p90", "label": "p90", "unit": "minutes"},
            {"key": "p99", "label": "p99", "unit": "minutes"},
            {"key": "waiting_now", "label": "In this step now", "unit": "count"},
            {"key": "oldest_waiting", "label": "Oldest waiting", "unit": "minutes"},
        ],
        "rows": table,
        "highlight_key": "stuck",
    }
