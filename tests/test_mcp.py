"""The MCP server in-process (`mcp.Client(server)`) over the mini world: answers, errors, writes, sizes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent, TextResourceContents

from heartbeat_core.db import reset_pool
from heartbeat_core.settings import reset_settings
from heartbeat_mcp.server import build_server

pytestmark = pytest.mark.db

TOOLS = {
    "what_is_red",
    "today",
    "explain_metric",
    "metric_history",
    "list_metrics",
    "sources_status",
    "recompute",
    "job_status",
    "set_thresholds",
    "set_owner",
    "set_verification",
}


def run(body: Callable[[Client], Awaitable[None]], actor: str = "mcp-test") -> None:
    async def main() -> None:
        async with Client(build_server(actor=actor)) as client:
            await body(client)

    anyio.run(main)


def text_of(block: object) -> str:
    """The text of a content block (the SDK types blocks as a union: text, image, audio, resource...)."""
    assert isinstance(block, TextContent | TextResourceContents), block
    return block.text


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = text_of(result.content[0])
    # The text block carries the answer for clients that read only text: the JSON for the small answers,
    # else a short rendering (a briefing, one line a metric) that names the same metrics.
    if text.startswith("{"):
        assert json.loads(text) == result.structured_content
    else:
        content = result.structured_content
        for item in content.get("items") or content.get("top") or content.get("metrics") or []:
            assert item["metric_id"] in text and item["reason"] in text
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return text_of(result.content[0])


def chars(result: Any) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def client_chars(result: Any) -> int:
    """The size as an MCP client hands it to a model: `json.dumps` of the wire object (with its spaces)."""
    return len(json.dumps(result.model_dump(by_alias=True, exclude_none=True), ensure_ascii=False))


def test_tools_are_listed_with_schemas_annotations_and_fit_in_5k_tokens(mini_world: str) -> None:
    async def body(client: Client) -> None:
        listed = await client.list_tools()
        by_name = {t.name: t for t in listed.tools}
        assert set(by_name) >= TOOLS  # other features (audit cuts) add their own tools
        for tool in listed.tools:
            assert tool.output_schema is not None, tool.name
            assert tool.description
        for name in ("what_is_red", "today", "explain_metric", "metric_history", "list_metrics"):
            annotations = by_name[name].annotations
            assert annotations is not None and annotations.read_only_hint and annotations.idempotent_hint
        for name in ("set_thresholds", "set_owner", "set_verification", "recompute"):
            annotations = by_name[name].annotations
            assert annotations is not None and annotations.read_only_hint is False
        size = client_chars(listed)
        print(f"tools/list: {size} chars as the client serialises it ≈ {size // 4} tokens")
        assert size <= 16_000  # ≤ 5k tokens with room: nested shapes once in heartbeat://schema
        for tool in listed.tools:  # output schemas name only the top level; nested objects stay objects
            for field in (tool.output_schema or {}).get("properties", {}).values():
                assert "properties" not in field and "properties" not in field.get("items", {}), tool.name

    run(body)


def test_what_is_red_ranks_red_first_with_reason_since_and_stale(mini_world: str) -> None:
    async def body(client: Client) -> None:
        result = await client.call_tool("what_is_red", {})
        answer = data(result)
        items = answer["items"]
        assert [i["metric_id"] for i in items] == [
            "shop_unpaid_invoices",
            "shop_refund_rate_7d",
            "rates_coverage",
        ]
        red = items[0]
        assert red["status"] == "red" and red["reason"] == "1 ≥ alert line 1" and red["crossed"] == "alert"
        assert red["owner"] == "finance@example.com" and "verified" not in red  # false: left out
        assert red["since"] and red["freshness"] == "fresh"
        assert items[1]["status"] == "amber" and items[1]["crossed"] == "norm"
        assert items[2]["freshness"] == "red" and "4 d old" in items[2]["freshness_reason"]
        assert items[2]["display_state"] == "stale" and items[2]["status"] == "green"
        assert answer["counts"]["red"] == 1 and answer["counts"]["stale"] == 1 and answer["total"] == 3
        assert "3. STALE rates_coverage" in text_of(result.content[0])
        assert chars(result) <= 2000 * 4

        only_red = data(
            await client.call_tool("what_is_red", {"include_amber": False, "include_stale": False})
        )
        assert [i["metric_id"] for i in only_red["items"]] == ["shop_unpaid_invoices"]
        support = data(await client.call_tool("what_is_red", {"team": "support"}))
        assert [i["metric_id"] for i in support["items"]] == ["shop_refund_rate_7d"]
        limited = data(await client.call_tool("what_is_red", {"limit": 1}))
        assert len(limited["items"]) == 1 and limited["more"] == 2

    run(body)


def test_today_gives_counts_top_stale_sources_and_changes(mini_world: str) -> None:
    with psycopg.connect(mini_world, autocommit=True) as conn:
        # Yesterday the refund rate was green: today's amber is a transition.
        conn.execute(
            "UPDATE heartbeat.metric_history SET status = 'green' WHERE metric_id = 'shop_refund_rate_7d'"
            " AND as_of_date < (SELECT max(as_of_date) FROM heartbeat.metric_history)"
        )

    async def body(client: Client) -> None:
        result = await client.call_tool("today", {})
        answer = data(result)
        assert answer["headline"].startswith("1 red, 1 amber, 1 stale")
        # every problem is in an incident (alone here): the incidents say them, `top` holds the rest
        assert answer["incidents"][0]["metrics"] == ["shop_unpaid_invoices"] and answer["top"] == []
        stale = [n for n in answer["not_to_trust"] if n["kind"] == "stale_source"]
        assert [n["subject"] for n in stale] == ["fx"] and stale[0]["metrics"] == ["rates_coverage"]
        text = text_of(result.content[0])
        assert "Customers with unpaid invoices" in text and "Do not trust:\n- source fx red" in text
        assert not text.startswith("{")  # a briefing, not a second copy of the JSON
        assert answer["changed"] == [
            {
                "metric_id": "shop_refund_rate_7d",
                "name": "Refund rate 7d",
                "before": "green",
                "after": "amber",
                "reason": "8.3% ≥ norm line 5%",
                "worse": True,
            }
        ]

    run(body)


def test_explain_metric_names_the_client_and_summarises_history(mini_world: str) -> None:
    async def body(client: Client) -> None:
        answer = data(await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoices"}))
        assert answer["status"] == "red"
        assert "alert" in answer["why"] and "lower is better" in answer["why"]
        components = answer["components"]
        assert components["value"] == 1 and components["alert_value"] == 1 and components["norm_value"] == 0
        assert answer["detail"]["columns"][0] == "customer"
        assert answer["detail"]["rows"][0][0] == "ACME Ltd"
        assert "value_sql" not in answer["definition"]  # the SQL only when asked
        assert answer["detail"]["total"] == 1 and answer["detail"]["more"] == 0
        with_sql = data(
            await client.call_tool(
                "explain_metric", {"metric_id": "shop_unpaid_invoices", "include_sql": True}
            )
        )
        assert "shop.invoices" in with_sql["definition"]["value_sql"]
        assert answer["definition"]["how_to_read"]
        summary = answer["last_30"]
        assert summary["days"] == 21 and summary["min"] == 1 and summary["trend"] == "flat"
        assert "points" in summary and "series" not in answer
        assert answer["freshness"] == "fresh" and answer["freshness_why"].startswith("sources")
        assert answer["owner"] == "finance@example.com" and answer["verification_state"] == "unverified"

        history = data(await client.call_tool("metric_history", {"metric_id": "shop_orders_24h", "days": 7}))
        assert len(history["points"]) == 7 and history["summary"]["mean"] == 1440

        listed = data(await client.call_tool("list_metrics", {"query": "refund"}))
        assert [m["metric_id"] for m in listed["metrics"]] == ["shop_refund_rate_7d"]
        stale = data(await client.call_tool("list_metrics", {"status": "stale"}))
        assert [m["metric_id"] for m in stale["metrics"]] == ["rates_coverage"]
        by_source = data(await client.call_tool("list_metrics", {"source": "fx"}))
        assert by_source["total"] == 1
        first_two = data(await client.call_tool("list_metrics", {"limit": 2}))
        assert len(first_two["metrics"]) == 2 and first_two["total"] == 5 and first_two["more"] == 3

        sources = data(await client.call_tool("sources_status", {}))
        assert [s["source"] for s in sources["sources"]] == ["fx", "shop"]
        assert sources["sources"][0]["freshness"] == "red" and sources["sources"][0]["metrics"] == [
            "rates_coverage"
        ]

    run(body)


def test_unknown_metric_and_bad_arguments_give_actionable_errors(mini_world: str) -> None:
    async def body(client: Client) -> None:
        text = error_text(await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoice"}))
        assert "unknown metric 'shop_unpaid_invoice'" in text and "shop_unpaid_invoices" in text
        text = error_text(await client.call_tool("metric_history", {"metric_id": "shop_orders"}))
        assert "shop_orders_24h" in text
        text = error_text(await client.call_tool("what_is_red", {"limit": 0}))
        assert "limit" in text and "greater than or equal to 1" in text
        text = error_text(await client.call_tool("list_metrics", {"status": "purple"}))
        assert "status" in text
        resource = await client.read_resource("heartbeat://metrics/shop_unpaid_invoices")
        assert "ACME Ltd" in text_of(resource.contents[0])
        listing = await client.read_resource("heartbeat://metrics")
        assert json.loads(text_of(listing.contents[0]))["total"] == 5
        prompt = await client.get_prompt("daily_triage", {})
        assert "what_is_red" in text_of(prompt.messages[0].content)

    run(body)


def test_operator_writes_validate_persist_and_record_the_actor(mini_world: str) -> None:
    async def body(client: Client) -> None:
        text = error_text(
            await client.call_tool("set_thresholds", {"metric_id": "shop_refund_rate_7d", "norm": 50})
        )
        assert "norm" in text and "alert" in text
        text = error_text(await client.call_tool("set_thresholds", {"metric_id": "shop_refund_rate_7d"}))
        assert "nothing to change" in text
        text = error_text(
            await client.call_tool(
                "set_thresholds", {"metric_id": "shop_refund_rate_7d", "norm": 4, "clear": ["norm"]}
            )
        )
        assert "both set and cleared" in text
        text = error_text(
            await client.call_tool("set_owner", {"metric_id": "shop_orders_24h", "owner": "bob"})
        )
        assert "email" in text
        text = error_text(
            await client.call_tool("set_thresholds", {"metric_id": "shop_refund_rate_7d", "norm": "lots"})
        )
        assert "norm" in text

        # Raise the amber line above today's 8.3%: the metric turns green at once, no recompute needed.
        answer = data(
            await client.call_tool(
                "set_thresholds",
                {
                    "metric_id": "shop_refund_rate_7d",
                    "norm": 10,
                    "target": 2,
                    "target_due_date": "2027-03-31",
                },
            )
        )
        assert answer["norm_value"] == 10 and answer["alert_value"] == 20 and answer["status"] == "green"
        assert answer["updated_by"] == "mcp-test"
        red = data(await client.call_tool("what_is_red", {}))
        assert "shop_refund_rate_7d" not in [i["metric_id"] for i in red["items"]]
        cleared = data(
            await client.call_tool("set_thresholds", {"metric_id": "shop_refund_rate_7d", "clear": ["alert"]})
        )
        assert "alert_value" not in cleared and cleared["norm_value"] == 10

        owner = data(
            await client.call_tool("set_owner", {"metric_id": "shop_orders_24h", "owner": "ops@example.com"})
        )
        assert owner["owner"] == "ops@example.com"
        verified = data(
            await client.call_tool("set_verification", {"metric_id": "shop_orders_24h", "state": "verified"})
        )
        assert verified["verification_state"] == "verified"
        text = error_text(
            await client.call_tool("set_verification", {"metric_id": "shop_orders_24h", "state": "maybe"})
        )
        assert "verified" in text

    run(body)
    with psycopg.connect(mini_world) as conn:
        row = conn.execute(
            "SELECT norm_value, alert_value, target_value, target_due_date::text, thresholds_updated_by"
            " FROM heartbeat.metric_registry WHERE metric_id = 'shop_refund_rate_7d'"
        ).fetchone()
        assert row == (10, None, 2, "2027-03-31", "mcp-test")
        row = conn.execute(
            "SELECT owner, verification_state FROM heartbeat.metric_registry WHERE metric_id = 'shop_orders_24h'"
        ).fetchone()
        assert row == ("ops@example.com", "verified")
        edits = conn.execute(
            "SELECT field, actor FROM heartbeat.operator_edit WHERE actor = 'mcp-test' ORDER BY id"
        ).fetchall()
        assert ("norm", "mcp-test") in edits and ("verification_state", "mcp-test") in edits


@pytest.fixture
def held_job(mini_world: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A recompute job held in its alert phase (this fixture holds the alert evaluation lock until released),
    so a second request must coalesce. shop and fx are webhook sources here: the real ingest step passes."""
    from heartbeat_core.alerts.evaluate import EVALUATE_LOCK

    (tmp_path / "sources.toml").write_text(
        '[sources.shop]\nkind = "webhook"\n\n[sources.fx]\nkind = "webhook"\n'
    )
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(tmp_path / "sources.toml"))
    reset_settings()
    held, entered, release = threading.Event(), threading.Event(), threading.Event()
    in_alerts = "SELECT 1 FROM heartbeat.recompute_job WHERE state = 'running' AND phase = 'alerts'"

    def hold() -> None:
        with psycopg.connect(mini_world) as lock, psycopg.connect(mini_world, autocommit=True) as watch:
            lock.execute("SELECT pg_advisory_xact_lock(%s)", (EVALUATE_LOCK,))  # until this transaction ends
            watch.execute("LISTEN heartbeat_job")
            held.set()
            while not release.is_set() and watch.execute(in_alerts).fetchone() is None:
                for _ in watch.notifies(timeout=1.0, stop_after=1):
                    pass
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold, name="held-job", daemon=True)
    holder.start()
    assert held.wait(30)
    yield entered, release
    release.set()
    holder.join(30)


