"""Acceptance of the MCP surface on the demo world (scale 1): the incidents come first with the right reasons,
explain_metric names the client, and the answers fit an agent's context."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from heartbeat_mcp.server import build_server
from tests.test_mcp import data, text_of

pytestmark = [pytest.mark.db, pytest.mark.slow]

INCIDENTS = {  # docs/demo-world.md, "Injected incidents": the six metrics that cross a line
    "card_collateral_overdue_clients",
    "card_collateral_overdue_amount",
    "outgoing_payment_approval_rate_24h",
    "aml_review_backlog",
    "aml_review_backlog_days",
    "aml_reviews_pending_over_72h",
}


def test_demo_incidents_first_client_named_and_answers_compact(demo_world: Any) -> None:
    async def main() -> None:
        async with Client(build_server(actor="mcp-test")) as client:
            result = await client.call_tool("what_is_red", {})
            items = data(result)["items"]
            red = [i for i in items if i["status"] == "red" and i.get("crossed") == "alert"]
            assert {i["metric_id"] for i in red} >= INCIDENTS
            # The line-crossing incidents rank first, ahead of the z-score knock-ons and the stale rates.
            assert {i["metric_id"] for i in items[: len(INCIDENTS)]} == INCIDENTS
            by_id = {i["metric_id"]: i for i in items}
            assert "alert line" in by_id["card_collateral_overdue_clients"]["reason"]
            # (d) the rate files stopped: stale, not bad.
            stale = {i["metric_id"] for i in items if i["freshness"] == "red"}
            assert "currency_rate_coverage" in stale
            size = len(result.model_dump_json(by_alias=True, exclude_none=True))
            print(text_of(result.content[0]))
            print(f"what_is_red on the demo world: {len(items)} items, {size} chars ≈ {size // 4} tokens")
            assert size <= 2000 * 4

            explained = data(
                await client.call_tool("explain_metric", {"metric_id": "card_collateral_overdue_clients"})
            )
            assert any("ACME Ltd" in [str(v) for v in row] for row in explained["detail"]["rows"])
            assert explained["status"] == "red"

            today = data(await client.call_tool("today", {}))
            assert today["counts"]["red"] >= len(INCIDENTS)
            assert "currency_rates" in {s["source"] for s in today["stale_sources"]}

            listed = await client.list_tools()
            size = len(listed.model_dump_json(by_alias=True, exclude_none=True))
            assert size <= 8000 * 4

    anyio.run(main)
