"""The MCP server over real transports: streamable HTTP on a loopback uvicorn (with and without the bearer
token, standalone and mounted at /mcp in a host app) and stdio through `heartbeat mcp` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import psycopg
import pytest
from fastapi import FastAPI
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from heartbeat_core.settings import reset_settings
from heartbeat_mcp import build_http_app, mcp_lifespan
from tests.test_mcp import text_of
from tests.web_server import LiveServer

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-for-tests"


@contextlib.contextmanager
def live(factory: Any) -> Iterator[LiveServer]:
    server = LiveServer(factory).start()
    try:
        yield server
    finally:
        server.stop()


def _red_ids(result: Any) -> list[str]:
    assert not result.is_error, result.content
    return [i["metric_id"] for i in result.structured_content["items"]]


def test_http_without_token_serves_tools_and_records_the_http_actor(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEARTBEAT_API_TOKEN", raising=False)
    reset_settings()
    with live(lambda: build_http_app(token="")) as server:

        async def main() -> None:
            async with Client(f"{server.url}/mcp") as client:
                tools = await client.list_tools()
                assert len(tools.tools) >= 11
                assert _red_ids(await client.call_tool("what_is_red", {}))[0] == "shop_unpaid_invoices"
                result = await client.call_tool(
                    "set_owner", {"metric_id": "shop_orders_24h", "owner": "web@example.com"}
                )
                assert not result.is_error, result.content
                assert result.structured_content["updated_by"] == "mcp-http"

        anyio.run(main)

        # DNS-rebinding protection without a token: a foreign Host header is refused.
        response = httpx.post(
            f"{server.url}/mcp",
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert response.status_code in (400, 403, 421)


def test_http_with_token_refuses_anonymous_and_accepts_the_bearer(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    with live(build_http_app) as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = httpx.post(
                f"{server.url}/mcp",
                headers={**headers, "Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            )
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer ")
            assert 'error="invalid_token"' in response.headers["www-authenticate"]

        async def main() -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
                Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client,
            ):
                assert _red_ids(await client.call_tool("what_is_red", {}))[0] == "shop_unpaid_invoices"
                result = await client.call_tool(
                    "set_verification", {"metric_id": "shop_orders_24h", "state": "verified"}
                )
                assert not result.is_error, result.content
                assert result.structured_content["updated_by"] == "mcp-http:api-token"

        anyio.run(main)
    with psycopg.connect(mini_world) as conn:
        row = conn.execute(
            "SELECT verification_updated_by FROM heartbeat.metric_registry WHERE metric_id = 'shop_orders_24h'"
        ).fetchone()
        assert row == ("mcp-http:api-token",)


def test_http_app_mounted_at_mcp_in_a_host_app(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The way `heartbeat serve` hosts it: app.mount("/mcp", ...) and the session manager in the host lifespan."""
    monkeypatch.delenv("HEARTBEAT_API_TOKEN", raising=False)
    reset_settings()

    def host() -> FastAPI:
        mcp_app = build_http_app(token="")

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with mcp_lifespan(mcp_app):
                yield

        app = FastAPI(lifespan=lifespan)

        @app.get("/health")
        def health() -> dict[str, str]:
            return {"ok": "yes"}

        app.mount("/mcp", mcp_app)
        return app

    with live(host) as server:
        assert httpx.get(f"{server.url}/health").json() == {"ok": "yes"}

        async def main() -> None:
            for url in (f"{server.url}/mcp", f"{server.url}/mcp/"):
                async with Client(url) as client:
                    assert _red_ids(await client.call_tool("what_is_red", {}))[0] == "shop_unpaid_invoices"

        anyio.run(main)


def test_stdio_subprocess_serves_the_tools(mini_world: str, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "HEARTBEAT_DATABASE_URL": mini_world,
        "HEARTBEAT_HOME": str(tmp_path / "home"),
    }
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "heartbeat"), args=["mcp"], env=env
    )

    async def main() -> None:
        async with Client(params) as client:
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} >= {"what_is_red", "today", "explain_metric"}
            assert _red_ids(await client.call_tool("what_is_red", {}))[0] == "shop_unpaid_invoices"
            explained = await client.call_tool("explain_metric", {"metric_id": "shop_unpaid_invoices"})
            assert not explained.is_error and "ACME Ltd" in text_of(explained.content[0])
            written = await client.call_tool(
                "set_owner", {"metric_id": "shop_orders_24h", "owner": "stdio@example.com"}
            )
            assert written.structured_content["updated_by"] == "mcp-stdio"

    anyio.run(main)
