"""The configured warehouse of this process: `HEARTBEAT_WAREHOUSE_URL`, its one read-only engine, and the
freshness it judges (the engine's own `_dlt_loads`).

One engine per process, opened on first use and kept (DuckDB and chDB hold their files); ingest releases it
first (`warehouse.marts`), because a DuckDB file takes one writer and no reader of another configuration in the
same process.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse.config import WarehouseConfig, WarehouseError, parse_url
from heartbeat_core.warehouse.engines import Engine, EngineQueryError, open_engine
from heartbeat_core.warehouse.transpile import moment_literal

_LOCK = threading.Lock()
_OPEN: dict[str, Engine] = {}


def configured() -> WarehouseConfig | None:
    """The warehouse the settings name; None = marts in the read-model Postgres (today's behaviour)."""
    url = get_settings().warehouse_url
    return parse_url(url) if url else None


def engine() -> Engine:
    """The configured warehouse's engine, read-only; raises when no warehouse is configured."""
    config = configured()
    if config is None:
        raise RuntimeError("no warehouse configured (HEARTBEAT_WAREHOUSE_URL is unset)")
    with _LOCK:
        if config.url not in _OPEN:
            release_locked()
            _OPEN[config.url] = open_engine(config)
        return _OPEN[config.url]


def release() -> None:
    """Close the open engine (before landing into it, and in tests)."""
    with _LOCK:
        release_locked()


def release_locked() -> None:
    for url in list(_OPEN):
        _OPEN.pop(url).close()


def last_completed_load(source: str, at: datetime | None) -> datetime | None:
    """Freshness in warehouse mode: the newest completed load in the engine's own `<source>._dlt_loads` (what
    compute reads is what is judged); None when the engine has none (never landed there)."""
    try:
        found = engine()
    except WarehouseError:  # nothing landed there yet: never loaded, as a missing `_dlt_loads` is
        return None
    literal = moment_literal(found.config.engine, ZoneInfo("UTC"))
    query = f'SELECT max(inserted_at) FROM "{source}"."_dlt_loads" WHERE status = 0'
    if at is not None:
        query += f" AND inserted_at <= {literal(at)}"
    try:
        result = found.query(query, timeout_s=get_settings().metric_statement_timeout_s, timezone="UTC")
    except EngineQueryError:
        return None
    value = result.rows[0][0] if result.rows else None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None
