"""AML outcomes by trigger reason: which reasons lead to escalation."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows

META = {
    "page": "risk",
    "title": "AML decisions by trigger reason",
    "kind": "heat_table",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["aml_escalation_rate_30d"],
    "description": "When the escalation rate moves, which kind of review is driving it?",
    "how_to_read": "Rows are what triggered the review, columns what the reviewer decided, cells the share of "
    "that row's completed reviews (darker is more). Most reviews clear. A reason whose escalate or "
    "request-info share stands out is where the screening rules or the client base changed; a PEP hit "
    "escalating more often is expected, periodic reviews escalating is not.",
    "order": 50,
}

SQL = """
SELECT reason, decision, count(*) AS n FROM aml.aml_retrospective
WHERE reviewed_at >= %(as_of)s - make_interval(days => %(days)s) AND reviewed_at < %(as_of)s
  AND decision IS NOT NULL
GROUP BY 1, 2
"""

DECISIONS = ("clear", "request_info", "escalate")


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    from heartbeat_core.audit.helpers import window_days

    found = rows(conn, SQL, {"days": window_days(window)})
    reasons = sorted({r["reason"] for r in found})
    counts = {(r["reason"], r["decision"]): r["n"] for r in found}
    values = []
    for reason in reasons:
        total = sum(counts.get((reason, d), 0) for d in DECISIONS)
        values.append(
            [round(100 * counts.get((reason, d), 0) / total, 1) if total else None for d in DECISIONS]
        )
    esc = {reason: v[2] for reason, v in zip(reasons, values, strict=True) if v[2] is not None}
    total_n = sum(r["n"] for r in found)
    overall = 100 * sum(r["n"] for r in found if r["decision"] == "escalate") / total_n if total_n else 0
    if esc:
        worst = max(esc, key=lambda k: esc[k])
        label = worst.replace("_", " ")
        takeaway = f"{overall:.1f}% of {total_n} completed reviews escalated; highest for {label} ({esc[worst]:.1f}%)"
    else:
        takeaway = "No reviews completed in this window"
    return {
        "takeaway": takeaway,
        "unit": "pct",
        "row_label": "trigger",
        "column_label": "decision",
        "rows": [r.replace("_", " ") for r in reasons],
        "columns": ["clear", "request info", "escalate"],
        "values": values,
    }
