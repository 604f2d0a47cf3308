"""Drivers on the demo world (scale 1): the segments that moved name the cause, and incidents join on them.

No relations are declared in any metric header: revenue joins the screening incident only because its drivers
are the same currencies as the approval drop's.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest
from mcp import Client

from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.db import connect
from heartbeat_core.readmodel import cockpit_snapshot
from heartbeat_core.readmodel.typical import refresh_typical
from heartbeat_mcp.server import build_server
from tests.test_mcp import data

pytestmark = [pytest.mark.db, pytest.mark.slow]

NON_EUR = {"USD", "GBP", "CHF", "PLN", "SEK", "NOK", "DKK"}
STALLED = {"c.muller", "d.rossi", "e.novak"}
APPROVAL = "outgoing_payment_approval_rate_24h"


def _by_id(snapshot: Any) -> dict[str, Any]:
    return {m.metric_id: m for m in snapshot.metrics}


def test_drivers_name_the_currencies_and_the_reviewers(demo_world: Any) -> None:
    with connect() as conn:
        snapshot = cockpit_snapshot(conn)
    states = _by_id(snapshot)
    approval = states[APPROVAL].drivers
    assert approval, states[APPROVAL]
    print([(d.segment, round(d.share, 3), d.value, d.typical) for d in approval])
    assert {d.dimension for d in approval} == {"currency"}
    named = {d.segment for d in approval}
    assert named <= NON_EUR and "EUR" not in named
    assert sum(d.share for d in approval if d.segment in NON_EUR) >= 0.8
    assert all(d.value is not None and d.value < 50 and (d.typical or 0) > 90 for d in approval)

    backlog = states["aml_review_backlog"].drivers
    assert backlog, states["aml_review_backlog"]
    print([(d.segment, round(d.share, 3), d.value, d.typical) for d in backlog])
    assert {d.segment for d in backlog} == STALLED
    assert sum(d.share for d in backlog) >= 0.8
    # A green metric explains nothing.
    assert all(m.drivers is None for m in snapshot.metrics if m.display_state == "green")


def test_four_incidents_through_the_mcp_client(demo_world: Any) -> None:
    """Collateral (ACME), screening with its revenue knock-ons, AML, stale rates: four, none merged.

    The session's world has 30 days of history; revenue_24h's weekday band needs 8 same weekdays, so its
    history is extended here (as `heartbeat compute --backfill` would) until the band holds and it is red."""
    compute_metrics(["revenue_24h"], backfill_days=70)
    with connect() as conn:
        refresh_typical(conn, ["revenue_24h"])
        conn.commit()
        assert cockpit_snapshot(conn).metrics[0].metric_id  # the read model rebuilt

    async def main() -> None:
        async with Client(build_server(actor="mcp-test")) as client:
            incidents = data(await client.call_tool("what_is_red", {}))["incidents"]
        groups = {frozenset(i["metrics"]): i for i in incidents}
        print([(sorted(g), i["headline"]) for g, i in groups.items()])
        screening = next(i for i in incidents if APPROVAL in i["metrics"])
        assert set(screening["metrics"]) == {APPROVAL, "revenue_24h", "revenue_7d"}
        assert screening["metrics"][0] == APPROVAL
        assert any(e.startswith("segment currency=") for e in screening.get("evidence", []))
        headline = screening["headline"]
        assert "USD" in headline and "Revenue" in headline and "down" in headline
        assert re.search(r"since \d{1,2} [A-Z][a-z]{2}\b", headline) and not re.search(
            r"\d{4}-\d\d", headline
        )
        aml = next(i for i in incidents if "aml_review_backlog" in i["metrics"])
        assert set(aml["metrics"]) >= {"aml_review_backlog", "aml_review_backlog_days",
                                       "aml_reviews_pending_over_72h"}  # fmt: skip
        assert any(name in aml["headline"] for name in STALLED)
        collateral = next(i for i in incidents if "card_collateral_overdue_amount" in i["metrics"])
        rates = next(i for i in incidents if "currency_rate_coverage" in i["metrics"])
        assert set(collateral["metrics"]) == {
            "card_collateral_overdue_amount",
            "card_collateral_overdue_clients",
        }
        assert set(rates["metrics"]) == {
            "currency_rate_coverage",
            "currency_rate_max_daily_move",
            "payment_volume_eur_24h",
        }
        ids = {screening["incident_id"], aml["incident_id"], collateral["incident_id"], rates["incident_id"]}
        assert len(ids) == 4

    anyio.run(main)