def test_recompute_coalesces_and_reports_progress(mini_world: str, held_job: Any) -> None:
    entered, release = held_job
    reported: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, total, message))

    async def body(client: Client) -> None:
        text = error_text(await client.call_tool("recompute", {"metric_ids": ["shop_orderz_24h"]}))
        assert "shop_orders_24h" in text
        first = data(await client.call_tool("recompute", {}))
        assert first["coalesced"] is False
        await anyio.to_thread.run_sync(entered.wait, 30)
        second = data(await client.call_tool("recompute", {"metric_ids": "shop_orders_24h", "ingest": False}))
        assert second["coalesced"] is True and second["job_id"] == first["job_id"]
        status = data(await client.call_tool("job_status", {"job_id": first["job_id"]}))
        assert status["state"] == "running" and status["total"] >= 5
        today = data(await client.call_tool("today", {}))
        assert today["job"]["job_id"] == first["job_id"] and today["job"]["state"] == "running"

        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                done = data(
                    await client.call_tool(
                        "recompute", {"ingest": False, "wait": True}, progress_callback=on_progress
                    )
                )
                assert done["coalesced"] is True and done["job_id"] == first["job_id"]
                assert done["state"] == "succeeded" and done["job"]["metrics_ok"] == 5
                assert [s["source"] for s in done["job"]["sources"]] == ["fx", "shop"]

            tg.start_soon(waiter)
            await anyio.sleep(0.2)  # let the waiter subscribe before the job moves on
            release.set()
        assert reported, "no progress notifications"
        assert reported[-1][0] == reported[-1][1]
        text = error_text(await client.call_tool("job_status", {"job_id": 999999}))
        assert "no job 999999" in text

    run(body)


