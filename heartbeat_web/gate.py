"""The credential gate: raw ASGI in front of everything the app serves, the cockpit fast path included.

Once a token is set (the server then listens beyond loopback) every request needs a credential, except
`/healthz`, `/static/*` and `/access` (the page that says how to get a key). A credential is the admin token,
a viewer token (`Authorization: Bearer …`) or a display key: `?key=…` on a page (a display key, or a viewer's
key for a person's browser) sets an HttpOnly SameSite cookie holding a one-way digest of the key and redirects
to the same URL without it. Without a credential:
401 JSON for the API and `/mcp`, 401 with the how-to page for pages, never data. A display key sees the
cockpit and the audit pages only; only the admin token writes, and every REST write is logged with its
credential. Loopback without a token stays open, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from heartbeat_core.access import Principal, PrincipalBook, cookie_value, record_write
from heartbeat_core.access.principal import LOCAL
from heartbeat_core.db import get_pool

log = logging.getLogger("heartbeat.web.gate")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hb_display"
COOKIE_MAX_AGE_S = 400 * 86400  # browsers cap cookies at 400 days
OPEN_PREFIXES = ("/static/",)
OPEN_PATHS = frozenset({"/healthz", "/access"})
DISPLAY_PATHS = frozenset({"/", "/partials/cockpit", "/audit"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/mcp", "/partials/")


def principal_of(scope: Scope) -> Principal:
    """The credential the gate let this request in with (`local` when no token is set)."""
    state = scope.get("state") or {}
    who = state.get("principal")
    return who if isinstance(who, Principal) else LOCAL


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


def _presented(scope: Scope) -> tuple[str | None, str | None]:
    """(the secret from the header or cookie, a key from `?key=`)."""
    headers = _headers(scope)
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    key = query.get("key") or None
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), key
    raw_cookie = headers.get(b"cookie")
    if raw_cookie:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw_cookie.decode("latin-1"))
        except Exception:  # a malformed cookie header is just no cookie
            return None, key
        if COOKIE in jar:
            return jar[COOKIE].value, key
    return None, key


def display_may_see(path: str, method: str) -> bool:
    return method in ("GET", "HEAD") and (path in DISPLAY_PATHS or path.startswith("/audit/"))


def _wants_json(path: str, scope: Scope) -> bool:
    if path.startswith(API_PREFIXES):
        return True
    accept = _headers(scope).get(b"accept", b"").decode("latin-1")
    return "application/json" in accept and "text/html" not in accept


class CredentialGate:
    def __init__(self, app: ASGIApp, book: PrincipalBook, page: Callable[[str], bytes]) -> None:
        self.app = app
        self.book = book
        self.page = page  # the how-to-get-a-key page, with a reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        scope.setdefault("state", {})
        if not self.book.enforced():
            scope["state"]["principal"] = LOCAL
            if (
                scope.get("method", "GET") in READ_METHODS
                or path.startswith("/mcp")
                or scope["type"] != "http"
            ):
                await self.app(scope, receive, send)
            else:
                await self._logged_write(scope, receive, send, LOCAL)
            return
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        secret, key = _presented(scope)
        method = scope.get("method", "GET")
        if key is not None and method in ("GET", "HEAD"):
            await self._key_in_url(scope, send, key)
            return
        who = await self.book.resolve(secret)
        if who is None:
            why = "The key was revoked or is not valid." if secret else "No key was presented."
            await self._deny(scope, send, 401, why)
            return
        refusal = self._refusal(who, path, method)
        if refusal:
            await self._deny(scope, send, 403, refusal)
            return
        scope["state"]["principal"] = who
        if method in READ_METHODS or path.startswith("/mcp"):
            await self.app(scope, receive, send)
            return
        await self._logged_write(scope, receive, send, who)

    @staticmethod
    def _refusal(who: Principal, path: str, method: str) -> str | None:
        if who.role == "display" and not display_may_see(path, method):
            return "A display key opens the cockpit and the audit pages only."
        if not who.can_write and method not in READ_METHODS and not path.startswith("/mcp"):
            return f"{who.label} is read-only; writes need the admin token."
        return None

    async def _key_in_url(self, scope: Scope, send: Send, key: str) -> None:
        """`?key=` on a page: a display key (or a viewer's key, for a person's browser) becomes a cookie and the
        URL loses the key; the admin token never goes in a URL."""
        who = await self.book.resolve(key)
        if who is None or who.role not in ("display", "viewer"):
            why = (
                "That key was revoked or is not valid."
                if who is None
                else "The admin token never goes in a URL."
            )
            await self._deny(scope, send, 401, why)
            return
        query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k != "key"]
        location = scope.get("path", "/") + (("?" + urlencode(query)) if query else "")
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={cookie_value(key)}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax{secure}"
        headers = [
            (b"location", location.encode()),
            (b"set-cookie", cookie.encode()),
            (b"cache-control", b"no-store"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _deny(self, scope: Scope, send: Send, status: int, reason: str) -> None:
        path = scope.get("path", "")
        headers = [(b"cache-control", b"no-store")]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="heartbeat"'))
        if _wants_json(path, scope):
            body = json.dumps({"detail": reason + " See /access for how to get a key."}).encode()
            headers.append((b"content-type", b"application/json"))
        else:
            body = self.page(reason)
            headers.append((b"content-type", b"text/html; charset=utf-8"))
            headers.append((b"x-heartbeat-denied", reason.encode()[:200]))
        headers.append((b"content-length", str(len(body)).encode()))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401 if status == 401 else 4403})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _logged_write(self, scope: Scope, receive: Receive, send: Send, who: Principal) -> None:
        """Run a write and log which credential made it, with the status it got."""
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            await asyncio.to_thread(_log_write, who, scope.get("method", ""), scope.get("path", ""), status)


def _log_write(who: Principal, method: str, path: str, status: int) -> None:
    try:
        with get_pool().connection(timeout=2.0) as conn:
            record_write(conn, who, method, path, status)
    except Exception as exc:  # the write itself already happened or failed; never hide its answer
        log.warning("write by %s on %s %s not logged: %s", who.label, method, path, exc)
