"""Alerts on entity events on real Postgres and a real Slack receiver on loopback: a new client inside an
already-red metric is told once (naming it, its weight and rows, and since when the metric is red), a client
that pays is a resolved line, and acknowledging a client silences the reminder but not the next new client."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from heartbeat_core import alerts, clock
from heartbeat_core.alerts.acknowledge import acknowledge
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.settings import reset_settings
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)

METRIC = "shop_unpaid_invoices"


def _text(receiver: SlackReceiver, index: int) -> str:
    return "\n".join(b["text"]["text"] for b in receiver.accepted[index].json["blocks"])


def _add_invoice(url: str, invoice_id: int, customer: str, amount: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO shop.invoices VALUES (%s, %s, %s, %s, NULL)",
            (invoice_id, customer, amount, clock.now() - timedelta(days=40)),
        )
    assert compute_metrics([METRIC]).ok


def test_new_client_in_a_red_is_told_once_and_gone_resolves(mini_world: str, slack: SlackReceiver) -> None:
    with psycopg.connect(mini_world, autocommit=True) as conn:
        alerts.evaluate_and_deliver(conn)  # the metric's own red
    assert len(slack.accepted) == 1
    _add_invoice(mini_world, 20, "Hooli", 2500)
    with psycopg.connect(mini_world, autocommit=True) as conn:
        report = alerts.evaluate_and_deliver(conn)
        told = report["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["kind"]) for e in told] == [(METRIC, "entity_new")]
        assert len(slack.accepted) == 2
        text = _text(slack, 1)
        assert "NEW CLIENT in Customers with unpaid invoices: Hooli — already red since" in text
        assert "• Hooli · EUR 2,500 · in it since today" in text and "↳ Hooli — invoices 1" in text
        assert "The metric was already red since" in text
        logged = conn.execute(
            "SELECT subject_type, subject_id, kind FROM heartbeat.alert_notification WHERE kind LIKE 'entity%'"
        ).fetchall()
        assert logged == [("entity", f"{METRIC}/client:Hooli", "entity_new")]
        assert alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"] == []
        assert len(slack.accepted) == 2
        conn.execute("UPDATE shop.invoices SET paid_at = %s WHERE customer = 'Hooli'", (clock.now(),))
    assert compute_metrics([METRIC]).ok
    with psycopg.connect(mini_world, autocommit=True) as conn:
        told = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
    assert [e["kind"] for e in told] == []  # seen only today, then paid: no longer an event at all
    assert len(slack.accepted) == 2


def test_acknowledged_client_stops_the_reminder_but_a_new_client_alerts(
    mini_world: str, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_SLACK_LEVELS", "red,resolved")
    monkeypatch.setenv("HEARTBEAT_ALERT_REPEAT", "6h")
    reset_settings()
    start = clock.now()
    with psycopg.connect(mini_world, autocommit=True) as conn, clock.frozen_clock(start) as moment:
        alerts.evaluate_and_deliver(conn)
        moment[0] = start + timedelta(hours=6, minutes=1)
        again = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["repeat"]) for e in again] == [(METRIC, True)]
        reminder = _text(slack, 1)
        assert "Not acknowledged; red since" in reminder and "In it: ACME Ltd" in reminder

        acknowledge(conn, "client:ACME Ltd", "finance@example.com", "collections agency on it")
        moment[0] = start + timedelta(hours=12, minutes=2)
        assert alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"] == []
        assert len(slack.accepted) == 2
    with clock.frozen_clock(start + timedelta(hours=12, minutes=3)):
        _add_invoice(mini_world, 21, "Initech", 900)
        with psycopg.connect(mini_world, autocommit=True) as conn:
            told = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
    assert [e["kind"] for e in told] == ["entity_new"]
    assert "NEW CLIENT in Customers with unpaid invoices: Initech" in _text(slack, 2)