def test_database_down_is_a_clear_error_within_seconds(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_DATABASE_URL", "postgresql://heartbeat@127.0.0.1:9/nowhere")
    reset_settings()
    reset_pool()

    async def body(client: Client) -> None:
        for name, args in (("what_is_red", {}), ("explain_metric", {"metric_id": "x"})):
            started = time.monotonic()
            text = error_text(await client.call_tool(name, args))
            assert "database unavailable" in text and "nowhere" in text
            assert "Traceback" not in text
            assert time.monotonic() - started < 10

    run(body)


def test_database_lost_after_a_good_read_serves_the_last_copy_marked_degraded(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = build_server(actor="mcp-test")

    async def body() -> None:
        async with Client(server) as client:
            first = data(await client.call_tool("what_is_red", {}))
            assert "degraded" not in first
            monkeypatch.setenv("HEARTBEAT_DATABASE_URL", "postgresql://heartbeat@127.0.0.1:9/nowhere")
            reset_settings()
            reset_pool()
            server.heartbeat.forget()
            started = time.monotonic()
            again = data(await client.call_tool("what_is_red", {}))
            assert time.monotonic() - started < 10
            assert again["degraded"] and again["items"] == first["items"]
            text = error_text(await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoices"}))
            assert "database unavailable" in text

    anyio.run(body)
