"""A raw ASGI fast path for the three hot reads (`/`, `/partials/cockpit`, `/api/cockpit`).

They only copy bytes that `LiveCockpit` rendered once per change, so routing them through FastAPI's request
and response objects is most of their cost. This middleware answers them first (same headers, ETag/304,
gzip when accepted); anything else, and these paths before the first snapshot exists, fall through to the
FastAPI routes, which stay the documented implementation (and the OpenAPI entry for `/api/cockpit`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from heartbeat_web.gate import principal_of
from heartbeat_web.live import BodyKind, LiveCockpit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HTML = b"text/html; charset=utf-8"
JSON = b"application/json"
# path -> (which rendered bytes, content type, extra headers)
ROUTES: dict[str, tuple[BodyKind, bytes, tuple[tuple[bytes, bytes], ...]]] = {}


def configure(csp: str) -> None:
    html_extra = ((b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff"))
    ROUTES.update(
        {
            "/": ("page", HTML, html_extra),
            "/partials/cockpit": ("partial", HTML, ()),
            "/api/cockpit": ("json", JSON, ()),
        }
    )


class CockpitFastPath:
    def __init__(self, app: ASGIApp, live: LiveCockpit, build: str) -> None:
        self.app = app
        self.live = live
        self.build = build.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        current = self.live.current
        if route is None or current is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        kind, ctype, extra = route
        if kind in ("page", "partial") and principal_of(scope).role == "display":
            kind = "display_page" if kind == "page" else "display_partial"
        accept = None
        match = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                match = value.decode("latin-1")
        headers = [
            (b"etag", current.etag.encode()),
            (b"x-heartbeat-build", self.build),
            (b"cache-control", b"no-store"),
            (b"vary", b"Accept-Encoding"),
            *extra,
        ]
        if match == current.etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body, gz = current.body(kind, accept)
        headers.append((b"content-type", ctype))
        headers.append((b"content-length", str(len(body)).encode()))
        if gz:
            headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
