"""The mini world every surface test leans on shows what it promises."""

from __future__ import annotations

import psycopg

from heartbeat_core import readmodel


def test_mini_world_shows_red_amber_green_and_stale(mini_world: str) -> None:
    with psycopg.connect(mini_world) as conn:
        snapshot = readmodel.cockpit_snapshot(conn)
    by_id = {m.metric_id: m for m in snapshot.metrics}
    assert by_id["shop_unpaid_invoices"].status == "red"
    assert by_id["shop_unpaid_invoices"].value == 1
    assert by_id["shop_unpaid_invoices"].reason == "1 ≥ alert line 1"
    assert by_id["shop_refund_rate_7d"].status == "amber"
    assert by_id["shop_orders_24h"].status == "green"
    assert by_id["rates_coverage"].freshness == "red"
    assert by_id["shop_orders_24h"].freshness == "fresh"
    assert snapshot.metrics[0].metric_id == "shop_unpaid_invoices"
    assert len(by_id["shop_orders_24h"].sparkline) == 21
    with psycopg.connect(mini_world) as conn:
        detail = readmodel.metric_detail(conn, "shop_unpaid_invoices")
    assert detail is not None and detail["rows"][0][0] == "ACME Ltd"
