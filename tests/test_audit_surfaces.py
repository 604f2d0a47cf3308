"""Audit surfaces over the mini world: /audit pages from snapshots (rendered once per change), REST with
token-gated writes, markup in titles and labels rendering inert, the metric page's cut links, MCP tools."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest
from mcp import Client

from heartbeat_core.audit import cut_view, refresh_cuts, sync_cuts
from heartbeat_core.settings import reset_settings
from heartbeat_mcp.server import build_server
from heartbeat_web.app import create_app
from tests.test_audit import FLAKY, ORDERS, REPO, UNPAID, write_cuts
from tests.web_server import LiveServer

pytestmark = pytest.mark.db

TOKEN = "audit-token-for-tests"

# A moment as a machine prints it (`2026-11-02 15:16`): never on a page people read on a phone or a TV.
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a day as a machine prints it (`2026-11-02`)
CLOCK = r"\d{2}:\d{2} [A-Z]+"  # `15:16 UTC`, as formatting.format_clock prints a moment today

EVIL = """
META = {"page": "money", "title": "Evil <script>alert('t')</script> title", "kind": "stacked", "order": 4,
        "description": "<img src=x onerror=alert(1)>", "how_to_read": "<b>bold?</b>",
        "metrics": ["shop_unpaid_invoices"]}


def compute(conn, *, window):
    return {"takeaway": "<script>alert('takeaway')</script>",
            "categories": ["<svg onload=alert(2)>", "b"],
            "series": [{"name": "</text><script>alert(3)</script>", "values": [1, 2]}],
            "notes": ["<i>note</i>"]}
"""

HEAT = """
META = {"page": "other", "title": "Heat", "kind": "heat_table", "windows": ["7d"], "window_default": "7d"}


def compute(conn, *, window):
    return {"takeaway": "t", "rows": ["<b>r</b>"], "columns": ["<c>"], "values": [[1.5]]}
