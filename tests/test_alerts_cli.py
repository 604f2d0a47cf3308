"""`heartbeat alerts ...` as an operator runs it: real subprocesses, a Slack-compatible receiver on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)

HEARTBEAT = str(Path(sys.executable).parent / "heartbeat")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HEARTBEAT, "alerts", *args], env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_alerts_cli_test_evaluate_snooze_outbox(mini_world: str, slack: SlackReceiver) -> None:
    tested = run("test", "slack")
    assert tested.returncode == 0, tested.stderr
    assert "test message sent" in tested.stdout and len(slack.accepted) == 1

    missing = run("test", "telegram")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "heartbeat: channel telegram is not configured: set HEARTBEAT_TELEGRAM_BOT_TOKEN and HEARTBEAT_TELEGRAM_CHAT_ID"
    )

    snoozed = run("snooze", "rates_coverage", "--until", "4h", "--actor", "ops@example.com")
    assert snoozed.returncode == 0, snoozed.stderr
    # `snoozed until 10:12 UTC (in 4.0 h) by …` (a date only when it is another day), never ISO
    until = re.search(r"snoozed until (.+) by ops@example.com", snoozed.stdout)
    assert until and re.fullmatch(r"(\d+ \w+ )?\d{2}:\d{2} [A-Z]+ \(in 4\.0 h\)", until.group(1)), (
        snoozed.stdout
    )
    unknown = run("snooze", "shop_unpaid_invoice", "--until", "4h")
    assert unknown.returncode == 1 and "shop_unpaid_invoices" in unknown.stderr
    bad = run("snooze", "rates_coverage", "--until", "soonish")
    assert bad.returncode == 1 and "--until 'soonish'" in bad.stderr

    evaluated = run("evaluate", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert [e["metric_id"] for e in report["evaluation"]["notifications"]["slack"]] == [
        "shop_unpaid_invoices"
    ]
    assert report["evaluation"]["snoozed"] == ["rates_coverage"]
    assert report["delivery"]["sent"] == 1 and len(slack.accepted) == 2

    again = run("evaluate")
    assert again.returncode == 0 and "slack: 0 notifications" in again.stdout

    outbox = run("outbox", "--json")
    rows = json.loads(outbox.stdout)
    assert [r["state"] for r in rows] == ["sent"]
    assert run("deliver").stdout.startswith("delivered 0, failed 0")

    lifted = run("snooze", "rates_coverage", "--until", "off")
    assert lifted.returncode == 0 and "not snoozed" in lifted.stdout
    with psycopg.connect(mini_world) as conn:
        assert conn.execute("SELECT count(*) FROM heartbeat.alert_snooze").fetchone() == (0,)


def test_the_delivery_line_names_the_next_attempt_as_people_read_it() -> None:
    from datetime import UTC, datetime

    from heartbeat_cli.alerts_cmd import delivery_line
    from heartbeat_core.alerts import DeliveryReport

    now = datetime(2026, 11, 25, 6, 12, tzinfo=UTC)
    report = DeliveryReport(
        sent=[1, 2], retrying=[3], next_attempt_at=datetime(2026, 11, 25, 6, 14, tzinfo=UTC)
    )
    assert (
        delivery_line(report, now, UTC)
        == "delivered 2, failed 0, waiting 1; next attempt 06:14 UTC (in 2 min)"
    )
