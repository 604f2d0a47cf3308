"""Issue 13 end to end on the demo world, with a real Slack receiver on loopback and the real MCP client:
while ACME Ltd's collateral is already red, a second client's collateral lapses and a batch of outgoing
payments gets stuck; one recompute (ingest → compute → alert phase) sends exactly one delivery naming the new
client and the stuck batch, nothing on re-evaluation; what_is_red and the cockpit tile name the new client;
acknowledging ACME silences ACME in the reminder while a third client still alerts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client

from heartbeat_core import alerts, clock, readmodel
from heartbeat_core.alerts.acknowledge import acknowledge
from heartbeat_core.jobs import ledger, runner
from heartbeat_mcp.server import build_server
from heartbeat_web.render import tile
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)
from tests.test_mcp import data

pytestmark = [pytest.mark.e2e, pytest.mark.db]

COLLATERAL = "card_collateral_overdue_clients"
STUCK = "outgoing_payments_stuck"


def _text(slack: SlackReceiver, index: int) -> str:
    return "\n".join(b["text"]["text"] for b in slack.accepted[index].json["blocks"])


def _lapse_one_client(source: psycopg.Connection[Any], now: datetime) -> tuple[str, str]:
    """Un-pay one invoice due 40+ days ago of a client that is not overdue yet; returns (id, name)."""
    row = source.execute(
        """SELECT ci.id, ci.client_profile_id, c.name FROM card_management.collateral_invoice ci
           JOIN webbank.client_profile c ON c.id = ci.client_profile_id
           WHERE ci.paid_at IS NOT NULL AND ci.due_date < %(now)s::date - 40
             AND ci.client_profile_id NOT IN (
                 SELECT client_profile_id FROM card_management.collateral_invoice
                 WHERE paid_at IS NULL AND due_date < %(now)s::date - 30)
           ORDER BY ci.due_date DESC, ci.id LIMIT 1""",
        {"now": now},
    ).fetchone()
    assert row is not None
    source.execute(
        "UPDATE card_management.collateral_invoice SET paid_at = NULL, updated_at = %s WHERE id = %s",
        (now, row[0]),
    )
    return str(row[1]), str(row[2])


def _stick_a_batch(source: psycopg.Connection[Any], now: datetime, size: int = 25) -> None:
    source.execute(
        """INSERT INTO webbank.payment (id, sender_profile_id, type_id, direction, amount, currency, state_id, state,
               reference, create_time, updated_at)
           SELECT (SELECT max(id) FROM webbank.payment) + g, (SELECT min(id) FROM webbank.client_profile), 1,
                  'outgoing', 250, 'EUR', 1, 'created', 'batch e2e', %(created)s, %(now)s
           FROM generate_series(1, %(size)s) g""",
        {"created": now - timedelta(hours=3), "now": now, "size": size},
    )


def _recompute() -> None:
    ticket = runner.request_recompute([COLLATERAL, STUCK], trigger="test", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded", view.error if view else None


def test_new_client_inside_an_old_red_is_heard(demo_world: Any, slack: SlackReceiver) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        assert readmodel.metric_states(conn, [COLLATERAL])[0].status == "red"
        alerts.evaluate_and_deliver(conn)  # ACME's red, told long ago
    before = len(slack.accepted)
    now = clock.now()
    with psycopg.connect(demo_world.source_url, autocommit=True) as source:
        second_id, second = _lapse_one_client(source, now)
        _stick_a_batch(source, now)
    _recompute()
    assert len(slack.accepted) == before + 1  # one grouped delivery for the job
    text = _text(slack, before)
    assert f"NEW CLIENT in Clients with overdue card collateral: {second} — already red since" in text
    # the new red is heard on its own, or as the incident it joins growing (alerts speak incidents)
    assert re.search(r"(RED|INCIDENT GREW \(\+1\)): Outgoing payments stuck over 1 hour", text), text
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        again = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [e for e in again if e["metric_id"] in (COLLATERAL, STUCK)] == []
        state = readmodel.metric_states(conn, [COLLATERAL])[0]
    assert len(slack.accepted) == before + 1
    assert state.entities is not None and [r.key for r in state.entities.new_since_previous_day] == [
        second_id
    ]
    drawn = tile(state)
    assert "NEW" in drawn.badges and drawn.culprit is not None and "2 clients" in drawn.culprit.counted

    async def ask() -> dict[str, Any]:
        async with Client(build_server(actor="mcp-test")) as client:
            return data(await client.call_tool("what_is_red", {}))

    item = next(i for i in anyio.run(ask)["items"] if i["metric_id"] == COLLATERAL)
    assert [r["label"] for r in item["entities"]["new_since_previous_day"]] == [second]

    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        acme = next(r for r in state.entities.top if r.label == "ACME Ltd")
        acknowledge(conn, f"client:{acme.key}", "finance@example.com", "in collections")
    with psycopg.connect(demo_world.source_url, autocommit=True) as source:
        _, third = _lapse_one_client(source, clock.now())
    _recompute()
    assert len(slack.accepted) == before + 2
    assert f"NEW CLIENT in Clients with overdue card collateral: {third}" in _text(slack, before + 1)

    with (
        psycopg.connect(demo_world.marts_url, autocommit=True) as conn,
        clock.frozen_clock(now + timedelta(hours=25)),
    ):
        alerts.evaluate_and_deliver(conn)
    reminder = _text(slack, len(slack.accepted) - 1)
    section = next(part for part in reminder.split("\n*") if "Clients with overdue card collateral" in part)
    assert "STILL RED" in section and "Not acknowledged; red since" in section
    assert f"In it: {second}" in section and f"In it: {third}" in section and "ACME Ltd" not in section
