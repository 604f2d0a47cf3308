"""Acknowledgement and the change feed on every surface, over the mini world in real Postgres: CLI, REST on a
real loopback server (token-protected write), and the real MCP client; the read model carries it."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from mcp import Client

from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.settings import reset_settings
from heartbeat_mcp.server import build_server
from heartbeat_web.app import create_app
from tests.conftest import REPO_ROOT
from tests.test_mcp import data
from tests.web_server import LiveServer

METRIC = "shop_unpaid_invoices"
TOKEN = "s3cret-token-for-ack-tests"
HEARTBEAT = str(REPO_ROOT / ".venv" / "bin" / "heartbeat")


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _state(url: str) -> readmodel.MetricState:
    with psycopg.connect(url) as conn:
        return readmodel.metric_states(conn, [METRIC])[0]


def test_cli_ack_fills_the_read_model_and_the_feed(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    env = {**os.environ}
    run = subprocess.run(
        [HEARTBEAT, "ack", "client:ACME Ltd", "--note", "collections on it", "--by", "anna@example.com"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "entity:client:ACME Ltd: acknowledged by anna@example.com — collections on it" in run.stdout
    state = _state(mini_world)
    assert state.acknowledgement is not None and state.acknowledgement.by == "anna@example.com"
    assert "acknowledged" in [f.kind for f in state.flags]
    bad = subprocess.run(
        [HEARTBEAT, "ack", "no_such_metric"], capture_output=True, text=True, env=env, check=False
    )
    assert bad.returncode != 0 and "unknown metric 'no_such_metric'" in (bad.stderr + bad.stdout)
    feed = subprocess.run(
        [HEARTBEAT, "changes", "--since", "1h", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert feed.returncode == 0, feed.stderr
    acks = json.loads(feed.stdout)["acknowledgements"]
    assert [(a["subject"], a["action"], a["by"]) for a in acks] == [
        ("entity:client:ACME Ltd", "acknowledged", "anna@example.com")
    ]
    # for people: the moment read on a phone (`since 05:12 UTC (59 min ago):`), never an ISO date
    text = subprocess.run([HEARTBEAT, "changes", "--since", "1h"], capture_output=True, text=True, env=env,
                          check=False).stdout  # fmt: skip
    assert re.match(r"since \d{2}:\d{2} [A-Z]+ \((59 min|1\.0 h) ago\):\n", text), text
    assert "  ack     entity:client:ACME Ltd: acknowledged by anna@example.com" in text
    until = subprocess.run(
        [HEARTBEAT, "ack", "client:ACME Ltd", "--until", "2h", "--by", "anna@example.com"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert re.search(
        r"acknowledged by anna@example.com until (\d+ \w+ )?\d{2}:\d{2} [A-Z]+ \(in 2\.0 h\)", until.stdout
    ), until.stdout + until.stderr
    assert not ISO_DAY.search(text + until.stdout)


def test_rest_ack_needs_the_token_and_changes_lists_the_new_client(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    since = clock.now() - timedelta(seconds=1)
    with psycopg.connect(mini_world, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO shop.invoices VALUES (30, 'Hooli', 2500, %s, NULL)",
            (clock.now() - timedelta(days=40),),
        )
    assert compute_metrics([METRIC]).ok
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {"subject": METRIC, "note": "known", "by": "ops@example.com"}
            assert c.post("/api/acknowledgements", json=body).status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            r = c.post("/api/acknowledgements", json=body, headers=auth)
            assert r.status_code == 200 and r.json()["acknowledgement"]["subject"] == f"metric:{METRIC}"
            assert (
                c.post("/api/acknowledgements", json={"subject": "client:"}, headers=auth).status_code == 422
            )
            assert c.get("/api/changes", params={"since": since.isoformat()}).status_code == 401  # reads too
            feed = c.get("/api/changes", params={"since": since.isoformat()}, headers=auth).json()
            assert [(e["metric_id"], e["kind"], e["key"]) for e in feed["entity_events"]] == [
                (METRIC, "new", "Hooli")
            ]
            assert [a["subject"] for a in feed["acknowledgements"]] == [f"metric:{METRIC}"]
            entity = {"subject": "client:ACME Ltd", "note": "in collections", "by": "anna@example.com"}
            assert c.post("/api/acknowledgements", json=entity, headers=auth).status_code == 200
            page = c.get(f"/metrics/{METRIC}", headers=auth).text
            assert 'id="entities"' in page and "Hooli" in page and "NEW" in page
            assert "by anna@example.com: in collections" in page
    finally:
        srv.stop()


def test_mcp_acknowledge_and_what_changed(mini_world: str) -> None:
    since = clock.now() - timedelta(seconds=1)

    async def body() -> dict[str, Any]:
        async with Client(build_server(actor="mcp-test")) as client:
            acked = data(
                await client.call_tool("acknowledge", {"subject": "client:ACME Ltd", "note": "on it"})
            )
            assert acked["acknowledged"] and acked["acknowledgement"]["by"] == "mcp-test"
            red = data(await client.call_tool("what_is_red", {}))
            item = next(i for i in red["items"] if i["metric_id"] == METRIC)
            assert item["acknowledgement"]["subject"] == "entity:client:ACME Ltd"
            return data(await client.call_tool("what_changed", {"since": since.isoformat()}))

    feed = anyio.run(body)
    assert [a["subject"] for a in feed["acknowledgements"]] == ["entity:client:ACME Ltd"]


def test_the_feed_for_people_names_days_and_moments_as_they_read_them() -> None:
    from heartbeat_cli.entities_cmd import changes_lines
    from heartbeat_core.readmodel.changes import Changes, ColourChange
    from heartbeat_core.readmodel.entities import EntityEvent

    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    feed = Changes(
        since=now - timedelta(days=2),
        until=now,
        colours=[
            ColourChange(metric_id=METRIC, name="Unpaid", as_of_date=date(2026, 11, 24), before="green",
                         after="red", reason="12 unpaid", computed_at=now)
        ],
        entity_events=[
            EntityEvent(metric_id=METRIC, type="client", key="7", label="ACME Ltd", kind="new",
                        as_of_date=date(2025, 12, 30), recorded_at=now)
        ],
        acknowledgements=[],
        sources=[],
    )  # fmt: skip
    assert changes_lines(feed, now, UTC) == [
        "since 23 Nov 12:00 UTC (2.0 d ago):",
        f"  colour  {METRIC}: green -> red (24 Nov): 12 unpaid",
        f"  entity  {METRIC}: new client ACME Ltd (30 Dec 2025)",
    ]
    empty = feed.model_copy(update={"colours": [], "entity_events": []})
    assert changes_lines(empty, now, UTC)[1:] == ["  nothing changed"]
