"""Issue 18 end to end on the demo world through the real job: a duplicated load of the last 24 hours of
ledger entries (same payments, new row ids) lands; the uniqueness test on the ledger fails with the duplicate
rows as samples, the revenue metrics that read the ledger are suspect (not the payment-only ones), revenue_24h is
amber as implausible, and one Slack delivery names the table and the test; MCP `sources_status` carries it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from mcp import Client

from heartbeat_core import alerts, clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.jobs import ledger, runner
from heartbeat_core.readmodel.typical import refresh_typical
from heartbeat_mcp.server import build_server
from heartbeat_web.app import create_app
from heartbeat_web.render import tile
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)
from tests.test_mcp import data
from tests.web_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.db]

REVENUE = ["revenue_24h", "revenue_7d", "revenue_30d"]
PAYMENTS_ONLY = "payments_24h"


def _text(slack: SlackReceiver, index: int) -> str:
    return "\n".join(b["text"]["text"] for b in slack.accepted[index].json["blocks"] if "text" in b)


def _duplicate_ledger(source: psycopg.Connection[Any], now: datetime) -> int:
    """The last 20 hours of entries again, as a broken load would bring them: new ids, same payments."""
    cur = source.execute(
        """INSERT INTO webbank.entry (id, payment_id, client_profile_id, entry_state_id, amount, fee, product,
               create_time, updated_at)
           SELECT id + 1000000000, payment_id, client_profile_id, entry_state_id, amount, fee, product,
               create_time, %(now)s
           FROM webbank.entry WHERE create_time >= %(now)s - interval '24 hours' AND entry_state_id = 2""",
        {"now": now},
    )
    return cur.rowcount


def test_duplicated_ledger_load_fails_uniqueness_and_makes_revenue_suspect(
    demo_world: Any, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_SLACK_LEVELS", "red,amber,stale,resolved")
    # the session's demo world keeps 30 days; revenue_24h's weekday band needs 8 same weekdays
    compute_metrics(["revenue_24h"], backfill_days=70)
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        refresh_typical(conn, ["revenue_24h"])
        assert readmodel.metric_states(conn, ["revenue_24h"])[0].z is not None
        alerts.evaluate_and_deliver(conn)  # what the demo world already says, told before the load
    before = len(slack.accepted)
    now = clock.now()
    with psycopg.connect(demo_world.source_url, autocommit=True) as source:
        assert _duplicate_ledger(source, now) > 50
    ticket = runner.request_recompute([*REVENUE, PAYMENTS_ONLY], trigger="test", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded", view.error if view else None

    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT status, failing_rows, sample FROM heartbeat.source_test"
            " WHERE source = 'webbank' AND table_name = 'entry' AND test_key = 'unique:payment_id'"
        ).fetchone()
        others = conn.execute(
            "SELECT table_name, test_key FROM heartbeat.source_test WHERE status <> 'pass'"
            " AND test_key <> 'unique:payment_id'"
        ).fetchall()
        states = {s.metric_id: s for s in readmodel.metric_states(conn, [*REVENUE, PAYMENTS_ONLY])}
    assert row is not None and row[0] == "fail" and row[1] > 100
    assert row[2] and {"id", "payment_id", "fee"} <= set(row[2][0])
    assert others == [("entry", "rows_per_day:create_time")]  # a day's entries far above their band too
    for metric_id in REVENUE:
        suspect = [f for f in states[metric_id].flags if f.kind == "suspect"]
        assert suspect and "webbank.entry unique(payment_id)" in suspect[0].reason, metric_id
    assert not [f for f in states[PAYMENTS_ONLY].flags if f.kind == "suspect"]
    r24 = states["revenue_24h"]
    assert (r24.status, r24.crossed, r24.display_state) == ("amber", "z_implausible", "amber"), r24.reason
    assert r24.reason.startswith("implausibly high vs typical: check the data")
    assert {"SUSPECT", "IMPLAUSIBLE"} <= set(tile(r24).badges)

    assert len(slack.accepted) == before + 1  # one delivery for the job
    text = _text(slack, before)
    assert text.count("DATA TEST FAILED: webbank.entry unique(payment_id)") == 1
    assert "IMPLAUSIBLE: Revenue, last 24 hours" in text
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        again = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
    assert [e for e in again if e["kind"] == "test_failed"] == []

    async def ask() -> dict[str, Any]:
        async with Client(build_server(actor="mcp-test")) as client:
            return data(await client.call_tool("sources_status", {}))

    webbank = next(s for s in anyio.run(ask)["sources"] if s["source"] == "webbank")
    assert [t for t in webbank["tests"] if "unique(payment_id)" in t and t.startswith("fail")]
    assert clock.now() - now < timedelta(hours=1)

    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            body = c.get("/api/sources").json()
            page = c.get("/metrics/revenue_24h").text
    finally:
        srv.stop()
    assert "SUSPECT</strong> data test failed: webbank.entry unique(payment_id)" in page
    assert (
        'href="/api/sources">the failing test</a>' in page and "IMPLAUSIBLE</strong> implausibly high" in page
    )
    first = body["tests"][0]
    assert (first["source"], first["table"], first["test"], first["status"]) == (
        "webbank",
        "entry",
        "unique",
        "fail",
    )
    assert first["sample"] and first["first_failing_at"] and first["failing_rows"] > 100
