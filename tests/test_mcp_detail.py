"""The rows behind a value through the real MCP client: a total, and pages past the 50 stored rows (the detail
SQL runs again at the value's moment), never a silent stop at 50."""

from __future__ import annotations

from pathlib import Path

import anyio
import psycopg
import pytest
from mcp import Client

from heartbeat_core import clock
from heartbeat_core.compute.engine import DETAIL_ROW_LIMIT, compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_mcp.server import build_server
from tests.mini_world import build_mini_sources
from tests.test_mcp import data, text_of

pytestmark = pytest.mark.db

ROWS = 120
DEF = f"""-- name: Payments waiting for review
-- period: snapshot
-- unit: payments
-- direction: lower_is_better
-- sources: shop
-- norm: 10
-- alert: 100
-- owner: ops@example.com
-- description: Payments a person must look at.
-- how_to_read: Above 100 is red.

-- @value
SELECT {ROWS} AS value;

-- @detail
SELECT 'order ' || lpad(g::text, 3, '0') AS order_ref, g AS position
FROM generate_series(1, {ROWS}) g ORDER BY g;
"""


def test_detail_pages_carry_a_total_and_go_past_the_stored_rows(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "review_queue.sql").write_text(DEF)
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, clock.now())
        conn.commit()
        assert sync_directory(conn, defs).ok
    assert compute_metrics().ok

    async def main() -> None:
        async with Client(build_server(actor="detail-test")) as client:
            first = await client.call_tool("explain_metric", {"metric_id": "review_queue"})
            detail = data(first)["detail"]
            assert detail["total"] == ROWS and len(detail["rows"]) == 20 and detail["more"] == ROWS - 20
            assert "Rows 1-20 of 120" in text_of(first.content[0]) and "detail_offset=20" in text_of(
                first.content[0]
            )
            # across the stored rows' end (50): the SQL runs again at the value's moment, in the same order
            across = data(
                await client.call_tool(
                    "explain_metric", {"metric_id": "review_queue", "detail_offset": 40, "detail_limit": 30}
                )
            )["detail"]
            assert [r[1] for r in across["rows"]] == list(range(41, 71))
            assert across["offset"] == 40 and across["total"] == ROWS and across["more"] == ROWS - 70
            last = data(
                await client.call_tool(
                    "explain_metric", {"metric_id": "review_queue", "detail_offset": 100, "detail_limit": 50}
                )
            )["detail"]
            assert last["rows"][-1] == ["order 120", 120] and last["more"] == 0
            past = data(
                await client.call_tool("explain_metric", {"metric_id": "review_queue", "detail_offset": 500})
            )["detail"]
            assert past["rows"] == [] and past["total"] == ROWS

    assert DETAIL_ROW_LIMIT == 50
    anyio.run(main)


def test_detail_rows_in_the_text_read_as_people_do() -> None:
    """The text block's rows name moments and dates relative to now and amounts with their currency; the
    JSON rows stay as stored (ISO)."""
    from datetime import UTC, datetime

    from heartbeat_mcp import models, render

    page = models.Detail(
        columns=["client_id", "amount", "due_date", "created_at"],
        rows=[[48213, 5200, "2026-11-14", "2026-11-25T06:12:00+00:00"]],
        total=1,
    )
    with clock.frozen_clock(datetime(2026, 11, 25, 12, tzinfo=UTC)):
        lines = render.detail_lines(page, "money:EUR")
    assert lines[1] == "  48213 | EUR 5,200 | 14 Nov (11 d ago) | 06:12 UTC (5.8 h ago)", lines
    assert page.rows[0][2] == "2026-11-14"
