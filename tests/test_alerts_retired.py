"""A metric retired while red (its file removed from metric_defs/, `heartbeat sync` sets `retired_at`) is
closed on every channel that was told about it, on real Postgres and real loopback receivers: one resolved
message that says why, told once; an incident keeps going while another member is still red and resolves
when none is; a metric restored later starts fresh."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core import alerts, clock
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.readmodel.incident_history import refresh_incidents
from tests.mini_world import MINI_DEFS, build_mini_sources
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

# Two metrics read one table (an incident when both are red), one reads another (a lone red).
_DEF = """-- name: {name}
-- period: snapshot
-- unit: payments
-- direction: lower_is_better
-- sources: shop
-- norm: 1
-- alert: 2
-- owner: ops@example.com
-- description: {name}.
-- how_to_read: Above zero is bad.

-- @value
SELECT v AS value FROM probe.{table} WHERE k = '{key}';
"""
METRICS = {
    "probe_stuck_a": ("Stuck payments in clearing", "levels", "a"),
    "probe_stuck_b": ("Stuck payments amount", "levels", "b"),
    "probe_lone": ("Unmatched bank lines", "other", "x"),
}
NOTHING = {"slack": [], "telegram": [], "webhook": []}


def _write(defs: Path, metric_id: str) -> None:
    name, table, key = METRICS[metric_id]
    (defs / f"{metric_id}.sql").write_text(_DEF.format(name=name, table=table, key=key))


def _world(url: str, defs: Path) -> None:
    defs.mkdir()
    for metric_id in METRICS:
        _write(defs, metric_id)
    with psycopg.connect(url) as conn:
        build_mini_sources(conn, clock.now())
        conn.execute(
            """DROP SCHEMA IF EXISTS probe CASCADE; CREATE SCHEMA probe;
               CREATE TABLE probe.levels (k text PRIMARY KEY, v int);
               CREATE TABLE probe.other (k text PRIMARY KEY, v int);
               INSERT INTO probe.levels VALUES ('a', 4), ('b', 3);
               INSERT INTO probe.other VALUES ('x', 2);"""
        )
        conn.commit()
        assert sync_directory(conn, defs).ok


def _sync(url: str, defs: Path) -> list[str]:
    with psycopg.connect(url) as conn:
        report = sync_directory(conn, defs)
    assert report.ok
    return report.retired


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


def _slack_text(receiver: SlackReceiver, index: int = -1) -> str:
    return "\n".join(b["text"]["text"] for b in receiver.accepted[index].json["blocks"])


def test_a_red_metric_retired_is_resolved_once_and_starts_fresh_when_restored(
    marts_url: str,
    slack: SlackReceiver,
    telegram: TelegramReceiver,
    webhook: WebhookReceiver,
    tmp_path: Path,
) -> None:
    defs = tmp_path / "defs"
    _world(marts_url, defs)
    first = _job(marts_url)
    assert ("red", "probe_lone") in _kinds(first, "webhook")
    assert len(slack.accepted) == len(telegram.accepted) == len(webhook.accepted) == 1

    (defs / "probe_lone.sql").unlink()
    assert _sync(marts_url, defs) == ["probe_lone"]
    retired = _job(marts_url)
    for channel in ("slack", "telegram", "webhook"):
        assert _kinds(retired, channel) == [("resolved", "probe_lone")]
    assert len(slack.accepted) == len(telegram.accepted) == len(webhook.accepted) == 2
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "RESOLVED: Unmatched bank lines — retired: removed from metric_defs/ — no longer watched" in phone
    assert re.search(r"Retired (\w{3} \d\d? )?\d\d:\d\d UTC \(\d+ (s|min) ago\) by heartbeat sync", phone)
    assert "Was red since today at 2 payments · owner ops@example.com" in phone
    assert "probe_lone" not in phone  # the name, not the id (its page is gone: the link is the cockpit)
    assert "RESOLVED: Unmatched bank lines" in _slack_text(slack)
    event = webhook.accepted[-1].json["events"][0]
    assert (event["kind"], event["status"], event["previous"]) == ("resolved", "retired", "red")
    assert re.fullmatch(r"metric:probe_lone:resolved:status:\d{8}T\d{6}Z", event["idempotency_key"])
    assert event["retired_at"] is not None

    assert _job(marts_url)["evaluation"]["notifications"] == NOTHING  # told once
    assert len(slack.accepted) == len(telegram.accepted) == len(webhook.accepted) == 2
    with psycopg.connect(marts_url, autocommit=True) as conn:
        views = conn.execute(
            "SELECT count(*) FROM heartbeat.alert_state WHERE metric_id = 'probe_lone'"
        ).fetchone()
    assert views == (0,)

    _write(defs, "probe_lone")  # restored: a new red is news again
    assert _sync(marts_url, defs) == []
    restored = _job(marts_url)
    assert _kinds(restored, "webhook") == [("red", "probe_lone")]
    assert "RED: Unmatched bank lines at 2 payments" in telegram_visible_text(
        telegram.accepted[-1].json["text"]
    )


def test_an_incident_stays_open_while_a_member_is_red_and_resolves_when_the_rest_is_green(
    marts_url: str,
    slack: SlackReceiver,
    telegram: TelegramReceiver,
    webhook: WebhookReceiver,
    tmp_path: Path,
) -> None:
    defs = tmp_path / "defs"
    _world(marts_url, defs)
    opened = _job(marts_url, {"x": 0})  # the lone metric green: only the incident of a and b
    assert _kinds(opened, "webhook")[0][0] == "incident_opened"
    incident_id = webhook.accepted[-1].json["events"][0]["metric_id"]

    (defs / "probe_stuck_a.sql").unlink()
    assert _sync(marts_url, defs) == ["probe_stuck_a"]
    retired = _job(marts_url)
    kinds = _kinds(retired, "webhook")
    assert kinds == [("resolved", "probe_stuck_a")]  # b is still red: the incident is not resolved
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "RESOLVED: Stuck payments in clearing — retired: removed from metric_defs/" in phone
    assert "INCIDENT" not in phone
    with psycopg.connect(marts_url, autocommit=True) as conn:
        stored = conn.execute(
            "SELECT members, resolved_at FROM heartbeat.incident WHERE incident_id = %s", (incident_id,)
        ).fetchone()
    assert stored == (["probe_stuck_b"], None)
    assert _job(marts_url)["evaluation"]["notifications"] == NOTHING

    resolved = _job(marts_url, {"b": 0})
    assert _kinds(resolved, "webhook") == [("incident_resolved", incident_id)]
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "INCIDENT RESOLVED: Stuck payments in clearing +1 more — back to normal or retired" in phone
    assert "Members: Stuck payments in clearing, Stuck payments amount" in phone  # names, the retired one too
    assert "Retired (removed from metric_defs/, no longer watched): Stuck payments in clearing" in phone


def test_an_incident_whose_members_are_all_retired_resolves_in_one_message(
    marts_url: str,
    slack: SlackReceiver,
    telegram: TelegramReceiver,
    webhook: WebhookReceiver,
    tmp_path: Path,
) -> None:
    defs = tmp_path / "defs"
    _world(marts_url, defs)
    _job(marts_url, {"x": 0})
    incident_id = webhook.accepted[-1].json["events"][0]["metric_id"]
    with psycopg.connect(
        marts_url, autocommit=True
    ) as conn:  # a snooze on a retired metric holds nothing back
        alerts.snooze(conn, "probe_stuck_b", clock.now() + timedelta(days=3), "ops@example.com")

    (defs / "probe_stuck_a.sql").unlink()
    (defs / "probe_stuck_b.sql").unlink()
    assert _sync(marts_url, defs) == ["probe_stuck_a", "probe_stuck_b"]
    retired = _job(marts_url)
    assert _kinds(retired, "webhook") == [("incident_resolved", incident_id)]  # it speaks for its members
    assert retired["evaluation"]["snoozed"] == []
    phone = telegram_visible_text(telegram.accepted[-1].json["text"])
    assert "INCIDENT RESOLVED: Stuck payments in clearing +1 more — its metrics were retired" in phone
    with psycopg.connect(marts_url, autocommit=True) as conn:
        logged = conn.execute(
            "SELECT subject_id, kind, status FROM heartbeat.alert_notification"
            " WHERE subject_type = 'metric' AND kind = 'resolved' ORDER BY subject_id"
        ).fetchall()
        assert alerts.snoozes(conn) == []
    # logged under the incident's message on each of the three channels, not sent on their own
    assert logged == [
        (m, "resolved", "retired") for m in ("probe_stuck_a", "probe_stuck_b") for _ in range(3)
    ]
    assert _job(marts_url)["evaluation"]["notifications"] == NOTHING


def test_the_entities_still_open_in_a_retired_metric_are_closed_with_it(
    mini_world: str, slack: SlackReceiver, tmp_path: Path
) -> None:
    metric = "shop_unpaid_invoices"  # red, with clients in it (tests/mini_world.py)
    with psycopg.connect(mini_world, autocommit=True) as conn:
        alerts.evaluate_and_deliver(conn)
        conn.execute(
            "INSERT INTO shop.invoices VALUES (20, 'Hooli', 2500, %s, NULL)",
            (clock.now() - timedelta(days=40),),
        )
    assert compute_metrics([metric]).ok
    with psycopg.connect(mini_world, autocommit=True) as conn:
        told = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [e["kind"] for e in told] == ["entity_new"]  # Hooli, inside the red already told
        defs = tmp_path / "mini_defs"
        shutil.copytree(MINI_DEFS, defs)
        (defs / f"{metric}.sql").unlink()
        assert sync_directory(conn, defs, MINI_DEFS.parent / "shared_sql").retired == [metric]
        closed = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["kind"]) for e in closed] == [(metric, "resolved")]
        entities = conn.execute(
            "SELECT subject_id, kind FROM heartbeat.alert_notification WHERE subject_type = 'entity'"
            " AND kind = 'resolved' ORDER BY subject_id"
        ).fetchall()
    text = _slack_text(slack)
    assert "RESOLVED: Customers with unpaid invoices — retired: removed from metric_defs/" in text
    assert re.search(r"Was red since \d\d? \w{3} \(\d+ d\) at 1 client · owner finance@", text)
    # the entity alert told on its own (Hooli) is closed with it; ACME Ltd was a row of the red message
    assert "Still in it, closed with it: Hooli\n" in text
    assert entities == [(f"{metric}/client:Hooli", "resolved")]
    with psycopg.connect(mini_world, autocommit=True) as conn:
        assert alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"] == []
