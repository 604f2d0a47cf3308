"""What compute asks of rollups: which ones a metric reads, refreshing those first, and why one could not be."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.read import reads
from heartbeat_core.rollups.refresh import RefreshResult, refresh_rollup, stored_rollups
from heartbeat_core.settings import get_settings


def reads_rollups(metric: RegistryMetric) -> set[str]:
    """Every rollup any section of the metric reads (its segments too): refreshed before it, bound in it."""
    sections = (metric.value_sql, metric.detail_sql, metric.history_sql, metric.segments_sql)
    return set().union(*(reads(sql) for sql in sections))


def refresh_rollups_read_by(
    conn: psycopg.Connection[Any], metrics: Sequence[RegistryMetric]
) -> dict[str, RefreshResult]:
    """Bring the rollups these metrics read up to date (only the days newly landed rows touch), each alone."""
    wanted = sorted(set().union(*(reads_rollups(m) for m in metrics))) if metrics else []
    if not wanted:
        return {}
    tz = get_settings().tz
    return {r.rollup_id: refresh_rollup(conn, r, tz) for r in stored_rollups(conn, wanted)}


def failed_rollup(metric: RegistryMetric, refreshed: dict[str, RefreshResult]) -> str | None:
    """The reason a rollup this metric reads could not be refreshed, if one could not."""
    for rollup_id in sorted(reads_rollups(metric)):
        result = refreshed.get(rollup_id)
        if result is not None and result.error:
            return result.error
    return None
