"""From signup to first payment: where new clients drop out."""

import itertools
from typing import Any

import psycopg

from heartbeat_core.audit.helpers import one, window_days

META = {
    "page": "clients",
    "title": "Onboarding funnel: signup to first payment",
    "kind": "funnel",
    "window_default": "30d",
    "windows": ["7d", "30d", "90d"],
    "metrics": ["onboarding_funnel_30d", "onboarding_approval_rate_7d"],
    "description": "The funnel metric is low: at which step do new clients stop?",
    "how_to_read": "Clients who signed up in the window, and how many of them have reached each step by now. "
    "The drop from decided to approved is compliance; from approved to a first payment is product and "
    "activation; the last step is clients who also hold a card (cards are optional for standard clients). For a short window the later steps are naturally thinner (clients have had less time), "
    "so compare a step with the same window last month rather than with the steps before it.",
    "order": 30,
}

SQL = """
WITH cohort AS (
    SELECT id FROM webbank.client_profile
    WHERE created_at >= %(as_of)s - make_interval(days => %(days)s) AND created_at < %(as_of)s),
d AS (
    SELECT l.client_profile_id AS id, bool_or(l.profile_state = 'approved') AS approved
    FROM webbank.client_profile_state_log l JOIN cohort c ON c.id = l.client_profile_id
    WHERE l."timestamp" < %(as_of)s AND l.profile_state IN ('approved', 'rejected')
    GROUP BY 1),
cards AS (
    SELECT DISTINCT cd.client_profile_id AS id FROM card_management.card cd JOIN cohort c ON c.id = cd.client_profile_id
    WHERE cd.issued_at < %(as_of)s),
paid AS (
    SELECT DISTINCT e.client_profile_id AS id FROM webbank.entry e JOIN cohort c ON c.id = e.client_profile_id
    WHERE e.create_time < %(as_of)s)
SELECT (SELECT count(*) FROM cohort) AS signed_up,
       (SELECT count(*) FROM d) AS decided,
       (SELECT count(*) FROM d WHERE approved) AS approved,
       (SELECT count(*) FROM d JOIN paid USING (id) WHERE d.approved) AS paid,
       (SELECT count(*) FROM d JOIN paid USING (id) JOIN cards USING (id) WHERE d.approved) AS carded
"""


def compute(conn: psycopg.Connection[Any], *, window: str) -> dict[str, Any]:
    r = one(conn, SQL, {"days": window_days(window)})
    steps = [
        ("Signed up", r["signed_up"]),
        ("Decided", r["decided"]),
        ("Approved", r["approved"]),
        ("First payment", r["paid"]),
        ("Paying with a card", r["carded"]),
    ]
    biggest = None
    for (a, va), (b, vb) in itertools.pairwise(steps[:4]):  # the card step is optional
        if va and (biggest is None or (va - vb) / va > biggest[2]):
            biggest = (a, b, (va - vb) / va)
    takeaway = f"{r['paid']:,} of {r['signed_up']:,} signups made a first payment ({100 * r['paid'] / max(r['signed_up'], 1):.0f}%)"
    if biggest:
        takeaway += f"; the biggest drop is {biggest[0].lower()} → {biggest[1].lower()} ({100 * biggest[2]:.0f}% lost)"
    return {
        "takeaway": takeaway,
        "unit": "clients",
        "steps": [{"label": label, "value": value} for label, value in steps],
    }
