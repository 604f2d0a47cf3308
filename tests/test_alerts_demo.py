"""The seed's canonical incident on the real demo world: ACME Ltd has not paid its MasterCard collateral for
four months. One incident message (the two collateral metrics, as the cockpit's card) names the client; a second
run says nothing new; paying in the source and recomputing (ingest → compute → alert phase, the one refresh
path) sends one resolved message; the read model shows the same status and reason throughout."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from heartbeat_core import alerts, clock, readmodel
from heartbeat_core.jobs import ledger, runner
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)

METRIC = "card_collateral_overdue_clients"
AMOUNT = "card_collateral_overdue_amount"  # the incident's other member

pytestmark = pytest.mark.slow


def _collateral_events(report: dict[str, Any], incident_id: str) -> list[dict[str, Any]]:
    """What this channel was told about the collateral: its incident's messages (the members' own reds are
    inside them), never a separate red for the metric."""
    told = report["evaluation"]["notifications"]["slack"]
    assert [e for e in told if e["metric_id"] == METRIC] == []
    return [e for e in told if e["metric_id"] == incident_id]


def test_collateral_incident_alerts_once_and_resolves(demo_world: Any, slack: SlackReceiver) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        state = readmodel.metric_states(conn, [METRIC])[0]
        assert state.status == "red" and state.incident_id is None  # metric_states: no grouping
        incident = next(i for i in readmodel.cockpit_snapshot(conn).incidents if METRIC in i.metrics)
        first = alerts.evaluate_and_deliver(conn)
        assert [e["kind"] for e in _collateral_events(first, incident.incident_id)] == ["incident_opened"]
        assert len(slack.accepted) == 1 and first["delivery"]["failed"] == 0
        blocks = slack.accepted[0].json["blocks"]
        print(slack.accepted[0].json["text"])
        print(f"demo world first evaluation: {len(first['evaluation']['notifications']['slack'])} notifications,"
              f" {len(blocks)} blocks, {len(slack.accepted[0].body)} bytes")  # fmt: skip
        section = next(b["text"]["text"] for b in blocks if "INCIDENT (2 metrics, red)" in b["text"]["text"])
        assert "Clients with overdue card collateral" in section and "Who: ACME Ltd" in section
        assert incident.headline in section
        assert readmodel.metric_states(conn, [METRIC])[0].reason == state.reason

        second = alerts.evaluate_and_deliver(conn)
        assert _collateral_events(second, incident.incident_id) == [] and len(slack.accepted) == 1

    now = clock.now()
    with psycopg.connect(demo_world.source_url, autocommit=True) as source:
        paid = source.execute(
            """UPDATE card_management.collateral_invoice ci SET paid_at = %s, updated_at = %s
               FROM webbank.client_profile c
               WHERE c.id = ci.client_profile_id AND c.name = 'ACME Ltd' AND ci.paid_at IS NULL""",
            (now, now),
        ).rowcount
    assert paid >= 4
    ticket = runner.request_recompute([METRIC, AMOUNT], trigger="test", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded", view.error if view else None

    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        after = readmodel.metric_states(conn, [METRIC])[0]
        assert after.status != "red", after.reason
        logged = conn.execute(
            "SELECT kind, reason FROM heartbeat.alert_notification WHERE metric_id = %s AND channel = 'slack'"
            " ORDER BY id",
            (METRIC,),
        ).fetchall()
    assert [r[0] for r in logged] == ["red", "resolved"]  # told inside the incident's two messages
    assert logged[0][1] == state.reason and logged[1][1] == after.reason
    assert len(slack.accepted) == 2
    text = "\n".join(b["text"]["text"] for b in slack.accepted[1].json["blocks"])
    assert "INCIDENT RESOLVED: " in text and "+1 more — all back to normal" in text
    assert "Clients with overdue card collateral" in text
