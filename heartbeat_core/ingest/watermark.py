"""The data watermark of a source: the newest cursor value landed across its watermark tables.

Freshness rests on the older of the last completed load and this watermark, so a source whose rows
stop moving shows stale even while its loads keep completing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from heartbeat_core import clock
from heartbeat_core.ingest.config import FilesTable, ResolvedTable
from heartbeat_core.ingest.store import Marts


def as_datetime(value: Any) -> datetime | None:
    """A cursor value as an aware datetime (dates at midnight UTC); None when it is no time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def watermark_column(table: ResolvedTable) -> str | None:
    """The column whose newest value is the table's watermark: a files table may name a data column."""
    if isinstance(table.spec, FilesTable) and table.spec.watermark_column:
        return table.spec.watermark_column
    return table.cursor


def compute_watermark(marts: Marts, schema: str, tables: Sequence[ResolvedTable]) -> datetime | None:
    """The newest cursor value landed across the watermark tables (capped at now: no future rows), read
    where the marts live (Postgres, or the warehouse engine)."""
    newest: datetime | None = None
    for table in tables:
        column = watermark_column(table)
        if not table.watermark or not column:
            continue
        value = as_datetime(marts.max_value(schema, table.name, column))
        if value is not None and (newest is None or value > newest):
            newest = value
    if newest is not None:
        newest = min(newest, clock.now())
    return newest
