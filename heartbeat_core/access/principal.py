"""Who a presented secret is: the admin token (HEARTBEAT_API_TOKEN), a viewer token or a display key.

The live credentials are read from the database at most every `ttl_s` seconds (one small query), so a
request costs a dictionary lookup and a revocation reaches every server within `ttl_s`. When the database
cannot be read the last known set stays in force (a wall screen keeps working while the database is down);
the admin token never needs the database.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from heartbeat_core import clock
from heartbeat_core.access.keys import hash_secret
from heartbeat_core.db import get_pool
from heartbeat_core.settings import get_settings

log = logging.getLogger("heartbeat.access")

Role = Literal["admin", "viewer", "display", "local"]
TTL_S = 2.0


@dataclass(frozen=True)
class Principal:
    """The credential behind a request. `local` is loopback without a token: today's open dev server."""

    role: Role
    name: str
    credential_id: int | None = None

    @property
    def label(self) -> str:
        """How writes name their author: `admin-token`, `viewer:alice`, `display:lobby-tv`, `local`."""
        if self.role in ("admin", "local"):
            return "admin-token" if self.role == "admin" else "local"
        return f"{self.role}:{self.name}"

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "local")


ADMIN = Principal("admin", "admin-token")
LOCAL = Principal("local", "local")
Rows = list[tuple[int, str, str, str, str]]


def _load_live() -> Rows:
    with get_pool().connection(timeout=2.0) as conn:
        rows = conn.execute(
            "SELECT credential_id, kind, name, key_hash, cookie_hash FROM heartbeat.credential"
            " WHERE revoked_at IS NULL"
        ).fetchall()
    return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


class PrincipalBook:
    """Resolves secrets to principals from a cache of the live credentials, refreshed every `ttl_s`."""

    def __init__(self, ttl_s: float = TTL_S, load: Callable[[], Rows] = _load_live) -> None:
        self.ttl_s = ttl_s
        self._load = load
        self._by_hash: dict[str, Principal] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[None] | None = None

    @staticmethod
    def enforced() -> bool:
        """Credentials are required once a token is set (the server then listens beyond loopback)."""
        return bool(get_settings().api_token)

    def _index(self, rows: Rows) -> None:
        index: dict[str, Principal] = {}
        for credential_id, kind, name, key_hash, cookie_hash in rows:
            who = Principal(kind, name, credential_id)  # type: ignore[arg-type]
            index[key_hash] = who
            index[cookie_hash] = who  # the browser cookie of a display key or a viewer's key
        self._by_hash = index

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._loaded_at < self.ttl_s:
                return
            try:
                rows = await asyncio.to_thread(self._load)
            except Exception as exc:  # database down, pool closed, table missing: keep the last known set
                log.warning("credentials not refreshed, keeping the last known set: %s", exc)
                self._loaded_at = time.monotonic()  # retry after ttl, not on every request
                return
            self._index(rows)
            self._loaded_at = time.monotonic()

    async def resolve(self, secret: str | None) -> Principal | None:
        """The principal a secret (token, key or display cookie) stands for, or None.

        Only the very first lookup waits for the database; later ones answer from the current set while one
        refresh runs in the background, so no request queues behind the refresh query."""
        if not secret:
            return None
        token = get_settings().api_token
        if token and hmac.compare_digest(secret.strip().encode(), token.encode()):
            return ADMIN
        if time.monotonic() - self._loaded_at >= self.ttl_s:
            if self._loaded_at == float("-inf"):
                await self._refresh()
            elif self._pending is None or self._pending.done():
                self._pending = asyncio.ensure_future(self._refresh())
        return self._by_hash.get(hash_secret(secret))


def record_write(conn: psycopg.Connection[Any], who: Principal, method: str, path: str, status: int) -> None:
    """One line in the write log: which credential wrote what, and how it went."""
    conn.execute(
        "INSERT INTO heartbeat.write_log (at, credential, method, path, status) VALUES (%s, %s, %s, %s, %s)",
        (clock.now(), who.label, method, path[:300], status),
    )
