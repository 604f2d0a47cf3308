"""The outbox against imitation channels on loopback: 429s honoured by scheduling, 5xx backed off, other
4xx recorded as permanent, order kept, secrets redacted, a deliverer killed mid-request, 100 transitions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core import alerts, clock, readmodel
from heartbeat_core.alerts.evaluate import enqueue
from heartbeat_core.alerts.messages import (
    SLACK_MAX_BLOCKS,
    SLACK_MAX_SECTION,
    TELEGRAM_MAX,
    AlertEvent,
    render_telegram,
)
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.settings import reset_settings
from tests.mini_world import build_mini_sources
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    TELEGRAM_TOKEN,
    Reply,
    Request,
    SlackReceiver,
    TelegramReceiver,
    WebhookReceiver,
    no_channels_fixture,
    slack_fixture,
    telegram_429,
    telegram_fixture,
    telegram_visible_text,
    webhook_fixture,
)


def _queue(
    conn: psycopg.Connection, channel: str, payloads: list[dict[str, Any]], now: datetime
) -> list[int]:
    ids = []
    for n, payload in enumerate(payloads):
        ids += enqueue(
            conn, channel, [payload], key=f"test:{n}", evaluation_id=None, summary=f"m{n}", now=now
        )
    return ids


def _row(conn: psycopg.Connection, row_id: int) -> dict[str, Any]:
    cur = conn.execute(
        "SELECT state, attempts, next_attempt_at, last_status, last_error FROM heartbeat.alert_outbox WHERE id = %s",
        (row_id,),
    )
    names = [c.name for c in cur.description or []]
    values = cur.fetchone()
    assert values is not None
    return dict(zip(names, values, strict=True))


def _slack_msg(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def test_slack_429_waits_for_retry_after_and_keeps_order(
    marts_conn: psycopg.Connection, slack: SlackReceiver
) -> None:
    t0 = clock.now()
    slack.script.append(Reply(429, b"rate_limited", {"Retry-After": "30"}))
    with clock.frozen_clock(t0) as moment:
        first, second = _queue(marts_conn, "slack", [_slack_msg("one"), _slack_msg("two")], t0)
        report = alerts.deliver(marts_conn)
        assert report.retrying == [first] and report.sent == []
        assert report.next_attempt_at == t0 + timedelta(seconds=30)
        row = _row(marts_conn, first)
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 0, 429)
        assert len(slack.requests) == 1  # the second message waited behind the first
        moment[0] = t0 + timedelta(seconds=29)
        assert alerts.deliver(marts_conn).sent == []
        assert len(slack.requests) == 1
        moment[0] = t0 + timedelta(seconds=30)
        assert alerts.deliver(marts_conn).sent == [first, second]
    assert [r.json["text"] for r in slack.accepted] == ["one", "two"]
    assert alerts.deliver(marts_conn).sent == []  # nothing twice


def test_slack_500_backs_off_exponentially_then_gives_up(
    marts_conn: psycopg.Connection, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_ALERT_MAX_ATTEMPTS", "3")
    t0 = clock.now()
    slack.script.extend([Reply(500, b"rollup_error")] * 3)
    with clock.frozen_clock(t0) as moment:
        (row_id,) = _queue(marts_conn, "slack", [_slack_msg("x")], t0)
        alerts.deliver(marts_conn)
        row = _row(marts_conn, row_id)
        assert (row["attempts"], row["next_attempt_at"]) == (1, t0 + timedelta(seconds=30))
        assert row["last_error"] == "HTTP 500: rollup_error"
        moment[0] = t0 + timedelta(seconds=30)
        alerts.deliver(marts_conn)
        row = _row(marts_conn, row_id)
        assert (row["attempts"], row["next_attempt_at"]) == (2, moment[0] + timedelta(seconds=60))
        moment[0] += timedelta(seconds=60)
        report = alerts.deliver(marts_conn)
        assert report.failed == [row_id]
        row = _row(marts_conn, row_id)
        assert row["state"] == "failed" and row["last_error"].startswith("gave up after 3 attempts")


def test_slack_400_is_permanent_and_recorded_then_the_queue_moves_on(
    marts_conn: psycopg.Connection, slack: SlackReceiver
) -> None:
    now = clock.now()
    too_many = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "b"}}] * 51}
    bad, good = _queue(marts_conn, "slack", [too_many, _slack_msg("fine")], now)
    report = alerts.deliver(marts_conn)
    assert report.failed == [bad] and report.sent == [good]
    row = _row(marts_conn, bad)
    assert (row["state"], row["last_status"], row["last_error"]) == (
        "failed",
        400,
        "HTTP 400: invalid_payload",
    )
    assert [r.json["text"] for r in slack.accepted] == ["fine"]


def test_telegram_retry_after_too_long_and_bad_entities(
    marts_conn: psycopg.Connection, telegram: TelegramReceiver
) -> None:
    t0 = clock.now()
    telegram.script.append(telegram_429(7))
    with clock.frozen_clock(t0) as moment:
        ok, long, broken = _queue(
            marts_conn,
            "telegram",
            [{"text": "<b>hello</b> &amp; bye"}, {"text": "x" * 5000}, {"text": "<b>open"}],
            t0,
        )
        report = alerts.deliver(marts_conn)
        assert report.retrying == [ok] and report.next_attempt_at == t0 + timedelta(seconds=7)
        moment[0] = t0 + timedelta(seconds=7)
        report = alerts.deliver(marts_conn)
    assert report.sent == [ok] and report.failed == [long, broken]
    assert _row(marts_conn, long)["last_error"] == "HTTP 400: Bad Request: message is too long"
    assert "can't find end" in _row(marts_conn, broken)["last_error"]
    sent = telegram.accepted[0]
    assert sent.json["parse_mode"] == "HTML" and sent.json["chat_id"] == "-100123"


def test_telegram_token_never_lands_in_error_text(
    marts_conn: psycopg.Connection, telegram: TelegramReceiver
) -> None:
    def echo(request: Request) -> Reply:
        return Reply(
            400,
            {"ok": False, "error_code": 400, "description": f"Bad Request: chat not found ({request.path})"},
        )

    telegram.script.append(echo)
    (row_id,) = _queue(marts_conn, "telegram", [{"text": "hi"}], clock.now())
    alerts.deliver(marts_conn)
    error = _row(marts_conn, row_id)["last_error"]
    assert TELEGRAM_TOKEN not in error and "/bot***/sendMessage" in error


def test_network_errors_retry_and_are_redacted(
    marts_conn: psycopg.Connection, no_channels: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_API_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("HEARTBEAT_TELEGRAM_CHAT_ID", "1")
    reset_settings()
    (row_id,) = _queue(marts_conn, "telegram", [{"text": "hi"}], clock.now())
    report = alerts.deliver(marts_conn)
    assert report.retrying == [row_id]
    row = _row(marts_conn, row_id)
    assert row["attempts"] == 1 and row["last_error"] and TELEGRAM_TOKEN not in row["last_error"]


def test_webhook_body_is_signed_and_carries_the_key(
    marts_conn: psycopg.Connection, webhook: WebhookReceiver
) -> None:
    (row_id,) = _queue(marts_conn, "webhook", [{"type": "heartbeat.alerts", "events": []}], clock.now())
    assert alerts.deliver(marts_conn).sent == [row_id]
    request = webhook.accepted[0]
    assert request.headers["x-heartbeat-signature"].startswith("sha256=")
    assert request.json["idempotency_key"] == request.headers["x-heartbeat-idempotency-key"] == "test:0"
    assert not alerts.verify("another-secret", request.headers["x-heartbeat-timestamp"], request.body,
                             request.headers["x-heartbeat-signature"])  # fmt: skip


def test_webhook_with_the_wrong_secret_fails_permanently_without_leaking(
    marts_conn: psycopg.Connection, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_WEBHOOK_SECRET", "not-the-receivers-secret")
    reset_settings()
    (row_id,) = _queue(marts_conn, "webhook", [{"type": "heartbeat.alerts", "events": []}], clock.now())
    assert alerts.deliver(marts_conn).failed == [row_id]
    row = _row(marts_conn, row_id)
    assert row["last_error"] == "HTTP 401: bad signature"


def test_send_test_message(slack: SlackReceiver, telegram: TelegramReceiver) -> None:
    assert alerts.send_test("slack").outcome == "sent"
    assert alerts.send_test("telegram").outcome == "sent"
    assert "test message" in slack.accepted[0].json["text"]
    with pytest.raises(ValueError, match="not configured"):
        alerts.send_test("webhook")


def test_escaped_messages_pass_telegram_and_slack_parsers(telegram: TelegramReceiver) -> None:
    event = AlertEvent(
        metric_id="weird", name="A < B & C <script>", kind="red", track="status", status="red",
        reason="5 ≥ alert line 1 & <rising>", value_text="5", url="https://h.example.com/metrics/weird?a=1&b=2",
        details=["<ACME> & Sons — amount EUR 1,000"],
    )  # fmt: skip
    (text,) = render_telegram([event], "https://h.example.com")
    visible = telegram_visible_text(text)
    assert "A < B & C <script>" in visible and "<ACME> & Sons" in visible
    result = alerts.channel("telegram").send({"text": text}, "k")
    assert result.outcome == "sent", result.error


def test_a_deliverer_killed_mid_request_loses_nothing_and_sends_nothing_twice(
    marts_url: str, slack: SlackReceiver
) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hang(request: Request) -> Reply:
        arrived.set()
        release.wait(60)
        return Reply(drop=True)  # the deliverer died before an answer: nothing was posted

    slack.script.extend([Reply(), hang])
    with psycopg.connect(marts_url, autocommit=True) as conn:
        ids = _queue(conn, "slack", [_slack_msg("one"), _slack_msg("two"), _slack_msg("three")], clock.now())
    code = "from heartbeat_core.alerts import deliver; deliver()"
    worker = subprocess.Popen(
        [sys.executable, "-c", code], env=dict(os.environ), cwd=Path(__file__).parent.parent
    )
    try:
        assert arrived.wait(60), "the deliverer never reached the second message"
        with psycopg.connect(marts_url, autocommit=True) as conn:
            assert _row(conn, ids[0])["state"] == "sent"
            # row two is claimed: pending, and locked by the worker's open transaction
            with conn.transaction():
                free = conn.execute(
                    "SELECT id FROM heartbeat.alert_outbox WHERE state = 'pending' ORDER BY id FOR UPDATE SKIP LOCKED"
                ).fetchall()
            assert [r[0] for r in free] == [ids[2]]
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
    with psycopg.connect(marts_url, autocommit=True) as conn:
        # the server notices the dead client on its own; terminating its backend just makes it deterministic
        conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        )
        assert _row(conn, ids[1])["state"] == "pending"
        report = alerts.deliver(conn)
        assert report.sent == [ids[1], ids[2]]
        assert alerts.deliver(conn).sent == []
    assert [r.json["text"] for r in slack.accepted] == ["one", "two", "three"]


def _write_defs(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (directory / f"synthetic_{n:03d}.sql").write_text(
            f"""-- name: Synthetic overdue metric number {n:03d} with a long descriptive name
