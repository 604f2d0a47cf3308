"""Audit cuts stay consistent with metrics (issue 14, item 5): a cut whose sources landed after its snapshot
is marked out of date on every surface (core, /audit pages, the metric page, REST, MCP, `today`), and the
recompute job refreshes it, so a cut never says one thing beside a metric that says another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
from mcp import Client

from heartbeat_core import clock
from heartbeat_core.audit import cut_view, refresh_cuts
from heartbeat_core.audit.currency import out_of_date_cuts
from heartbeat_core.ingest import SourceResult
from heartbeat_core.jobs import ledger, runner
from heartbeat_core.settings import reset_settings
from heartbeat_mcp.server import build_server
from heartbeat_web.app import create_app
from tests.test_audit import UNPAID, _cli, write_cuts
from tests.web_server import LiveServer

pytestmark = pytest.mark.db


@pytest.fixture
def behind(mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The unpaid-invoices cut computed an hour before the data its metric shows landed."""
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(write_cuts(tmp_path / "cuts", money_unpaid=UNPAID)))
    reset_settings()
    with clock.frozen_clock(clock.now() - timedelta(hours=1)):
        assert refresh_cuts().ok
    with psycopg.connect(mini_world, autocommit=True) as conn:  # a new debtor lands after the snapshot
        conn.execute(
            "INSERT INTO shop.invoices VALUES (6, 'Umbrella Corp', 50000, %s, NULL)",
            (clock.now() - timedelta(days=60),),
        )
    yield mini_world


def test_an_out_of_date_cut_is_marked_on_every_surface(behind: str) -> None:
    with psycopg.connect(behind) as conn:
        late = out_of_date_cuts(conn)
        assert list(late) == ["money_unpaid"] and late["money_unpaid"].sources == ("shop",)
        view = cut_view(conn, "money_unpaid")
    assert view["out_of_date"] is True and view["freshness"] == "amber"
    reason = view["freshness_reason"]
    assert reason.startswith("out of date: snapshot from ") and "older than the data it summarises" in reason
    assert "shop landed" in reason and "UTC (" in reason  # times as people read them

    server = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as web:
            assert "out of date" in web.get("/audit").text
            page = web.get("/audit/money").text
            assert 'class="t-err cut-outdated"' in page and "older than the data it summarises" in page
            metric = web.get("/metrics/shop_unpaid_invoices").text
            assert "ACME Ltd owes EUR 12,400" in metric and "Out of date" in metric
            api = web.get("/api/audit/cuts/money_unpaid").json()
            assert api["out_of_date"] is True and api["freshness"] == "amber"
    finally:
        server.stop()

    env = {"HEARTBEAT_DATABASE_URL": behind}  # the rest of the settings come from this test's environment
    shown = _cli("audit", "show", "money_unpaid", env_extra=env)
    assert shown.returncode == 0 and "out of date: snapshot from" in shown.stdout, shown.stderr
    listed = _cli("audit", "list", env_extra={**env, "COLUMNS": "200"})
    assert listed.returncode == 0 and "out of date" in listed.stdout, listed.stderr

    async def agent(client: Client) -> None:
        cut = (await client.call_tool("audit_cut", {"cut_id": "money_unpaid"})).structured_content
        assert cut is not None and cut["out_of_date"].startswith("out of date")
        explained = await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoices"})
        assert explained.structured_content is not None
        assert explained.structured_content["audit_cuts"][0]["out_of_date"].startswith("out of date")
        assert "OUT OF DATE" in explained.content[0].text  # type: ignore[union-attr]
        today = await client.call_tool("today", {})
        assert today.structured_content is not None
        notices = [n for n in today.structured_content["not_to_trust"] if n["kind"] == "audit_cut"]
        assert [n["subject"] for n in notices] == ["money_unpaid"]
        assert "audit cut Unpaid invoices by customer: out of date" in today.content[0].text  # type: ignore[union-attr]

    async def main() -> None:
        async with Client(build_server(actor="currency-test")) as client:
            await agent(client)

    anyio.run(main)


def test_the_recompute_job_refreshes_a_cut_its_sources_outran(behind: str) -> None:
    def landed(source: str) -> SourceResult:
        return SourceResult(source=source, kind="postgres", ok=True, rows=1)

    ticket = runner.request_recompute(
        ["shop_unpaid_invoices"], trigger="test", background=False, steps=runner.JobSteps(ingest=landed)
    )
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded", view.error if view else None
    assert "audit cuts" in {h.name for h in view.hooks}
    with psycopg.connect(behind) as conn:
        assert out_of_date_cuts(conn) == {}
        cut = cut_view(conn, "money_unpaid")
        value = conn.execute(
            "SELECT value FROM heartbeat.metric_history WHERE metric_id = 'shop_unpaid_invoices'"
            " ORDER BY as_of_date DESC LIMIT 1"
        ).fetchone()
    assert cut["out_of_date"] is False and cut["freshness"] == "fresh"
    assert cut["payload"]["takeaway"] == "Umbrella Corp owes EUR 50,000"  # the cut and the metric agree now
    assert value == (2,)
