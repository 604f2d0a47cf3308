"""The demo's helpdesk REST API: paginated JSON tickets on loopback, read from `helpdesk.ticket`.

`GET /api/tickets?updated_since=ISO&page=N&per_page=M` answers
`{"items": [...], "page": N, "next_page": N+1 | null, "total": T}`, tickets ordered by (updated_at, id),
with an `Authorization: Bearer <token>` check when a token is configured. A real threaded HTTP server, so
the `rest` ingest kind is exercised over a socket. `fault` lets tests make it misbehave.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
Fault = Literal["error", "bad_json", "slow"] | None

_COLUMNS = "id, client_profile_id, topic, priority, status, subject, created_at, updated_at, resolved_at"


class HelpdeskServer:
    """A running helpdesk API; `url` is its base (http://host:port), `close()` stops it."""

    def __init__(self, source_url: str, host: str, port: int, token: str | None) -> None:
        self.token = token
        self.fault: Fault = None
        self.slow_seconds = 30.0
        self.requests = 0
        self._pool = ConnectionPool(source_url, min_size=1, max_size=4, open=True, name="helpdesk-api")
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="helpdesk-api", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._pool.close()

    def __enter__(self) -> HelpdeskServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tickets(self, updated_since: datetime | None, page: int, per_page: int) -> dict[str, Any]:
        where, params = ("WHERE updated_at >= %s", [updated_since]) if updated_since else ("", [])
        with self._pool.connection() as conn:
            total_row = conn.execute(f"SELECT count(*) FROM helpdesk.ticket {where}", params).fetchone()
            total = int(total_row[0]) if total_row else 0
            cur = conn.cursor(row_factory=dict_row)
            rows = cur.execute(
                f"SELECT {_COLUMNS} FROM helpdesk.ticket {where} ORDER BY updated_at, id LIMIT %s OFFSET %s",
                [*params, per_page, (page - 1) * per_page],
            ).fetchall()
        items = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows
        ]
        return {
            "items": items,
            "page": page,
            "next_page": page + 1 if page * per_page < total else None,
            "total": total,
        }


def _refusal(server: HelpdeskServer, path: str, authorization: str) -> tuple[int, str] | None:
    """Why a request is refused before its query is read (unknown path, bad token, injected error)."""
    if path.rstrip("/") != "/api/tickets":
        return 404, "not found: try /api/tickets"
    if server.token is not None and not hmac.compare_digest(authorization, f"Bearer {server.token}"):
        return 401, "missing or wrong bearer token"
    if server.fault == "error":
        return 500, "internal error (injected)"
    return None


def _parse_query(query: str) -> tuple[datetime | None, int, int] | str:
    """(updated_since, page, per_page) from the query string, or what is wrong with it."""
    values = parse_qs(query)
    try:
        page = int(values.get("page", ["1"])[0])
        per_page = int(values.get("per_page", [str(DEFAULT_PER_PAGE)])[0])
        raw_since = values.get("updated_since", [""])[0]
        since = datetime.fromisoformat(raw_since) if raw_since else None
    except ValueError as exc:
        return f"bad query parameter: {exc}"
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        return f"page must be >= 1 and per_page between 1 and {MAX_PER_PAGE}"
    if since is not None and since.tzinfo is None:
        return "updated_since needs a timezone (e.g. 2026-11-01T00:00:00Z)"
    return since, page, per_page


def _make_handler(server: HelpdeskServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet by default
            return

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"error": message}).encode())

        def do_GET(self) -> None:
            server.requests += 1
            parts = urlsplit(self.path)
            refused = _refusal(server, parts.path, self.headers.get("Authorization", ""))
            if refused is not None:
                self._error(*refused)
                return
            if server.fault == "slow":
                time.sleep(server.slow_seconds)
            if server.fault == "bad_json":
                self._send(200, b'{"items": [{"id": 1,')
                return
            query = _parse_query(parts.query)
            if isinstance(query, str):
                self._error(400, query)
                return
            try:
                payload = server.tickets(*query)
            except Exception as exc:
                self._error(503, f"helpdesk database unavailable: {type(exc).__name__}")
                return
            self._send(200, json.dumps(payload).encode())

    return Handler


def start_helpdesk_api(
    source_url: str, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None
) -> HelpdeskServer:
    """Serve helpdesk.ticket of the demo source database over HTTP; port 0 picks a free port."""
    return HelpdeskServer(source_url, host, port, token)
