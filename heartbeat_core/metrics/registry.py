"""Reading the metric registry: the compiled view of every active metric that compute and readers share,
and the one rule for whether a metric's typical band is in force (`band_in_force`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core.metrics.definition import DIRECTIONS, Direction, TypicalOptions
from heartbeat_core.metrics.entity import EntityKey


@dataclass(frozen=True)
class Band:
    """A typical band: μ ± σ over `points` days of history."""

    mean: float
    stddev: float
    points: int


def band_in_force(
    method: str,
    mean: float | None,
    stddev: float | None,
    points: int | None,
    options: TypicalOptions,
) -> Band | None:
    """The typical band the status contract judges a value against, or None when there is none.

    In force when the metric asks for one (`typical: rolling_stat`), its spread is positive (σ = 0 gives no
    z-score) and it rests on at least `typical_min_points` days. The one home of this rule: the snapshot's
    colour and the band it shows, compute's recorded z and band, and typical's re-scoring all ask here, so
    the band a screen shows is always the band that coloured it.
    """
    if method != "rolling_stat" or mean is None or stddev is None or not stddev > 0:
        return None
    if points is None or points < options.min_points:
        return None
    return Band(float(mean), float(stddev), int(points))


def as_direction(text: str) -> Direction:
    """A direction read as text (the registry's CHECK constraint allows no other value) as the Literal."""
    for known in DIRECTIONS:
        if text == known:
            return known
    raise ValueError(f"unknown direction {text!r} (expected {' or '.join(DIRECTIONS)})")


@dataclass(frozen=True)
class RegistryMetric:
    # period and direction hold the values of the Period and Direction Literals (typical_method: none or
    # rolling_stat); they stay `str` while `metrics.validate` builds one from a MetricDefinition of text fields.
    metric_id: str
    name: str
    period: str
    unit: str
    direction: str
    sources: tuple[str, ...]
    value_sql: str
    detail_sql: str | None
    history_sql: str | None
    norm_value: float | None
    alert_value: float | None
    target_value: float | None
    typical_method: str
    typical_options: TypicalOptions
    benchmark_mean: float | None
    benchmark_stddev: float | None
    benchmark_points: int | None
    file_path: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    entity: EntityKey | None = None
    segments_sql: str | None = None
    # warehouse mode: engine-specific sections, `{"value[clickhouse]": sql}` (metric_defs `-- @value[clickhouse]`)
    engine_sql: dict[str, str] = field(default_factory=dict)

    @property
    def band(self) -> Band | None:
        """Today's band from the registry's benchmark columns, when it is in force (`band_in_force`)."""
        return band_in_force(
            self.typical_method,
            self.benchmark_mean,
            self.benchmark_stddev,
            self.benchmark_points,
            self.typical_options,
        )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def row_to_metric(row: dict[str, Any]) -> RegistryMetric:
    return RegistryMetric(
        metric_id=row["metric_id"],
        name=row["name"],
        period=row["period"],
        unit=row["unit"],
        direction=row["direction"],
        sources=tuple(row["sources"] or ()),
        value_sql=row["value_sql"],
        detail_sql=row["detail_sql"],
        history_sql=row["history_sql"],
        norm_value=_float(row["norm_value"]),
        alert_value=_float(row["alert_value"]),
        target_value=_float(row["target_value"]),
        typical_method=row["typical_method"],
        typical_options=TypicalOptions.from_json(row["typical_options"]),
        benchmark_mean=_float(row["benchmark_mean"]),
        benchmark_stddev=_float(row["benchmark_stddev"]),
        benchmark_points=row["benchmark_points"],
        file_path=row["file_path"],
        extra=row,
        entity=EntityKey.from_json(row.get("entity")),
        segments_sql=row.get("segments_sql"),
        engine_sql=dict(row.get("engine_sql") or {}),
    )


def active_metrics(conn: psycopg.Connection[Any], ids: Sequence[str] | None = None) -> list[RegistryMetric]:
    """Active (not retired) metrics, optionally only `ids`; unknown ids raise `UnknownMetric`."""
    with conn.cursor(row_factory=dict_row) as cur:
        if ids:
            cur.execute(
                "SELECT * FROM heartbeat.metric_registry WHERE metric_id = ANY(%s) AND retired_at IS NULL"
                " ORDER BY metric_id",
                (list(ids),),
            )
        else:
            cur.execute("SELECT * FROM heartbeat.metric_registry WHERE retired_at IS NULL ORDER BY metric_id")
        rows = cur.fetchall()
    metrics = [row_to_metric(r) for r in rows]
    if ids:
        missing = sorted(set(ids) - {m.metric_id for m in metrics})
        if missing:
            known = [
                r[0]
                for r in conn.execute(
                    "SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL"
                )
            ]
            raise UnknownMetric(missing, known)
    return metrics


class UnknownMetric(KeyError):
    """Ids that are not active metrics; the message names the closest known ids."""

    def __init__(self, missing: Sequence[str], known: Sequence[str]):
        import difflib

        self.missing = list(missing)
        parts = []
        for mid in self.missing:
            close = difflib.get_close_matches(mid, known, n=3, cutoff=0.7)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            parts.append(f"unknown metric {mid!r}{hint}")
        self.message = "; ".join(parts)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def metric_sources(conn: psycopg.Connection[Any], ids: Sequence[str] | None = None) -> list[str]:
    """The distinct sources the given (or all) active metrics read: the ingest scope of a recompute."""
    return sorted({s for m in active_metrics(conn, ids) for s in m.sources})


def last_history_date(conn: psycopg.Connection[Any], metric_id: str) -> date | None:
    row = conn.execute(
        "SELECT max(as_of_date) FROM heartbeat.metric_history WHERE metric_id = %s", (metric_id,)
    ).fetchone()
    return row[0] if row else None


def registry_changed_at(conn: psycopg.Connection[Any]) -> datetime | None:
    row = conn.execute("SELECT changed_at FROM heartbeat.read_model_state").fetchone()
    return row[0] if row else None
