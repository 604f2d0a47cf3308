"""The MCP server as a streamable-HTTP ASGI app, with bearer-token auth when HEARTBEAT_API_TOKEN is set.

    app = build_http_app()            # a Starlette app; every path inside it is the MCP endpoint
    fastapi_app.mount("/mcp", app)    # or standalone: uvicorn.run(app)  (answers at /mcp and anywhere else)

The app's lifespan runs the SDK's session manager, which must be running before a request arrives. Starlette
does not run a mounted app's lifespan, so a host app enters it from its own lifespan:

    async with app.router.lifespan_context(app):   # or: async with mcp_lifespan(app):
        yield

A session manager runs once: build a new app for each server start. Without a token the endpoint is open
and protected against DNS rebinding (loopback hosts and HEARTBEAT_PUBLIC_URL's host only); with a token,
every request needs `Authorization: Bearer <token>`, else 401 with `WWW-Authenticate: Bearer ...`.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Mount

from heartbeat_core.access import PrincipalBook
from heartbeat_core.readmodel.cache import SnapshotCache
from heartbeat_core.settings import get_settings
from heartbeat_mcp.heartbeat import Heartbeat
from heartbeat_mcp.server import build_server

TOKEN_SUBJECT = "api-token"


READ_SCOPES = ["read"]
WRITE_SCOPES = ["read", "write"]


class StaticTokenVerifier:
    """The admin token (constant-time compare, scopes read and write) or a live viewer token (scope read
    only; `Heartbeat.actor_for` refuses writes without `write`); the subject names the caller in the audit
    trail. Display keys are not accepted here: they open the cockpit and audit pages only."""

    def __init__(self, token: str, subject: str = TOKEN_SUBJECT, book: PrincipalBook | None = None) -> None:
        self._token = token.encode()
        self._subject = subject
        self._book = book or PrincipalBook()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.strip().encode(), self._token):
            return AccessToken(token=token, client_id="heartbeat", scopes=WRITE_SCOPES, subject=self._subject)
        who = await self._book.resolve(token)
        if who is not None and who.role == "viewer":
            return AccessToken(token=token, client_id="heartbeat", scopes=READ_SCOPES, subject=who.label)
        return None


def _security(token: str | None) -> TransportSecuritySettings:
    if token:
        # A bearer token already defeats DNS rebinding; the server may sit behind any host name.
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    public = urlsplit(get_settings().public_url)
    if public.hostname and public.netloc not in hosts:
        hosts += [public.netloc, f"{public.hostname}:*"]
        origins += [f"{public.scheme}://{public.netloc}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def build_http_app(
    token: str | None = None,
    *,
    server: MCPServer | None = None,
    cache: SnapshotCache | None = None,
    json_response: bool = False,
) -> Starlette:
    """A fresh streamable-HTTP app over a new Heartbeat MCP server.

    `token` defaults to HEARTBEAT_API_TOKEN. Pass the host's `cache` to share one snapshot build per change
    with the cockpit (default: the server's own). The returned app exposes `.state.mcp_server` and
    `.state.session_manager`; its lifespan (`app.router.lifespan_context`) runs the session manager.
    """
    token = token if token is not None else get_settings().api_token
    server = server or build_server(Heartbeat(cache=cache, actor="mcp-http"), actor="mcp-http")
    # Creates the session manager (and a Starlette app we do not need: we route every path to it).
    server.streamable_http_app(json_response=json_response, transport_security=_security(token))
    manager = server.session_manager
    endpoint: Any = StreamableHTTPASGIApp(manager)
    if token:
        endpoint = AuthenticationMiddleware(
            AuthContextMiddleware(RequireAuthMiddleware(endpoint, required_scopes=[])),
            backend=BearerAuthBackend(StaticTokenVerifier(token)),
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    app = Starlette(routes=[Mount("/", app=endpoint)], lifespan=lifespan)
    app.state.mcp_server = server
    app.state.session_manager = manager
    return app


def mcp_lifespan(app: Starlette) -> AbstractAsyncContextManager[Any]:
    """The session-manager lifespan of an app from `build_http_app`, for a host app's lifespan."""
    return app.router.lifespan_context(app)