"""


@pytest.fixture
def audit_world(mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    directory = write_cuts(
        tmp_path / "cuts",
        money_unpaid=UNPAID,
        money_orders=ORDERS,
        money_flaky=FLAKY,
        money_evil=EVIL,
        other_heat=HEAT,
    )
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(directory))
    monkeypatch.delenv("FLAKY_MODE", raising=False)
    reset_settings()
    report = refresh_cuts()
    assert report.ok, [o.error for o in report.failed]
    yield mini_world


@pytest.fixture
def server(audit_world: str) -> Iterator[LiveServer]:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as c:
        yield c


def test_pages_render_from_snapshots_with_prose_freshness_and_links(
    client: httpx.Client, audit_world: str
) -> None:
    index = client.get("/audit")
    assert index.status_code == 200
    assert 'href="/audit/money"' in index.text and 'href="/audit/other"' in index.text
    assert "ACME Ltd owes EUR 12,400" in index.text
    page = client.get("/audit/money")
    assert page.status_code == 200
    html = page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    order = [
        html.index(f'id="cut-{c}"') for c in ("money_unpaid", "money_orders", "money_flaky", "money_evil")
    ]
    assert order == sorted(order)  # META order
    assert "Who owes money?" in html and "Longest bar first." in html
    assert '<svg class="chart audit-chart"' in html
    assert 'class="line-alert"' in html  # the alert line of the unpaid cut
    assert 'href="/metrics/shop_unpaid_invoices"' in html
    assert "chip f-fresh" in html
    week = client.get("/audit/money?window=7d").text
    assert "30d only" in week  # the unpaid cut has no 7d window: it says so
    assert client.get("/audit/nope").status_code == 404
    assert client.get("/audit/money?window=1y").status_code == 404
    metric = client.get("/metrics/shop_unpaid_invoices")
    assert metric.status_code == 200
    assert 'href="/audit/money#cut-money_unpaid"' in metric.text


def test_markup_in_titles_and_labels_renders_inert(client: httpx.Client) -> None:
    html = client.get("/audit/money").text
    for raw in (
        "<script>alert(",
        "<img src=x",
        "<svg onload",
        "</text><script>",
        "<b>bold?</b>",
        "<i>note</i>",
    ):
        assert raw not in html, raw
    assert "Evil &lt;script&gt;alert(" in html
    assert "&lt;svg onload=alert(2)&gt;" in html
    heat = client.get("/audit/other").text
    assert "<b>r</b>" not in heat and "&lt;b&gt;r&lt;/b&gt;" in heat and "<c>" not in heat
    assert "<script>" not in client.get("/audit").text.replace('<script src="', "")


def test_pages_are_rendered_once_per_change(client: httpx.Client, audit_world: str) -> None:
    first = client.get("/audit/money").text
    assert client.get("/audit/money").text == first
    with psycopg.connect(audit_world, autocommit=True) as conn:
        conn.execute(
            "UPDATE heartbeat.audit_cut_registry SET verification_state = 'verified' WHERE cut_id = 'money_orders'"
        )
    # Another process's change shows within a second (the versions are checked at most once a second).
    deadline = time.monotonic() + 10
    while "1 verified" not in (after := client.get("/audit/money").text):
        assert time.monotonic() < deadline, "the page never showed the change"
        time.sleep(0.1)
    assert after != first


def test_rest_reads_and_token_gated_writes(
    audit_world: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        reader = {"Authorization": f"Bearer {TOKEN}"}  # reads need a credential once a token is set
        with (
            httpx.Client(base_url=srv.url, timeout=30) as c,
            httpx.Client(base_url=srv.url, timeout=30, headers=reader) as v,
        ):
            assert c.get("/api/audit/cuts/money_unpaid").status_code == 401
            page = v.get("/api/audit/pages/money", params={"window": "90d"}).json()
            assert [x["cut_id"] for x in page["cuts"]][:2] == ["money_unpaid", "money_orders"]
            assert page["cuts"][1]["window"] == "90d"
            cut = v.get("/api/audit/cuts/money_unpaid").json()
            assert cut["payload"]["bars"][0]["label"] == "ACME Ltd" and cut["window"] == "30d"
            assert v.get("/api/audit/cuts/money_unpiad").status_code == 404
            assert "money_unpaid" in v.get("/api/audit/cuts/money_unpiad").json()["detail"]
            assert v.get("/api/audit/cuts/money_unpaid", params={"window": "2d"}).status_code == 422
            assert v.get("/api/audit/pages/nope").status_code == 404
            registry = v.get("/api/audit/registry").json()["cuts"]
            assert {r["cut_id"] for r in registry} >= {"money_unpaid", "other_heat"}
            assert {
                s["window"] for r in registry if r["cut_id"] == "money_orders" for s in r["snapshots"]
            } == {
                "7d",
                "30d",
                "90d",
            }

            body = {"verification_state": "verified", "owner": "ann@example.com"}
            assert c.patch("/api/audit/cuts/money_unpaid/verification", json=body).status_code == 401
            assert c.post("/api/audit/cuts/money_unpaid/refresh").status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            wrong = {"Authorization": "Bearer nope"}
            assert c.post("/api/audit/cuts/money_unpaid/refresh", headers=wrong).status_code == 401
            done = c.patch("/api/audit/cuts/money_unpaid/verification", json=body, headers=auth)
            assert done.status_code == 200, done.text
            assert (
                done.json()["verification_state"] == "verified" and done.json()["owner"] == "ann@example.com"
            )
            bad = c.patch("/api/audit/cuts/money_unpaid/verification", json={"owner": "nope"}, headers=auth)
            assert bad.status_code == 422 and "owner" in bad.json()["detail"]
            extra = c.patch("/api/audit/cuts/money_unpaid/verification", json={"colour": 1}, headers=auth)
            assert extra.status_code == 422
            before = v.get("/api/audit/cuts/money_orders", params={"window": "7d"}).json()["computed_at"]
            refreshed = c.post("/api/audit/cuts/money_orders/refresh", params={"window": "7d"}, headers=auth)
            assert refreshed.status_code == 200 and refreshed.json()["computed"] == 1
            assert (
                v.get("/api/audit/cuts/money_orders", params={"window": "7d"}).json()["computed_at"] != before
            )
            monkeypatch.setenv("FLAKY_MODE", "raise")
            failed = c.post("/api/audit/cuts/money_flaky/refresh", headers=auth).json()
            assert failed["ok"] is False and "source table vanished" in failed["outcomes"][0]["error"]
            kept = v.get("/api/audit/cuts/money_flaky").json()
            assert kept["payload"]["takeaway"] == "all good" and "vanished" in kept["error"]
            page_html = v.get("/audit/money").text
            assert "Last refresh failed" in page_html and "showing the last good snapshot" in page_html
            assert c.post("/api/audit/cuts/nope/refresh", headers=auth).status_code == 404
    finally:
        srv.stop()


def test_mcp_audit_tools_summarise_for_an_agent(audit_world: str) -> None:
    async def body(client: Client) -> None:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"audit_page", "audit_cut"} <= names
        result = await client.call_tool("audit_page", {"page": "money"})
        assert not result.is_error, result.content
        page = result.structured_content
        assert page is not None and page["title"] == "Money"
        first = page["cuts"][0]
        assert first["cut_id"] == "money_unpaid" and first["takeaway"].startswith("ACME Ltd owes")
        assert len(first["top"]) <= 3
        cut = (
            await client.call_tool("audit_cut", {"cut_id": "money_orders", "window": "90d"})
        ).structured_content
        assert cut is not None and cut["window"] == "90d"
        series = cut["top"][0]
        assert series["points"] >= 30 and set(series) == {"name", "first", "last", "peak", "points"}
        assert len(json.dumps(cut)) < 4000  # a summary of the series, not the series
        explained = (
            await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoices"})
        ).structured_content
        assert explained is not None
        assert [c["cut_id"] for c in explained["audit_cuts"]] == ["money_unpaid", "money_evil"]
        overview = (await client.call_tool("audit_page", {})).structured_content
        assert overview is not None and [p["page"] for p in overview["pages"]] == ["money", "other"]
        assert overview["pages"][0]["cuts"][0]["takeaway"] == "ACME Ltd owes EUR 12,400"
        unknown = await client.call_tool("audit_cut", {"cut_id": "money_unpiad"})
        assert unknown.is_error and "money_unpaid" in unknown.content[0].text  # type: ignore[union-attr]
        bad_page = await client.call_tool("audit_page", {"page": "mony"})
        assert bad_page.is_error and "money" in bad_page.content[0].text  # type: ignore[union-attr]

    async def main() -> None:
        async with Client(build_server(actor="audit-test")) as client:
            await body(client)

    anyio.run(main)


def test_window_cut_without_snapshot_shows_placeholder(audit_world: str, tmp_path: Path) -> None:
    directory = Path(str(tmp_path / "cuts"))
    (directory / "money_new.py").write_text(
        textwrap.dedent(UNPAID).replace('"order": 1', '"order": 9').replace("Unpaid invoices", "New cut")
    )
    with psycopg.connect(audit_world) as conn:
        from heartbeat_core.audit import sync_cuts

        sync_cuts(conn)
        conn.commit()
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        html = httpx.get(srv.url + "/audit/money", timeout=20).text
        assert "Not computed yet" in html
    finally:
        srv.stop()


COLLATERAL = "risk_collateral_overdue_by_client"

# The two tables the demo's collateral cut reads, with one client 40 days behind on one invoice.
COLLATERAL_WORLD = """
CREATE SCHEMA webbank;
CREATE TABLE webbank.client_profile (id bigint PRIMARY KEY, name text, tier text);
CREATE SCHEMA card_management;
CREATE TABLE card_management.collateral_invoice (
    id bigint PRIMARY KEY, client_profile_id bigint, amount numeric,
    issued_at timestamptz, due_date date, paid_at timestamptz);
