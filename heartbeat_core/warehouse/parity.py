"""`heartbeat warehouse parity`: every metric on Postgres and on an engine at the same as-of moment.

The marts are landed into a parity copy of each engine under `HEARTBEAT_HOME/warehouse/parity/` (never the
configured warehouse), then each metric's @value (and @detail, which must run) is evaluated on both. Values
match exactly for counted units and within a relative 1e-9 for the others (decimals, rates, durations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core.compute import engine as pg_engine
from heartbeat_core.compute.engine import MetricSQLError
from heartbeat_core.metrics.definition import COUNTED_NOUNS
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.compute import reads_rollups, refresh_rollups_read_by
from heartbeat_core.rollups.refresh import RefreshResult
from heartbeat_core.warehouse import evaluate as wh
from heartbeat_core.warehouse import rollups as engine_rollups
from heartbeat_core.warehouse.config import WarehouseConfig, parse_url
from heartbeat_core.warehouse.engines import open_engine
from heartbeat_core.warehouse.land import LandReport, land

RELATIVE_TOLERANCE = 1e-9
# the engines that run on this machine (in process), by the name `--engine` takes
LOCAL_ENGINES = ("duckdb", "chdb")


@dataclass
class ParityRow:
    metric_id: str
    engine: str
    postgres: float | None
    warehouse: float | None
    match: bool
    override: bool
    error: str | None = None
    postgres_ms: int = 0
    warehouse_ms: int = 0
    rollups: str | None = None  # a rollup-reading metric: "table" (the engine's rollup) or "raw rows"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric_id": self.metric_id,
            "engine": self.engine,
            "postgres": self.postgres,
            "warehouse": self.warehouse,
            "match": self.match,
            "override": self.override,
        }
        if self.error:
            out["error"] = self.error
        if self.rollups:
            out["rollups"] = self.rollups
        return out


@dataclass
class ParityReport:
    rows: list[ParityRow] = field(default_factory=list)
    landed: list[LandReport] = field(default_factory=list)
    # per engine, each rollup's refresh on it (days rebuilt, full build or not, seconds, error)
    refreshed: dict[str, dict[str, RefreshResult]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.match for r in self.rows)

    def overrides(self, engine: str) -> list[str]:
        return [r.metric_id for r in self.rows if r.engine == engine and r.override]

    def as_json(self) -> dict[str, Any]:
        return {"metrics": [r.as_json() for r in self.rows]}


def exact_unit(unit: str) -> bool:
    """Counted units compare exactly; money, rates and durations within the relative tolerance."""
    return unit == "count" or unit in COUNTED_NOUNS


def values_match(postgres: float | None, warehouse: float | None, *, exact: bool) -> bool:
    if postgres is None or warehouse is None:
        return postgres is None and warehouse is None
    if exact:
        return postgres == warehouse
    return abs(postgres - warehouse) <= RELATIVE_TOLERANCE * max(abs(postgres), abs(warehouse))


def parity_config(engine: str, home: Path) -> WarehouseConfig:
    """The parity copy of an engine: its own file or directory under HEARTBEAT_HOME, never the warehouse."""
    base = home / "warehouse" / "parity"
    if engine == "duckdb":
        return parse_url(f"duckdb://{base / 'marts.duckdb'}")
    if engine == "chdb":
        return parse_url(f"chdb://{base / 'chdb'}")
    raise ValueError(f"unknown engine {engine!r} (expected one of {', '.join(LOCAL_ENGINES)})")


def _uses_override(metric: RegistryMetric, engine: str) -> bool:
    return any(key.endswith(f"[{engine}]") for key in metric.engine_sql)


def compare_metric(
    conn: psycopg.Connection[Any], engine: Any, metric: RegistryMetric, as_of: datetime
) -> ParityRow:
    """One metric on both sides; a failure on either side is a non-match carrying the error."""
    row = ParityRow(
        metric.metric_id, engine.name, None, None, False, _uses_override(metric, engine.config.engine)
    )
    wanted = reads_rollups(metric)
    if wanted:
        with conn.transaction():
            row.rollups = "table" if engine_rollups.ready(conn, engine.config.url, wanted) else "raw rows"
    errors = []
    try:
        on_pg = pg_engine.evaluate_postgres(conn, metric, as_of, with_detail=True)
        row.postgres, row.postgres_ms = on_pg.value, on_pg.duration_ms
    except MetricSQLError as exc:
        errors.append(f"postgres: {exc}")
    try:
        on_engine = wh.evaluate(engine, conn, metric, as_of, with_detail=True)
        row.warehouse, row.warehouse_ms = on_engine.value, on_engine.duration_ms
    except MetricSQLError as exc:
        errors.append(f"{engine.name}: {exc}")
    row.error = "; ".join(errors) or None
    row.match = not errors and values_match(row.postgres, row.warehouse, exact=exact_unit(metric.unit))
    return row


def run_parity(
    conn: psycopg.Connection[Any],
    marts_url: str,
    metrics: Sequence[RegistryMetric],
    engines: Sequence[str],
    *,
    home: Path,
    as_of: datetime,
    on_row: Callable[[ParityRow], None] | None = None,
) -> ParityReport:
    """Land the marts into each engine's parity copy, refresh the rollups the metrics read on both sides (the
    engine's own rollup tables, `warehouse.rollups`), then compare every metric at `as_of`."""
    report = ParityReport()
    refresh_rollups_read_by(conn, metrics)
    conn.commit()
    for name in engines:
        config = parity_config(name, home)
        report.landed.append(
            land(config, marts_url, conn, pipelines_dir=home / "warehouse" / "parity" / "dlt")
        )
        conn.commit()
        report.refreshed[name] = engine_rollups.refresh_read_by(conn, config, metrics)
        engine = open_engine(config)
        try:
            for metric in metrics:
                row = compare_metric(conn, engine, metric, as_of)
                report.rows.append(row)
                if on_row:
                    on_row(row)
        finally:
            engine.close()
    return report
