"""Micro-benchmark: what the credential gate (heartbeat_web/gate.py) adds to one request, in-process.

    .venv/bin/python bench/bench_gate.py

A no-op ASGI app behind the gate, 50,000 requests per credential kind, minus the same app called directly.
The live credentials come from a fixed list (no database): this measures the per-request work only (header
parse, constant-time token compare, SHA-256 of the presented secret, one dictionary lookup).
"""

import asyncio
import os
import time
from typing import Any

os.environ["HEARTBEAT_API_TOKEN"] = "t" * 32
from heartbeat_core.access.keys import cookie_value, hash_secret
from heartbeat_core.access.principal import PrincipalBook
from heartbeat_web.gate import CredentialGate

key = "hbv_" + "x" * 43
dkey = "hbd_" + "y" * 43
rows = [
    (1, "viewer", "v", hash_secret(key), hash_secret(cookie_value(key))),
    (2, "display", "d", hash_secret(dkey), hash_secret(cookie_value(dkey))),
]
book = PrincipalBook(load=lambda: rows)


async def app(scope: Any, receive: Any, send: Any) -> None:
    return None


async def main() -> None:
    gate = CredentialGate(app, book, lambda r: b"")

    async def send(m: Any) -> None:
        return None

    async def recv() -> dict[str, Any]:
        return {}

    for label, headers in (
        ("viewer bearer", [(b"authorization", f"Bearer {key}".encode())]),
        ("display cookie", [(b"cookie", f"hb_display={cookie_value(dkey)}".encode())]),
        ("admin bearer", [(b"authorization", b"Bearer " + b"t" * 32)]),
    ):
        n = 50000
        base = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [*headers, (b"accept-encoding", b"gzip"), (b"host", b"x")],
        }
        await gate(dict(base), recv, send)
        t = time.perf_counter()
        for _ in range(n):
            await gate(dict(base), recv, send)
        dt = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for _ in range(n):
            await app(dict(base), recv, send)
        d0 = (time.perf_counter() - t) / n * 1e6
        print(f"{label}: gate {dt - d0:.1f} µs per request")


asyncio.run(main())