-- period: snapshot
-- unit: clients
-- direction: lower_is_better
-- sources: shop
-- norm: 0
-- alert: 1
-- owner: team{n % 7}@example.com
-- description: Synthetic red metric {n}.
-- how_to_read: Above zero is bad.

-- @value
SELECT {n + 2} AS value;

-- @detail
SELECT 'Client ' || g || ' of metric {n}' AS client, g AS invoices, (1000 * g)::numeric AS amount_eur
FROM generate_series(1, 8) g ORDER BY g DESC;
"""
        )


def test_one_hundred_transitions_make_one_grouped_message_per_channel_within_limits(
    marts_url: str,
    slack: SlackReceiver,
    telegram: TelegramReceiver,
    webhook: WebhookReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = tmp_path / "defs"
    _write_defs(defs, 100)
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, clock.now())
        conn.commit()
        assert sync_directory(conn, defs).ok
    assert compute_metrics().ok
    with psycopg.connect(marts_url, autocommit=True) as conn:
        assert sum(s.status == "red" for s in readmodel.metric_states(conn)) == 100
        started = time.perf_counter()
        result = alerts.evaluate_and_deliver(conn)
        seconds = time.perf_counter() - started
    print(f"100 red metrics x 3 channels: evaluate + deliver {seconds:.2f} s")
    notes = result["evaluation"]["notifications"]
    assert {k: len(v) for k, v in notes.items()} == {"slack": 100, "telegram": 100, "webhook": 100}
    assert result["delivery"]["failed"] == 0

    assert len(slack.accepted) == 1 and len(slack.requests) == 1
    blocks = slack.accepted[0].json["blocks"]
    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= SLACK_MAX_SECTION for b in blocks)
    slack_text = "\n".join(b["text"]["text"] for b in blocks)
    assert "Heartbeat: 100 red" in slack_text
    assert all(f"synthetic_{n:03d}" in slack_text for n in range(100))  # every metric linked

    assert 1 <= len(telegram.accepted) <= 3 == len(telegram.requests)
    for request in telegram.accepted:
        assert len(telegram_visible_text(request.json["text"])) <= TELEGRAM_MAX
    assert "open Heartbeat" in telegram.accepted[-1].json["text"] or len(telegram.accepted) < 3

    assert len(webhook.accepted) == 1
    assert len(webhook.accepted[0].json["events"]) == 100
    with psycopg.connect(marts_url, autocommit=True) as conn:
        again = alerts.evaluate_and_deliver(conn)
    assert again["delivery"]["sent"] == 0 and again["evaluation"]["notifications"]["slack"] == []
