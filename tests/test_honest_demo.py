"""The demo's currency-rate metrics (the rate files stopped three days ago) show as stale everywhere: the read
model, the cockpit tiles, `/api/cockpit`, MCP `what_is_red` and the alerts (issue 15, "Done when")."""

from __future__ import annotations

import re
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from mcp import Client

from heartbeat_core import alerts, readmodel
from heartbeat_core.readmodel.incidents import current_incidents
from heartbeat_mcp.server import build_server
from heartbeat_web.app import create_app
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)
from tests.test_mcp import data
from tests.web_server import LiveServer

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_currency_rate_metrics_are_stale_on_every_surface(demo_world: Any, slack: SlackReceiver) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        states = readmodel.metric_states(conn)
        fx = {s.metric_id for s in states if "currency_rates" in s.sources}
        assert len(fx) >= 3, fx
        assert {s.metric_id: s.display_state for s in states if s.metric_id in fx} == dict.fromkeys(
            fx, "stale"
        )
        report = alerts.evaluate_and_deliver(conn)
    told = report["evaluation"]["notifications"]["slack"]
    # each told as stale: on its own, or as a member of the incident told once (the rate files: one message)
    incidents_told = {e["metric_id"] for e in told if e["kind"] == "incident_opened"}
    stale_alerts = {e["metric_id"] for e in told if e["kind"] == "stale"}
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        incidents = current_incidents(conn, readmodel.metric_states(conn))
    stale_alerts |= {m for i in incidents if i.incident_id in incidents_told for m in i.metrics}
    assert fx <= stale_alerts, told

    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            api = {m["metric_id"]: m["display_state"] for m in c.get("/api/cockpit").json()["metrics"]}
            html = c.get("/").text
    finally:
        srv.stop()
    assert {k: api[k] for k in fx} == dict.fromkeys(fx, "stale")
    for metric_id in fx:
        # a stale tile, or a stale member chip on its incident's card (the rate files: one card, three metrics)
        drawn = (
            rf'(<article class="tile s-stale[^"]*"|<span class="g-member s-stale") data-metric="{metric_id}"'
        )
        assert re.search(drawn, html), metric_id
    assert re.search(r'<span class="count c-stale">\d+ stale</span>', html)

    async def mcp() -> dict[str, Any]:
        async with Client(build_server(actor="mcp-test")) as client:
            return data(await client.call_tool("what_is_red", {"limit": 100}))

    items = {i["metric_id"]: i["display_state"] for i in anyio.run(mcp)["items"]}
    assert {k: items[k] for k in fx} == dict.fromkeys(fx, "stale")