INSERT INTO webbank.client_profile VALUES (1, 'ACME Ltd', 'business'), (2, 'Beta GmbH', 'business');
INSERT INTO card_management.collateral_invoice VALUES
    (1, 1, 5200, now() - interval '70 days', current_date - 40, NULL);
"""


def test_pages_name_moments_and_counts_as_people_read_them(audit_world: str, tmp_path: Path) -> None:
    """The demo's collateral cut, run for real on one overdue client, says "1 client" (not "client(s)");
    no page prints a machine moment: generated, computed and a failed refresh read `15:16 UTC`."""
    shutil.copy(REPO / "heartbeat_demo" / "project" / "audit_cuts" / f"{COLLATERAL}.py", tmp_path / "cuts")
    with psycopg.connect(audit_world) as conn:
        conn.execute(COLLATERAL_WORLD)
        sync_cuts(conn)
        conn.commit()
    assert refresh_cuts([COLLATERAL]).ok
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLAKY_MODE", "raise")
        assert not refresh_cuts(["money_flaky"]).ok  # its page shows when the refresh failed
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=20) as c:
            pages = {path: c.get(path).text for path in ("/audit", "/audit/money", "/audit/risk")}
    finally:
        srv.stop()
    for path, html in pages.items():
        assert not ISO_MOMENT.search(html), (path, ISO_MOMENT.findall(html))
        assert not ISO_DAY.search(html), (path, ISO_DAY.findall(html))
        assert re.search(rf"generated {CLOCK}", html), path
    risk = pages["/audit/risk"]
    assert (
        "1 client is 30+ days behind; ACME Ltd owes EUR 5,200 over 1 invoice, the oldest due 40 days" in risk
    )
    assert "client(s)" not in risk and "invoice(s)" not in risk
    assert re.search(r"<td[^>]*>\d{1,2} [A-Z][a-z]{2}( \d{4})? \(40 d ago\)</td>", risk)  # the oldest due day
    assert re.search(rf"Last refresh failed \({CLOCK}\): RuntimeError", pages["/audit/money"])
    assert re.search(rf"computed {CLOCK} in \d+ ms", pages["/audit/money"])

    with psycopg.connect(audit_world) as conn:
        conn.execute(
            "INSERT INTO card_management.collateral_invoice VALUES"
            " (2, 2, 900, now() - interval '60 days', current_date - 35, NULL),"
            " (3, 2, 800, now() - interval '50 days', current_date - 32, NULL)"
        )
        conn.commit()
    assert refresh_cuts([COLLATERAL]).ok
    with psycopg.connect(audit_world) as conn:
        takeaway = cut_view(conn, COLLATERAL)["payload"]["takeaway"]
    assert takeaway.startswith("2 clients are 30+ days behind; ACME Ltd owes EUR 5,200 over 1 invoice"), (
        takeaway
    )
