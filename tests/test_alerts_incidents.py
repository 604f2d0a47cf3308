"""Incident alerts end to end, on real loopback receivers (Slack, Telegram, webhook): one message when an
incident of several metrics opens, one when a member joins, one when it resolves; the members' own reds are
not sent on their own; a lone red metric still alerts as a metric."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core import alerts, clock
from heartbeat_core.alerts.view import metric_alerts
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.readmodel.incident_history import refresh_incidents
from tests.mini_world import build_mini_sources
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    TelegramReceiver,
    WebhookReceiver,
    no_channels_fixture,
    slack_fixture,
    telegram_fixture,
    telegram_visible_text,
    webhook_fixture,
)

# Three metrics read one table (their shared evidence: the incident), one reads another (a lone red).
_DEF = """-- name: {name}
-- period: snapshot
-- unit: payments
-- direction: lower_is_better
-- sources: shop
-- norm: 1
-- alert: 2
-- owner: {owner}@example.com
-- description: {name}.
-- how_to_read: Above zero is bad.

-- @value
SELECT v AS value FROM probe.{table} WHERE k = '{key}';
"""
METRICS = {
    "probe_stuck_a": ("Stuck payments in clearing", "levels", "a", "ops"),
    "probe_stuck_b": ("Stuck payments amount", "levels", "b", "ops"),
    "probe_stuck_c": ("Stuck payments over 24 h", "levels", "c", "treasury"),
    "probe_lone": ("Unmatched bank lines", "other", "x", "finance"),
}


def _world(url: str, defs: Path) -> None:
    defs.mkdir()
    for metric_id, (name, table, key, owner) in METRICS.items():
        text = _DEF.format(name=name, table=table, key=key, owner=owner)
        (defs / f"{metric_id}.sql").write_text(text)
    with psycopg.connect(url) as conn:
        build_mini_sources(conn, clock.now())
        conn.execute(
            """DROP SCHEMA IF EXISTS probe CASCADE; CREATE SCHEMA probe;
               CREATE TABLE probe.levels (k text PRIMARY KEY, v int);
               CREATE TABLE probe.other (k text PRIMARY KEY, v int);
               INSERT INTO probe.levels VALUES ('a', 4), ('b', 3), ('c', 0);
               INSERT INTO probe.other VALUES ('x', 2);"""
        )
        conn.commit()
        assert sync_directory(conn, defs).ok


def _job(url: str, levels: dict[str, int] | None = None) -> dict[str, Any]:
    """What the recompute job does: compute, record the incidents, evaluate and deliver."""
    with psycopg.connect(url, autocommit=True) as conn:
        for key, value in (levels or {}).items():
            table = "other" if key == "x" else "levels"
            conn.execute(f"UPDATE probe.{table} SET v = %s WHERE k = %s", (value, key))
    assert compute_metrics().ok
    with psycopg.connect(url) as conn:
        refresh_incidents(conn)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        return alerts.evaluate_and_deliver(conn)


def _kinds(result: dict[str, Any], channel: str) -> list[tuple[str, str]]:
    return sorted((n["kind"], n["metric_id"]) for n in result["evaluation"]["notifications"][channel])


def test_one_message_per_incident_opening_update_and_resolution(
    marts_url: str,
    slack: SlackReceiver,
    telegram: TelegramReceiver,
    webhook: WebhookReceiver,
    tmp_path: Path,
) -> None:
    _world(marts_url, tmp_path / "defs")

    opened = _job(marts_url)
    kinds = _kinds(opened, "webhook")
    assert [k for k, _ in kinds] == ["incident_opened", "red"]  # not three reds: one incident, one lone red
    assert ("red", "probe_lone") in kinds
    assert len(slack.accepted) == len(webhook.accepted) == 1 and len(telegram.accepted) == 1
    incident = next(e for e in webhook.accepted[0].json["events"] if e["subject_type"] == "incident")
    assert incident["members"] == ["probe_stuck_a", "probe_stuck_b"]
    assert incident["metric_id"].startswith("inc-")
    assert re.fullmatch(
        r"incident:inc-[0-9a-f]{6}:incident_opened:status:\d{8}T\d{6}Z", incident["idempotency_key"]
    )
    phone = telegram_visible_text(telegram.accepted[0].json["text"])
    assert "INCIDENT (2 metrics, red): Stuck payments in clearing 4 payments" in phone
    assert re.search(
        r"Started (\w{3} \d\d )?\d\d:\d\d UTC \(\d+(\.\d)? [hd] ago\) · 2 metrics · owner ops@", phone
    )
    assert "🔴 Stuck payments amount 3 payments — red" in phone  # names, not ids
    assert "RED: Unmatched bank lines" in phone
    assert "RED: Stuck payments" not in phone  # the members' own reds are inside the incident
    slack_text = "\n".join(b["text"]["text"] for b in slack.accepted[0].json["blocks"])
    assert "Heartbeat: 1 incident, 1 red" in slack_text
    with psycopg.connect(marts_url, autocommit=True) as conn:
        recent = metric_alerts(conn, "probe_stuck_b")["recent"]
    assert {(r["channel"], r["kind"], r["delivery"]) for r in recent} >= {("slack", "red", "sent")}

    again = _job(marts_url)
    assert again["evaluation"]["notifications"] == {"slack": [], "telegram": [], "webhook": []}

    grew = _job(marts_url, {"c": 5})
    assert _kinds(grew, "webhook") == [("incident_updated", incident["metric_id"])]
    update = webhook.accepted[-1].json["events"][0]
    assert update["joined"] == ["probe_stuck_c"] and len(update["members"]) == 3
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "INCIDENT GREW (+1)" in phone and "Stuck payments over 24 h 5 payments — red (joined)" in phone

    resolved = _job(marts_url, {"a": 0, "b": 0, "c": 0, "x": 0})
    assert _kinds(resolved, "webhook") == [
        ("incident_resolved", incident["metric_id"]),
        ("resolved", "probe_lone"),
    ]
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "INCIDENT RESOLVED" in phone and re.search(r"Open for \d+(\.\d)? [hd]|Open for \d+ min", phone)
    members = next(line for line in phone.splitlines() if line.startswith("Members: "))
    assert sorted(members.removeprefix("Members: ").split(", ")) == sorted(
        n for m, (n, *_) in METRICS.items() if m != "probe_lone"
    )
    assert len(webhook.accepted) == len(slack.accepted) == 3  # opened, grew, resolved: three messages

    reopened = _job(marts_url, {"a": 2, "b": 2})  # a new incident later is a new opening
    assert [k for k, _ in _kinds(reopened, "slack")] == ["incident_opened"]
