"""Connections to the marts database: one URL resolver, a psycopg 3 pool, one clear error."""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from heartbeat_core.db import embedded
from heartbeat_core.redaction import redact
from heartbeat_core.settings import get_settings

CONNECT_TIMEOUT_S = 5


class DatabaseUnavailable(RuntimeError):
    """The marts database cannot be reached; the message is one line, with no secrets."""


def with_database(url: str, dbname: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


_server_lock = threading.Lock()
_embedded_url: str | None = None


def server_url() -> str:
    """URL of the server's maintenance database (`postgres`), starting the embedded server if needed."""
    global _embedded_url
    settings = get_settings()
    if settings.database_url:
        return with_database(settings.database_url, "postgres")
    with _server_lock:
        if _embedded_url is None:
            try:
                _embedded_url = embedded.ensure_running(settings.home)
            except Exception as exc:  # the server's own errors are long; keep the first line
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DatabaseUnavailable(
                    f"embedded Postgres in {settings.home} failed to start: {first}"
                ) from exc
        return _embedded_url


def database_url() -> str:
    """URL of the marts database; the embedded one is created on first use."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    url = with_database(server_url(), embedded.MARTS_DB)
    _ensure_database(url)
    return url


_ensured: set[str] = set()


def _ensure_database(url: str) -> None:
    if url in _ensured:
        return
    dbname = urlsplit(url).path.lstrip("/")
    with connect(with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname)))
    _ensured.add(url)


def connect(url: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open one connection, turning every failure to reach the server into `DatabaseUnavailable`."""
    target = url or database_url()
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        return psycopg.connect(target, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        raise DatabaseUnavailable(redact(f"cannot reach the database at {target}: {first}")) from None


_pool_lock = threading.Lock()
_pool: ConnectionPool | None = None


def get_pool() -> ConnectionPool:
    """The process-wide pool for the marts database."""
    global _pool
    with _pool_lock:
        if _pool is None:
            url = database_url()
            size = max(4, get_settings().compute_parallelism + 2)
            _pool = ConnectionPool(
                url,
                min_size=1,
                max_size=size,
                kwargs={"connect_timeout": CONNECT_TIMEOUT_S},
                timeout=CONNECT_TIMEOUT_S,
                open=False,
                name="heartbeat",
            )
            try:
                _pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            except Exception as exc:
                _pool.close()
                _pool = None
                raise DatabaseUnavailable(redact(f"cannot reach the database at {url}: {exc}")) from None
        return _pool


def reset_pool() -> None:
    """Close the pool and forget resolved URLs (tests switch databases between modules)."""
    global _pool, _embedded_url
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = None
    _embedded_url = None
    _ensured.clear()
