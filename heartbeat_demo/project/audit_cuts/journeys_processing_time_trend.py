"""Daily median and p95 processing time of outgoing payments, against the metric's lines."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows, window_days

META = {
    "page": "journeys",
    "title": "Processing time per day: median and p95",
    "kind": "line",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["payment_processing_time_p50_24h", "payment_processing_time_p95_24h"],
    "description": "Is today's processing time an outlier, or has it been creeping up?",
    "how_to_read": "Minutes from creation to completion for outgoing payments completed each day: the median "
    "(the typical client's experience) and the p95 (the unlucky one in twenty). The dashed lines are the "
    "p95 metric's norm (amber) and alert (red). A p95 that climbs day by day while the median holds is a "
    "growing queue at the slow end; both lines jumping together is a slower rail.",
    "order": 40,
}

SQL = """
SELECT updated_at::date AS day,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - create_time) / 60) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - create_time) / 60) AS p95
FROM webbank.payment
WHERE type_id = 1 AND state_id = 4
  AND updated_at >= %(as_of)s - make_interval(days => %(days)s) AND updated_at < %(as_of)s
GROUP BY 1 ORDER BY 1
"""

LINES_SQL = """
SELECT norm_value, alert_value FROM heartbeat.metric_registry
WHERE metric_id = 'payment_processing_time_p95_24h' AND retired_at IS NULL
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL, {"days": window_days(window)})
    try:
        lines = rows(conn, LINES_SQL)
    except Exception:  # a source database without heartbeat's registry: no lines
        lines = []
    norm = lines[0]["norm_value"] if lines else None
    alert = lines[0]["alert_value"] if lines else None
    p95s = [r["p95"] for r in found]
    if p95s:
        last, worst = p95s[-1], max(p95s)
        takeaway = f"p95 {last:.1f} min on the latest day (window high {worst:.1f} min); median {found[-1]['p50']:.1f} min"
    else:
        takeaway = "No completed outgoing payments in this window"
    return {
        "takeaway": takeaway,
        "unit": "minutes",
        "x_label": "day completed",
        "y_label": "minutes",
        "series": [
            {"name": "Median", "points": [{"x": r["day"], "y": round(r["p50"], 2)} for r in found]},
            {"name": "p95", "points": [{"x": r["day"], "y": round(r["p95"], 2)} for r in found]},
        ],
        "lines": {
            "norm": float(norm) if norm is not None else None,
            "alert": float(alert) if alert is not None else None,
        },
    }
