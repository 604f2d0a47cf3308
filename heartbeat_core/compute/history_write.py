"""One metric-day into `heartbeat.metric_history`: status, reason and z judged under the thresholds in force,
UPSERTed so a failed run keeps the value it failed to replace and carries the error beside it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.metrics.registry import RegistryMetric, as_direction
from heartbeat_core.readmodel.status import judge


def _status_fields(metric: RegistryMetric, value: float | None, error: str | None) -> dict[str, Any]:
    """Status, reason and z under the contract, with the band in force recorded beside them."""
    band = metric.band
    result = judge(
        value,
        as_direction(metric.direction),
        metric.unit,
        norm=metric.norm_value,
        alert=metric.alert_value,
        band=band,
        options=metric.typical_options,
        error=error,
    )
    return {
        "status": result.status,
        "reason": result.reason,
        "z": result.z,
        "typical_mean": band.mean if band else None,
        "typical_stddev": band.stddev if band else None,
    }


_UPSERT = """
INSERT INTO heartbeat.metric_history AS h (
    metric_id, as_of_date, as_of, value, computed_at, source_as_of, status, reason, z,
    norm_value, alert_value, target_value, typical_mean, typical_stddev, error, duration_ms, job_id, detail)
VALUES (%(metric_id)s, %(as_of_date)s, %(as_of)s, %(value)s, %(computed_at)s, %(source_as_of)s, %(status)s,
    %(reason)s, %(z)s, %(norm)s, %(alert)s, %(target)s, %(typical_mean)s, %(typical_stddev)s, %(error)s,
    %(duration_ms)s, %(job_id)s, %(detail)s)
ON CONFLICT (metric_id, as_of_date) DO UPDATE SET
    -- a failed run keeps the value it failed to replace and carries the error beside it
    as_of = CASE WHEN excluded.error IS NULL THEN excluded.as_of ELSE h.as_of END,
    value = CASE WHEN excluded.error IS NULL THEN excluded.value ELSE h.value END,
    computed_at = CASE WHEN excluded.error IS NULL THEN excluded.computed_at ELSE h.computed_at END,
    source_as_of = CASE WHEN excluded.error IS NULL THEN excluded.source_as_of ELSE h.source_as_of END,
    status = CASE WHEN excluded.error IS NULL OR h.value IS NULL THEN excluded.status ELSE h.status END,
    reason = CASE WHEN excluded.error IS NULL OR h.value IS NULL THEN excluded.reason ELSE h.reason END,
    z = CASE WHEN excluded.error IS NULL THEN excluded.z ELSE h.z END,
    norm_value = excluded.norm_value, alert_value = excluded.alert_value, target_value = excluded.target_value,
    typical_mean = excluded.typical_mean, typical_stddev = excluded.typical_stddev,
    error = excluded.error, duration_ms = excluded.duration_ms, job_id = excluded.job_id,
    detail = CASE WHEN excluded.error IS NULL THEN excluded.detail ELSE h.detail END
"""


def write_history(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    day: date,
    as_of: datetime,
    value: float | None,
    *,
    error: str | None,
    detail: dict[str, Any] | None,
    source_as_of: datetime | None,
    duration_ms: int,
    job_id: int | None,
) -> dict[str, Any]:
    fields = _status_fields(metric, value, error)
    with conn.transaction():
        conn.execute(
            _UPSERT,
            {
                "metric_id": metric.metric_id,
                "as_of_date": day,
                "as_of": as_of,
                "value": value,
                "computed_at": clock.now(),
                "source_as_of": source_as_of,
                "norm": metric.norm_value,
                "alert": metric.alert_value,
                "target": metric.target_value,
                "error": error,
                "duration_ms": duration_ms,
                "job_id": job_id,
                "detail": json.dumps(detail) if detail is not None else None,
                **fields,
            },
        )
    return fields
