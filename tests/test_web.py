"""The web surface against a real uvicorn server on a loopback port, over the mini world in real Postgres."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from heartbeat_core.settings import reset_settings
from heartbeat_web.app import create_app
from tests.web_server import LiveServer

pytestmark = pytest.mark.db

TOKEN = "s3cret-token-for-tests"


def wait_until(check: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def server(mini_world: str) -> Iterator[LiveServer]:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_cockpit_red_first_rendered_once(server: LiveServer, client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    statuses = re.findall(r'data-status="(\w+)"', html)
    assert statuses[0] == "red"
    assert statuses.index("red") < statuses.index("amber") < statuses.index("green")
    # red tile is a big tile, fresh greens are compact minis, the stale green is drawn stale (never green)
    assert re.search(r'<article class="tile s-red[^"]*" data-metric="shop_unpaid_invoices"', html)
    assert re.search(r'<article class="mini s-green[^"]*" data-metric="shop_orders_24h"', html)
    assert re.search(r'<article class="tile s-stale[^"]*" data-metric="rates_coverage"', html)
    assert '<span class="count c-stale">1 stale</span>' in html
    displays = re.findall(r'data-display="(\w+)"', html)
    assert displays.index("red") < displays.index("amber") < displays.index("stale") < displays.index("green")
    assert '<svg class="spark spark-red"' in html
    assert 'class="chip f-red"' in html  # rates_coverage's sources are 4 days old
    assert "4 d" in html
    assert "unverified" in html
    assert 'data-refresh="30.0"' in html
    # served from bytes built once: many requests, no new render
    renders = server.app.state.web.live.renders
    bodies = {client.get("/").content for _ in range(20)}
    cockpit = {client.get("/api/cockpit").content for _ in range(20)}
    assert len(bodies) == 1 and len(cockpit) == 1
    assert server.app.state.web.live.renders == renders


def test_api_cockpit_shape(client: httpx.Client) -> None:
    r = client.get("/api/cockpit")
    assert r.status_code == 200
    data = r.json()
    for key in ("generated_at", "last_job", "metrics", "degraded", "build", "pipeline"):
        assert key in data
    assert data["degraded"] is False
    first = data["metrics"][0]
    for key in (
        "metric_id", "name", "status", "reason", "value", "unit", "period", "norm_value", "alert_value",
        "target_value", "target_hit", "typical_mean", "typical_stddev", "z", "freshness", "source_as_of",
        "computed_at", "error", "owner", "verification_state", "sparkline",
    ):  # fmt: skip
        assert key in first, key
    assert [m["metric_id"] for m in data["metrics"]][:2] == ["shop_unpaid_invoices", "shop_refund_rate_7d"]
    assert data["metrics"][0]["status"] == "red"
    rates = next(m for m in data["metrics"] if m["metric_id"] == "rates_coverage")
    assert rates["freshness"] == "red" and rates["status"] == "green" and rates["display_state"] == "stale"
    assert [f["kind"] for f in rates["flags"]] == ["stale"]
    assert data["counts"]["stale"] == 1 and sum(data["counts"].values()) == len(data["metrics"])
    # conditional requests are cheap for the TV and for pollers
    etag = r.headers["etag"]
    assert client.get("/api/cockpit", headers={"If-None-Match": etag}).status_code == 304
    p = client.get("/partials/cockpit")
    assert p.status_code == 200 and p.headers["x-heartbeat-build"]
    assert client.get("/partials/cockpit", headers={"If-None-Match": p.headers["etag"]}).status_code == 304
    health = client.get("/healthz").json()
    assert health["ok"] and health["snapshot"] and not health["degraded"]


def test_metric_page_and_api(client: httpx.Client) -> None:
    r = client.get("/metrics/shop_unpaid_invoices")
    assert r.status_code == 200
    html = r.text
    assert "ACME Ltd" in html  # the stored detail rows
    assert '<svg class="chart"' in html and 'class="line-alert"' in html
    for label in ("Value", "Period", "Typical", "Norm (amber)", "Alert (red)", "Target"):
        assert f'<span class="k">{label}</span>' in html
    assert "Owner and verification" in html and "Value SQL" in html

    missing = client.get("/metrics/shop_unpaid_invoice")
    assert missing.status_code == 404 and "shop_unpaid_invoices" in missing.text

    api = client.get("/api/metrics/shop_unpaid_invoices").json()
    assert api["metric"]["status"] == "red"
    assert api["detail"]["rows"] and "value_sql" in api["definition"]
    r404 = client.get("/api/metrics/shop_orders_42h")
    assert r404.status_code == 404
    assert "shop_orders_24h" in r404.json()["detail"]

    hist = client.get("/api/metrics/shop_orders_24h/history", params={"days": 10}).json()
    assert hist["metric_id"] == "shop_orders_24h" and len(hist["points"]) == 10
    dates = [p["as_of_date"] for p in hist["points"]]
    assert dates == sorted(dates)
    assert client.get("/api/metrics/shop_orders_24h/history", params={"days": 0}).status_code == 422


def test_metric_page_axis_of_a_count_stops_at_zero(mini_world: str, client: httpx.Client) -> None:
    # a wide typical band (μ − σ under zero each day) on a count that never went negative
    with psycopg.connect(mini_world) as conn:
        changed = conn.execute(
            "UPDATE heartbeat.metric_history SET typical_mean = value, typical_stddev = value + 5"
            " WHERE metric_id = 'shop_orders_24h' AND value IS NOT NULL"
        ).rowcount
    assert changed > 1
    html = client.get("/metrics/shop_orders_24h").text
    chart = html[html.index('<svg class="chart"') : html.index("</svg>", html.index('<svg class="chart"'))]
    assert '<polygon class="band"' in chart
    ticks = re.findall(r'<text class="axis" [^>]*text-anchor="end">([^<]*)</text>', chart)[
        :3
    ]  # low, mid, high
    assert ticks[0] == "0" and not any(t.startswith("-") for t in ticks), ticks


def test_operator_writes_without_token_on_loopback(client: httpx.Client) -> None:
    r = client.patch("/api/metrics/shop_orders_24h/verification", json={"owner": "ops@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["owner"] == "ops@example.com" and r.json()["updated_by"] == "api"
    r = client.patch("/api/metrics/shop_orders_24h/verification", json={"verification_state": "verified"})
    assert r.status_code == 200 and r.json()["verification_state"] == "verified"

    def shows_verified() -> bool:
        m = next(
            x for x in client.get("/api/cockpit").json()["metrics"] if x["metric_id"] == "shop_orders_24h"
        )
        return m["verification_state"] == "verified" and m["owner"] == "ops@example.com"

    wait_until(shows_verified, what="cockpit to show the operator edit")

    bad = client.patch("/api/metrics/shop_orders_24h/verification", json={"owner": "not-an-email"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("owner")
    bad = client.patch("/api/metrics/shop_orders_24h/verification", json={"verification_state": "maybe"})
    assert bad.status_code == 422 and "verification_state" in bad.json()["detail"]
    empty = client.patch("/api/metrics/shop_orders_24h/verification", json={})
    assert empty.status_code == 422


def test_thresholds_edit_moves_the_cockpit(client: httpx.Client) -> None:
    # refund rate is amber at ~8% (norm 5, alert 20); lowering the alert line to 6 turns it red
    r = client.patch("/api/metrics/shop_refund_rate_7d/thresholds", json={"alert": 6})
    assert r.status_code == 200, r.text
    assert r.json()["alert_value"] == 6

    def red_now() -> bool:
        data = client.get("/api/cockpit").json()
        m = next(x for x in data["metrics"] if x["metric_id"] == "shop_refund_rate_7d")
        return m["status"] == "red"

    wait_until(red_now, what="refund rate to turn red")
    assert 'data-metric="shop_refund_rate_7d" data-status="red"' in client.get("/").text
    bad = client.patch("/api/metrics/shop_refund_rate_7d/thresholds", json={"norm": 50})
    assert bad.status_code == 422
    assert "norm" in bad.json()["detail"] or "alert" in bad.json()["detail"]
    unknown = client.patch("/api/metrics/nope_rate/thresholds", json={"norm": 1})
    assert unknown.status_code == 404 and "nope_rate" in unknown.json()["detail"]
    extra = client.patch("/api/metrics/shop_refund_rate_7d/thresholds", json={"limit": 1})
    assert extra.status_code == 422 and "limit" in extra.json()["detail"]


def test_recompute_job_api(client: httpx.Client) -> None:
    r = client.post("/api/metrics/recompute", json={"metric_ids": ["shop_orders_24h"], "ingest": False})
    assert r.status_code == 202, r.text
    ticket = r.json()
    assert set(ticket) >= {"job_id", "coalesced", "state"}

    def finished() -> dict | None:
        view = client.get(f"/api/metrics/recompute/{ticket['job_id']}").json()
        return view if view["state"] not in ("queued", "running") else None

    view = wait_until(finished, timeout=60, what="the job to finish")
    assert isinstance(view, dict) and view["state"] == "succeeded", view
    assert client.get("/api/metrics/active-job").status_code == 200
    assert client.get("/api/metrics/recompute/999999").status_code == 404
    unknown = client.post("/api/metrics/recompute", json={"metric_ids": ["shop_order_24h"]})
    assert unknown.status_code == 404 and "shop_orders_24h" in unknown.json()["detail"]


def test_writes_need_the_token_once_set(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {"verification_state": "verified"}
            url = "/api/metrics/shop_orders_24h/verification"
            assert c.patch(url, json=body).status_code == 401
            r = c.patch(url, json=body, headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401 and "WWW-Authenticate" in r.headers
            assert c.patch(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            assert c.post("/api/metrics/recompute", json={}).status_code == 401
            assert c.post("/api/webhooks/shop", json={"a": 1}).status_code == 401
            # reads need a credential too (issue 15), and no page shows the token
            auth = {"Authorization": f"Bearer {TOKEN}"}
            for path in ("/", "/api/cockpit", "/metrics/shop_orders_24h", "/api/metrics/shop_orders_24h"):
                assert c.get(path).status_code == 401
                r = c.get(path, headers=auth)
                assert r.status_code == 200 and TOKEN not in r.text
    finally:
        srv.stop()


def test_metric_named_script_renders_inert(
    marts_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from heartbeat_core import clock
    from tests.mini_world import MINI_DEFS, build_mini_sources

    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    source = (MINI_DEFS / "shop_orders_24h.sql").read_text()
    evil = re.sub(r"(?m)^-- name:.*$", "-- name: <script>alert(1)</script>", source)
    evil = re.sub(r"(?m)^-- description:.*$", '-- description: "><img src=x onerror=alert(2)>', evil)
    (defs / "evil_metric.sql").write_text(evil)
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    reset_settings()
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.metrics.sync import sync_directory

    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, clock.now())
        conn.commit()
        assert sync_directory(conn, defs).ok
    assert compute_metrics(backfill_days=3).ok
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            for path in ("/", "/partials/cockpit", "/metrics/evil_metric"):
                html = c.get(path).text
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
                assert "<script>alert(1)" not in html
                assert "<img src=x" not in html
            assert c.get("/api/cockpit").json()["metrics"]  # JSON carries the name as data
    finally:
        srv.stop()


def test_mcp_is_mounted(mini_world: str) -> None:
    import anyio
    from mcp import Client

    srv = LiveServer(lambda: create_app(mcp=True, poll_s=0.2)).start()
    try:

        async def talk() -> list[str]:
            async with Client(f"{srv.url}/mcp") as c:
                tools = await c.list_tools()
                return [t.name for t in tools.tools]

        names = anyio.run(talk)
        assert "what_is_red" in names
    finally:
        srv.stop()


def test_webhook_lands_events(mini_world: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[sources.hooks]\nkind = "webhook"\ntable = "event"\n')
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(sources))
    reset_settings()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            r = c.post("/api/webhooks/hooks", json={"events": [{"id": 1, "kind": "signup"}, {"id": 2}]})
            assert r.status_code == 202, r.text
            assert r.json()["received"] == 2
            with psycopg.connect(mini_world) as conn:
                assert conn.execute("SELECT count(*) FROM hooks.event").fetchone() == (2,)
            unknown = c.post("/api/webhooks/nohooks", json={"a": 1})
            assert unknown.status_code == 404 and "nohooks" in unknown.json()["detail"]
            not_hook = c.post("/api/webhooks/Bad-Name", json={"a": 1})
            assert not_hook.status_code == 422
            scalar = c.post("/api/webhooks/hooks", json=3)
            assert scalar.status_code == 422
    finally:
        srv.stop()


def test_api_docs_render_offline(client: httpx.Client) -> None:
    r = client.get("/api/docs")
    assert r.status_code == 200
    for needle in (
        "/api/cockpit",
        "/api/metrics/{metric_id}/thresholds",
        "/api/webhooks/{source}",
        "ThresholdsIn",
    ):
        assert needle in r.text
    assert "cdn" not in r.text.split("Swagger UI")[0].lower()
    spec = client.get("/api/openapi.json").json()
    assert {"/api/cockpit", "/api/metrics/recompute", "/api/metrics/active-job", "/healthz"} <= set(
        spec["paths"]
    )
