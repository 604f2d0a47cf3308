"""Approval within 7 days by signup cohort and tier."""

from datetime import date
from typing import Any

import psycopg

from heartbeat_core.audit.helpers import as_of, rows, window_days
from heartbeat_core.formatting import format_date

META = {
    "page": "clients",
    "title": "Approval within 7 days, by signup cohort and tier",
    "kind": "heat_table",
    "window_default": "90d",
    "windows": ["30d", "90d"],
    "metrics": ["onboarding_cohort_approval_30d", "onboarding_approval_rate_7d"],
    "description": "Did approval get stricter for everyone, or for one kind of client, and from which week?",
    "how_to_read": "Rows are weekly signup cohorts (newest first), columns client tiers, cells the share of "
    "the cohort approved within 7 days of signing up (darker is lower — worse). Business and top "
    "applicants need more documents and approve a little less often; a whole row turning dark is a "
    "process change that week, a column turning dark is a policy aimed at that tier. The newest "
    "week is incomplete until its applicants are 7 days old.",
    "order": 40,
}

SQL = """
WITH c AS (
    SELECT c.id, c.tier, c.created_at, to_char(date_trunc('week', c.created_at), 'YYYY-MM-DD') AS cohort
    FROM webbank.client_profile c
    WHERE c.created_at >= date_trunc('week', %(as_of)s - make_interval(days => %(days)s - 1)) AND c.created_at < %(as_of)s),
ok AS (
    SELECT l.client_profile_id AS id, min(l."timestamp") AS approved_at
    FROM webbank.client_profile_state_log l JOIN c ON c.id = l.client_profile_id
    WHERE l.profile_state = 'approved' AND l."timestamp" < %(as_of)s GROUP BY 1)
SELECT c.cohort, c.tier, count(*) AS n,
       count(*) FILTER (WHERE ok.approved_at < c.created_at + interval '7 days') AS approved_7d
FROM c LEFT JOIN ok ON ok.id = c.id
GROUP BY 1, 2
"""

TIERS = ("standard", "premium", "business", "top")


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    at = as_of(conn)
    found = rows(conn, SQL, {"days": window_days(window), "as_of": at})
    cohorts = sorted({r["cohort"] for r in found}, reverse=True)
    cell = {(r["cohort"], r["tier"]): r for r in found}
    values = []
    for cohort in cohorts:
        line = []
        for tier in TIERS:
            r = cell.get((cohort, tier))
            line.append(round(100 * r["approved_7d"] / r["n"], 1) if r and r["n"] else None)
        n = sum(cell[(cohort, t)]["n"] for t in TIERS if (cohort, t) in cell)
        ok = sum(cell[(cohort, t)]["approved_7d"] for t in TIERS if (cohort, t) in cell)
        line.append(round(100 * ok / n, 1) if n else None)
        values.append(line)
    complete = values[1:] if len(values) > 1 else values
    alls = [v[-1] for v in complete if v[-1] is not None]
    last = cohorts[1] if len(cohorts) > 1 else cohorts[0] if cohorts else None
    week = format_date(date.fromisoformat(last), at.date()) if last else ""
    takeaway = (
        f"Last complete cohort (week of {week}): {alls[0]:.0f}% approved within 7 days; "
        f"window range {min(alls):.0f}–{max(alls):.0f}%"
        if alls
        else "No signups in this window"
    )
    return {
        "takeaway": takeaway,
        "unit": "pct",
        "row_label": "signup week",
        "column_label": "tier",
        "rows": cohorts,
        "columns": [*TIERS, "all"],
        "values": values,
        "higher_is_worse": False,
        "notes": ["The newest week is incomplete until its applicants are 7 days old."],
    }
