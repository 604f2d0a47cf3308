"""Source connection URLs: from the environment, a documented demo fallback, and forms each driver accepts.

Credentials never reach a message in clear: the connectors name their URL's secrets
(`heartbeat_core.redaction.url_secrets`) and every error passes through `heartbeat_core.redaction.redact`.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from heartbeat_core.db.connection import server_url, with_database


class SourceConnectionError(RuntimeError):
    """A source's connection cannot be resolved; the message names the source and the variable."""


def source_url(source_name: str, connection_env: str, fallback_database: str | None) -> str:
    """The URL of a postgres source: `$connection_env`, else `fallback_database` on the marts server.

    The fallback is for the demo world, which builds its source database beside marts (same server).
    """
    value = os.environ.get(connection_env, "").strip()
    if value:
        return value
    if fallback_database:
        return with_database(server_url(), fallback_database)
    raise SourceConnectionError(
        f"source {source_name!r}: environment variable {connection_env} is not set (it holds the source's URL)"
    )


def libpq_url(url: str) -> str:
    """A URL with a non-empty host: a unix-socket URL (`postgresql://u:@/db?host=/dir`) gets `localhost`
    as its nominal host and an explicit port; libpq still connects through `?host=` (the socket dir).
    connectorx rejects an empty host and dlt's credentials require one."""
    parts = urlsplit(url)
    scheme = (
        "postgresql" if parts.scheme in ("postgres", "postgresql", "postgresql+psycopg2") else parts.scheme
    )
    if parts.hostname:
        return urlunsplit(parts._replace(scheme=scheme))
    query = dict(parse_qsl(parts.query))
    port = parts.port or int(query.get("port", 5432))
    user = parts.username or "postgres"
    auth = user if parts.password is None else f"{user}:{parts.password}"
    return urlunsplit(parts._replace(scheme=scheme, netloc=f"{auth}@localhost:{port}"))
