"""Alerts end to end on real Postgres and real HTTP receivers on loopback: the canonical incident
(red naming the client → nothing new → paid → resolved), repeats, snooze, a channel configured later."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from heartbeat_core import alerts, clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.settings import reset_settings
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    WebhookReceiver,
    no_channels_fixture,
    slack_fixture,
)


def _state(conn: psycopg.Connection, metric_id: str) -> readmodel.MetricState:
    return readmodel.metric_states(conn, [metric_id])[0]


def _events(receiver: SlackReceiver, index: int) -> str:
    return "\n".join(b["text"]["text"] for b in receiver.accepted[index].json["blocks"])


def test_canonical_incident_red_once_then_resolved(mini_world: str, slack: SlackReceiver) -> None:
    with psycopg.connect(mini_world, autocommit=True) as conn:
        before = _state(conn, "shop_unpaid_invoices")
        assert before.status == "red"

        first = alerts.evaluate_and_deliver(conn)
        assert first["delivery"]["sent"] == 1
        assert len(slack.accepted) == 1
        payload = slack.accepted[0].json
        reds = [e for e in first["evaluation"]["notifications"]["slack"] if e["kind"] == "red"]
        assert [e["metric_id"] for e in reds] == ["shop_unpaid_invoices"]
        text = _events(slack, 0)
        assert "RED: Customers with unpaid invoices" in text
        assert "ACME Ltd — invoices 3" in text and "EUR 12,400" in text
        assert before.reason in text  # the read model's reason, verbatim
        assert "https://heartbeat.example.com/metrics/shop_unpaid_invoices" in text
        assert "RED" in payload["text"] and len(payload["blocks"]) <= 50
        # default levels: red, stale, resolved — the amber refund rate is not announced, the stale fx source is
        kinds = sorted(e["kind"] for e in first["evaluation"]["notifications"]["slack"])
        assert kinds == ["red", "stale"]
        assert "shop_refund_rate_7d" not in text

        second = alerts.evaluate_and_deliver(conn)
        assert second["evaluation"]["notifications"]["slack"] == []
        assert second["delivery"]["sent"] == 0
        assert len(slack.accepted) == 1
        assert _state(conn, "shop_unpaid_invoices").reason == before.reason

        conn.execute("UPDATE shop.invoices SET paid_at = %s WHERE customer = 'ACME Ltd'", (clock.now(),))
    report = compute_metrics(["shop_unpaid_invoices"])
    assert report.ok
    with psycopg.connect(mini_world, autocommit=True) as conn:
        after = _state(conn, "shop_unpaid_invoices")
        assert after.status in ("green", "amber")  # norm 0: a paid-up zero sits on the amber line
        third = alerts.evaluate_and_deliver(conn)
        events = third["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["kind"]) for e in events] == [("shop_unpaid_invoices", "resolved")]
        assert len(slack.accepted) == 2
        text = _events(slack, 1)
        assert "RESOLVED: Customers with unpaid invoices" in text
        assert after.reason in text
        fourth = alerts.evaluate_and_deliver(conn)
        assert fourth["evaluation"]["notifications"]["slack"] == []
        assert len(slack.accepted) == 2
        logged = conn.execute(
            "SELECT kind FROM heartbeat.alert_notification WHERE metric_id = 'shop_unpaid_invoices' ORDER BY id"
        ).fetchall()
        assert [r[0] for r in logged] == ["red", "resolved"]


def test_still_red_repeats_after_the_interval(
    mini_world: str, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_SLACK_LEVELS", "red")
    monkeypatch.setenv("HEARTBEAT_ALERT_REPEAT", "6h")
    reset_settings()
    start = clock.now()
    with psycopg.connect(mini_world, autocommit=True) as conn, clock.frozen_clock(start) as moment:
        alerts.evaluate_and_deliver(conn)
        assert len(slack.accepted) == 1
        moment[0] = start + timedelta(hours=5)
        assert alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"] == []
        moment[0] = start + timedelta(hours=6, minutes=1)
        again = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["repeat"]) for e in again] == [("shop_unpaid_invoices", True)]
        assert "STILL RED" in _events(slack, 1)
        moment[0] = start + timedelta(hours=7)
        assert alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"] == []
    assert len(slack.accepted) == 2


def test_snooze_silences_a_metric_until_it_ends(mini_world: str, slack: SlackReceiver) -> None:
    start = clock.now()
    with psycopg.connect(mini_world, autocommit=True) as conn, clock.frozen_clock(start) as moment:
        snoozed = alerts.snooze(
            conn, "shop_unpaid_invoices", start + timedelta(hours=2), actor="ops@example.com"
        )
        assert snoozed.active
        assert alerts.snoozed_until(conn, "shop_unpaid_invoices") == start + timedelta(hours=2)
        first = alerts.evaluate_and_deliver(conn)
        assert first["evaluation"]["snoozed"] == ["shop_unpaid_invoices"]
        assert [e["metric_id"] for e in first["evaluation"]["notifications"]["slack"]] == ["rates_coverage"]
        moment[0] = start + timedelta(hours=2, minutes=1)
        later = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["kind"]) for e in later] == [("shop_unpaid_invoices", "red")]
        edits = conn.execute(
            "SELECT actor, new_value FROM heartbeat.operator_edit WHERE field = 'alert_snooze'"
        ).fetchall()
        assert edits and edits[0][0] == "ops@example.com"
        with pytest.raises(KeyError):
            alerts.snooze(conn, "no_such_metric", start + timedelta(hours=1), actor="x")
        with pytest.raises(alerts.SnoozeInputError):
            alerts.snooze(
                conn, "shop_unpaid_invoices", (start + timedelta(hours=1)).replace(tzinfo=None), actor="x"
            )
        seen = alerts.metric_alerts(conn, "shop_unpaid_invoices")
        assert seen["snoozed_until"] is None  # the clock is past the snooze
        assert seen["channels"]["slack"]["status_notified"] == "red"
        assert [(n["kind"], n["delivery"]) for n in seen["recent"]] == [("red", "sent")]
        lifted = alerts.snooze(conn, "shop_unpaid_invoices", None, actor="ops@example.com")
        assert not lifted.active and alerts.snoozes(conn) == []


def test_a_channel_configured_later_gets_what_is_firing(
    mini_world: str, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(mini_world, autocommit=True) as conn:
        alerts.evaluate_and_deliver(conn)
        assert len(slack.accepted) == 1
        hook = WebhookReceiver()
        try:
            monkeypatch.setenv("HEARTBEAT_WEBHOOK_URL", hook.url)
            monkeypatch.setenv("HEARTBEAT_WEBHOOK_SECRET", "whsec-test-secret")
            monkeypatch.setenv("HEARTBEAT_WEBHOOK_LEVELS", "red,amber,stale,resolved")
            reset_settings()
            report = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]
            assert report["slack"] == []
            assert sorted((e["metric_id"], e["kind"]) for e in report["webhook"]) == [
                ("rates_coverage", "stale"),
                ("shop_refund_rate_7d", "amber"),
                ("shop_unpaid_invoices", "red"),
            ]
            assert len(hook.accepted) == 1
            body = hook.accepted[0].json
            assert body["type"] == "heartbeat.alerts"
            assert body["idempotency_key"] == hook.accepted[0].headers["x-heartbeat-idempotency-key"]
            red = next(e for e in body["events"] if e["kind"] == "red")
            assert red["details"][0].startswith("ACME Ltd")
        finally:
            hook.close()
    assert len(slack.accepted) == 1


def test_the_recompute_job_runs_the_alert_phase(mini_world: str, slack: SlackReceiver) -> None:
    from heartbeat_core.jobs import ledger, runner

    first = runner.request_recompute(ingest=False, background=False)
    view = ledger.get_job(first.job_id)
    assert view is not None
    hooks = {h.name.rsplit(".", 1)[-1]: h for h in view.hooks}
    assert hooks["evaluate_and_deliver"].state == "succeeded", hooks["evaluate_and_deliver"].error
    assert len(slack.accepted) == 1 and "ACME Ltd" in _events(slack, 0)

    second = runner.request_recompute(ingest=False, background=False)
    assert second.job_id != first.job_id
    assert len(slack.accepted) == 1  # nothing new

    with psycopg.connect(mini_world, autocommit=True) as conn:
        conn.execute("UPDATE shop.invoices SET paid_at = %s WHERE customer = 'ACME Ltd'", (clock.now(),))
    runner.request_recompute(["shop_unpaid_invoices"], ingest=False, background=False)
    assert len(slack.accepted) == 2 and "RESOLVED: Customers with unpaid invoices" in _events(slack, 1)
    with psycopg.connect(mini_world, autocommit=True) as conn:
        jobs_seen = [r[0] for r in conn.execute("SELECT job_id FROM heartbeat.alert_evaluation ORDER BY 1")]
    assert first.job_id in jobs_seen and second.job_id in jobs_seen


def test_the_alert_phase_follows_up_a_short_rate_limit(mini_world: str, slack: SlackReceiver) -> None:
    from tests.test_alerts_support import Reply

    slack.script.append(Reply(429, b"rate_limited", {"Retry-After": "1"}))
    with psycopg.connect(mini_world, autocommit=True) as conn:
        result = alerts.evaluate_and_deliver(conn)
    assert result["delivery"]["sent"] == 1 and result["delivery"]["passes"] == 2
    assert len(slack.requests) == 2 and len(slack.accepted) == 1


def test_concurrent_evaluations_queue_each_transition_once(mini_world: str, slack: SlackReceiver) -> None:
    import threading

    reports: list[alerts.EvaluationReport] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        with psycopg.connect(mini_world, autocommit=True) as conn:
            barrier.wait()
            reports.append(alerts.evaluate(conn))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r.notifications["slack"]) for r in reports) == [0, 0, 0, 2]
    with psycopg.connect(mini_world, autocommit=True) as conn:
        assert alerts.deliver(conn).sent and len(alerts.outbox_rows(conn)) == 1
    assert len(slack.accepted) == 1
