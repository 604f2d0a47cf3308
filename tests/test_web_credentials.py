"""Credentials for reads (issue 15) against a real server over the mini world: every route the app registers
refuses without a credential, viewer / display / admin see what they may, a display key in the URL becomes
an HttpOnly cookie that does not hold the key, revocation takes effect within seconds, writes are logged
with their credential, and /mcp takes a viewer token for reads only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.routing import BaseRoute, Mount, Route

from heartbeat_core.access import create_credential, revoke_credential
from heartbeat_core.settings import reset_settings
from heartbeat_web.app import create_app
from heartbeat_web.gate import COOKIE
from tests.test_cli import cli_env, run
from tests.web_server import LiveServer

pytestmark = pytest.mark.db

TOKEN = "s3cret-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
SAMPLE = {"metric_id": "shop_unpaid_invoices", "job_id": "1", "page": "money", "cut_id": "money_unpaid",
          "source": "shop", "path": ""}  # fmt: skip
# what metric data looks like in any answer: metric ids and names of the mini world, a client name
DATA = re.compile(r"shop_unpaid_invoices|rates_coverage|Customers with unpaid|ACME Ltd")
OPEN = {"/healthz", "/access"}


@pytest.fixture
def gated(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    srv = LiveServer(lambda: create_app(mcp=True, poll_s=0.2)).start()
    yield srv
    srv.stop()


def _key(url: str, kind: str, name: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return create_credential(conn, kind, name)[1]


def registered(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route the app registers, walking included routers (FastAPI keeps them nested), with its prefix."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from registered(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
        else:
            yield prefix, route


def _concrete(prefix: str, route: BaseRoute) -> list[tuple[str, str]]:
    """(method, path) for a registered route, its path parameters filled with sample values."""
    if isinstance(route, Mount):
        return [("GET", prefix + route.path + "/"), ("POST", prefix + route.path + "/")]
    assert isinstance(route, Route), route
    path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m.group(1), "x"), prefix + route.path)
    return [(method, path) for method in sorted(route.methods or {"GET"})]


def test_every_registered_route_answers_no_data_without_a_credential(gated: LiveServer) -> None:
    checked = []
    with httpx.Client(base_url=gated.url, timeout=10) as c:
        assert c.get("/", headers=ADMIN).status_code == 200  # the cached fast path is up
        for prefix, route in registered(gated.app.routes):
            for method, path in _concrete(prefix, route):
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"{COOKIE}=hbc_forged"}):
                    r = c.request(method, path, headers=headers, json={} if method != "GET" else None)
                    checked.append((method, path))
                    assert not DATA.search(r.text), (method, path, r.text[:200])
                    if path in OPEN or path.startswith("/static/"):
                        assert r.status_code in (200, 404, 405), (method, path, r.status_code)
                        continue
                    assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
                    if method == "HEAD":
                        continue  # no body to look at
                    if path.startswith(("/api/", "/mcp", "/partials/")):
                        assert "application/json" in r.headers["content-type"], (method, path)
                    else:
                        assert "heartbeat keys create display" in r.text, (method, path)
    paths = {p for _, p in checked}
    assert {"/", "/partials/cockpit", "/api/cockpit", "/metrics/shop_unpaid_invoices", "/mcp/"} <= paths
    assert len(paths) >= 20, paths
    # open paths stay open and carry no metric data
    assert httpx.get(gated.url + "/healthz").status_code == 200
    assert httpx.get(gated.url + "/static/heartbeat.css").status_code == 200


def test_viewer_reads_display_sees_the_screen_and_revocation_is_quick(
    gated: LiveServer, mini_world: str
) -> None:
    viewer = _key(mini_world, "viewer", "alice")
    display = _key(mini_world, "display", "lobby-tv")
    with httpx.Client(base_url=gated.url, timeout=10) as c:
        v = {"Authorization": f"Bearer {viewer}"}
        assert c.get("/api/cockpit", headers=v).status_code == 200
        assert c.get("/metrics/shop_unpaid_invoices", headers=v).status_code == 200
        r = c.patch("/api/metrics/shop_orders_24h/verification", json={"owner": "x@example.com"}, headers=v)
        assert r.status_code == 403 and "read-only" in r.json()["detail"]

        opened = c.get("/", params={"key": display, "scale": "1.5"})
        assert opened.status_code == 303 and opened.headers["location"] == "/?scale=1.5"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and display not in cookie
        jar = {COOKIE: c.cookies[COOKIE]}
        c.cookies.clear()
        tv = httpx.Client(base_url=gated.url, timeout=10, cookies=jar)
        assert tv.get("/").status_code == 200 and "shop_unpaid_invoices" in tv.get("/").text
        assert tv.get("/partials/cockpit").status_code == 200
        assert tv.get("/audit").status_code == 200
        for refused in ("/api/cockpit", "/metrics/shop_unpaid_invoices", "/api/metrics/shop_unpaid_invoices"):
            assert tv.get(refused).status_code == 403, refused
        # a person's browser: the viewer's key in a URL becomes a cookie too; the admin token never does
        person = c.get("/metrics/shop_unpaid_invoices", params={"key": viewer})
        assert person.status_code == 303 and viewer not in person.headers["set-cookie"]
        assert c.get("/metrics/shop_unpaid_invoices", cookies={COOKIE: c.cookies[COOKIE]}).status_code == 200
        c.cookies.clear()
        assert c.get("/", params={"key": TOKEN}).status_code == 401

        with psycopg.connect(mini_world, autocommit=True) as conn:
            revoke_credential(conn, "lobby-tv")
            revoke_credential(conn, "alice")
        revoked_at = time.monotonic()
        while tv.get("/").status_code != 401 or c.get("/api/cockpit", headers=v).status_code != 401:
            assert time.monotonic() - revoked_at < 5, "a revoked key still works after 5 s"
            time.sleep(0.1)
        denied = tv.get("/")
        assert "revoked" in denied.text and not DATA.search(denied.text)
        tv.close()


def test_writes_record_their_credential(gated: LiveServer, mini_world: str) -> None:
    with httpx.Client(base_url=gated.url, timeout=10) as c:
        r = c.patch(
            "/api/metrics/shop_orders_24h/verification", json={"owner": "ops@example.com"}, headers=ADMIN
        )
        assert r.status_code == 200 and r.json()["updated_by"] == "api:admin-token"
    with psycopg.connect(mini_world) as conn:
        deadline = time.monotonic() + 5
        while not (row := conn.execute(
            "SELECT credential, method, path, status FROM heartbeat.write_log ORDER BY id DESC LIMIT 1"
        ).fetchone()):  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert row == ("admin-token", "PATCH", "/api/metrics/shop_orders_24h/verification", 200)


def _mcp(url: str, token: str) -> dict[str, Any]:
    out: dict[str, Any] = {}

    async def main() -> None:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            red = await client.call_tool("what_is_red", {})
            out["red"] = red.structured_content
            write = await client.call_tool("set_owner", {"metric_id": "shop_orders_24h", "owner": "a@b.co"})
            out["write_error"] = write.is_error
            out["write_text"] = str(write.content)

    anyio.run(main)
    return out


def test_mcp_takes_a_viewer_token_for_reads_only(gated: LiveServer, mini_world: str) -> None:
    viewer = _key(mini_world, "viewer", "agent-1")
    got = _mcp(gated.url + "/mcp", viewer)
    assert got["red"]["items"][0]["metric_id"] == "shop_unpaid_invoices"
    assert got["write_error"] and "read-only" in got["write_text"]
    display = _key(mini_world, "display", "tv-2")
    r = httpx.post(gated.url + "/mcp", headers={"Authorization": f"Bearer {display}"}, json={})
    assert r.status_code in (401, 403) and not DATA.search(r.text)  # 401 until the new key is seen


def test_keys_command_creates_lists_and_revokes(marts_url: str, tmp_path: Path) -> None:
    env = cli_env(marts_url, tmp_path)
    env["HEARTBEAT_PUBLIC_URL"] = "http://tv.example:8787"
    made = run("keys", "create", "display", "--name", "lobby-tv", env=env)
    assert made.returncode == 0, made.stderr
    url = made.stdout.splitlines()[0]
    assert re.fullmatch(r"http://tv\.example:8787/\?key=hbd_[\w-]{40,}", url), url
    viewer = run("keys", "create", "viewer", "--name", "alice", env=env)
    assert viewer.returncode == 0 and viewer.stdout.startswith("hbv_")
    again = run("keys", "create", "display", "--name", "lobby-tv", env=env)
    assert again.returncode == 1 and "--name 'lobby-tv': a live credential has that name" in again.stderr
    wrong = run("keys", "create", "admin", "--name", "x", env=env)
    assert wrong.returncode == 1 and "expected one of viewer, display" in wrong.stderr
    listed = json.loads(run("keys", "list", "--json", env=env).stdout)
    assert {(c["kind"], c["name"]) for c in listed} == {("display", "lobby-tv"), ("viewer", "alice")}
    listing = run("keys", "list", env=env).stdout
    assert url.split("=")[1] not in listing  # a key is shown once only
    gone = run("keys", "revoke", "lobby-tv", env=env)
    assert gone.returncode == 0 and "revoked display 'lobby-tv'" in gone.stdout
    # moments as people read them: `created 06:12 UTC (4 s ago)  revoked 06:12 UTC (1 s ago)`, never ISO
    moment = r"\d{2}:\d{2} [A-Z]+ \(\d+ (s|min) ago\)"
    assert re.search(rf"alice +created {moment}  live", listing), listing
    revoked = run("keys", "list", env=env).stdout
    assert re.search(rf"lobby-tv +created {moment}  revoked {moment}", revoked), revoked
    assert not re.search(r"\d{4}-\d{2}-\d{2}", listing + revoked)
    assert run("keys", "revoke", "lobby-tv", env=env).returncode == 1
    with psycopg.connect(marts_url) as conn:
        hashes = conn.execute("SELECT key_hash, cookie_hash FROM heartbeat.credential").fetchall()
    assert all(url.split("=")[1] not in h for row in hashes for h in row)  # stored hashed


def test_a_display_sees_audit_cuts_that_name_people_without_the_names(
    mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Detail rows on a display are a setting, off by default: a cut whose META says `names` shows its title and a
    notice to a display key, its names to a viewer; cuts without names show in full to both."""
    from heartbeat_core.audit import refresh_cuts
    from tests.test_audit import ORDERS, UNPAID, write_cuts

    named = UNPAID.replace('"order": 1,', '"order": 1,\n    "names": True,')
    monkeypatch.setenv(
        "HEARTBEAT_AUDIT_CUTS", str(write_cuts(tmp_path / "cuts", money_unpaid=named, money_orders=ORDERS))
    )
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    assert refresh_cuts().ok
    viewer, display = _key(mini_world, "viewer", "alice"), _key(mini_world, "display", "lobby-tv")
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as tv:
            assert tv.get("/audit/money", params={"key": display}).status_code == 303
            page, index = tv.get("/audit/money").text, tv.get("/audit").text
        person = httpx.get(
            srv.url + "/audit/money", headers={"Authorization": f"Bearer {viewer}"}, timeout=10
        ).text
    finally:
        srv.stop()
    assert "Unpaid invoices by customer" in page and "Names hidden on this display" in page
    assert "ACME Ltd" not in page and "ACME Ltd" not in index and "names hidden on this display" in index
    assert "ACME Ltd" in person and "Names hidden" not in person
    orders_title = re.search(r'"title": "([^"]+)"', ORDERS)
    assert orders_title is not None and orders_title.group(1) in page  # a cut without names is shown in full
