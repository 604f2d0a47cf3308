"""Applications waiting for a decision, oldest first."""

from typing import Any

import psycopg

from heartbeat_core.audit.helpers import rows

META = {
    "page": "clients",
    "title": "Applications waiting for a decision",
    "kind": "table",
    "window_default": "30d",
    "windows": ["30d"],
    "metrics": ["onboarding_pending_over_48h", "onboarding_time_to_decision_p50_7d"],
    "description": "Who has been waiting for onboarding longest, and who should pick them up?",
    "how_to_read": "Every application submitted and not yet decided, oldest first. Most decisions land "
    "within a day; rows flagged red have waited over 48 hours — the pending-applications tile counts "
    "them. A business or top applicant waiting days is a lost account in the making. A snapshot: the "
    "window switcher does not change it.",
    "order": 50,
    "names": True,
}

SQL = """
SELECT c.id, c.name, c.tier, c.country, c.created_at AS submitted,
       extract(epoch FROM %(as_of)s - c.created_at) / 3600 AS hours
FROM webbank.client_profile c
WHERE c.created_at < %(as_of)s
  AND c.created_at >= %(as_of)s - interval '90 days'
  AND NOT EXISTS (SELECT 1 FROM webbank.client_profile_state_log l
                  WHERE l.client_profile_id = c.id AND l.profile_state IN ('approved', 'rejected')
                    AND l."timestamp" < %(as_of)s)
ORDER BY c.created_at
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    found = rows(conn, SQL)
    late = [r for r in found if r["hours"] > 48]
    table = [
        {
            "client": r["name"],
            "tier": r["tier"],
            "country": r["country"],
            "submitted": r["submitted"],
            "hours_waiting": round(r["hours"], 1),
            "late": r["hours"] > 48,
        }
        for r in found[:50]
    ]
    if found:
        takeaway = f"{len(found)} waiting; {len(late)} over 48 h, the oldest {found[0]['hours']:.0f} h ({found[0]['name']}, {found[0]['tier']})"
    else:
        takeaway = "No application is waiting for a decision"
    return {
        "takeaway": takeaway,
        "unit": "hours",
        "columns": [
            {"key": "client", "label": "Applicant"},
            {"key": "tier", "label": "Tier"},
            {"key": "country", "label": "Country"},
            {"key": "submitted", "label": "Submitted"},
            {"key": "hours_waiting", "label": "Waiting", "unit": "hours"},
        ],
        "rows": table,
        "total_rows": len(found),
        "highlight_key": "late",
    }
