"""One metric on the warehouse engine, in compute's shapes (`Evaluation`, `MetricSQLError`).

The point-in-time moments come from the read-model Postgres (`begin_point_in_time`, the same function compute
uses, in a read-only transaction there), so an engine and Postgres evaluate the very same instants; the engine
then runs the bound, transpiled sections under its own read-only and time limits (`engines`).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

import psycopg

from heartbeat_core.compute import entities as entity_sets
from heartbeat_core.compute import segments as segment_sets
from heartbeat_core.compute.binding import Moments, begin_point_in_time
from heartbeat_core.compute.engine import (
    DETAIL_ROW_LIMIT,
    Evaluation,
    MetricSQLError,
    _jsonable,
    single_number,
)
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.rollups.compute import reads_rollups
from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse import rollups as engine_rollups
from heartbeat_core.warehouse.engines import Engine, EngineQueryError, Result
from heartbeat_core.warehouse.transpile import TranspileError, bind, for_engine, transpile


def moments_at(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    as_of: datetime,
    *,
    engine: Engine | None = None,
    history_from: date | None = None,
    raw_rollups: bool = False,
) -> Moments:
    """The metric's moments at `as_of`, asked of Postgres (its interval arithmetic in the metric's zone).
    A `rollups.<id>` read takes whole days from the engine's own rollup table when every rollup the metric
    reads is built there from the current file (`warehouse.rollups.ready`), as compute does in Postgres;
    otherwise (or with `raw_rollups`, the gate's reference) it expands to the rollup's query over raw rows."""
    wanted = reads_rollups(metric)
    if wanted and not raw_rollups:
        with conn.transaction():
            raw_rollups = engine is None or not engine_rollups.ready(conn, engine.config.url, wanted)
    with conn.transaction():
        return begin_point_in_time(conn, metric, as_of, history_from=history_from, raw_rollups=raw_rollups)


def run_section(
    engine: Engine, metric: RegistryMetric, section: str, moments: Moments, *, limit: int | None = None
) -> tuple[Result, bool] | None:
    """A section on the engine: (result, whether an override ran); None when the metric has no such section."""
    settings = get_settings()
    try:
        ready = for_engine(metric, section, engine.config.engine, moments, settings.tz)
    except TranspileError as exc:
        raise MetricSQLError(str(exc)) from exc
    if ready is None:
        return None
    try:
        result = engine.query(
            ready.sql, timeout_s=settings.metric_statement_timeout_s, timezone=settings.timezone, limit=limit
        )
    except EngineQueryError as exc:
        if exc.timed_out:
            raise MetricSQLError(
                f"@{section} timed out on {engine.name} after {settings.metric_statement_timeout_s:g} s "
                "(HEARTBEAT_METRIC_STATEMENT_TIMEOUT)"
            ) from exc
        hint = _hint(str(exc), section, engine.config.engine, ready.override)
        raise MetricSQLError(f"@{section} on {engine.name}: {exc}{hint}") from exc
    return result, ready.override


_MISSING = ("does not exist", "UNKNOWN_TABLE", "UNKNOWN_DATABASE")


def _hint(message: str, section: str, engine: str, override: bool) -> str:
    """What to do next: land the source, or write the engine's own section."""
    if any(marker in message for marker in _MISSING):
        return " (is the source landed in the warehouse? `heartbeat ingest` lands it there in warehouse mode)"
    if override:
        return ""
    return f" (if the engine lacks a construct, write its own section `-- @{section}[{engine}]`)"


def evaluate(
    engine: Engine,
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    as_of: datetime,
    *,
    with_detail: bool = True,
    with_entities: bool = False,
    with_segments: bool = False,
    raw_rollups: bool = False,
) -> Evaluation:
    """@value (and @detail, the entity key set and @segments) at `as_of` on the engine."""
    started = time.perf_counter()
    moments = moments_at(conn, metric, as_of, engine=engine, raw_rollups=raw_rollups)
    ran = run_section(engine, metric, "value", moments, limit=2)
    assert ran is not None  # every metric has a @value
    value = single_number(len(ran[0].columns), ran[0].rows)
    detail = None
    if with_detail and metric.detail_sql:
        shown = run_section(engine, metric, "detail", moments, limit=DETAIL_ROW_LIMIT + 1)
        if shown is not None:
            rows = shown[0].rows
            detail = {
                "columns": shown[0].columns,
                "rows": [[_jsonable(v) for v in r] for r in rows[:DETAIL_ROW_LIMIT]],
                "truncated": len(rows) > DETAIL_ROW_LIMIT,
            }
    found, error = entities(engine, conn, metric, moments) if with_entities else (None, None)
    by_segment = segments(engine, metric, moments) if with_segments else (None, None)
    return Evaluation(value, detail, int((time.perf_counter() - started) * 1000), found, error, *by_segment)


def segments(
    engine: Engine, metric: RegistryMetric, moments: Moments
) -> tuple[segment_sets.SegmentSet | None, str | None]:
    """@segments on the engine, read by compute's own rules; a failure is recorded, the value still stands."""
    if not metric.segments_sql:
        return None, None
    try:
        ran = run_section(engine, metric, "segments", moments)
        if ran is None:
            return None, None
        return segment_sets.read_rows(ran[0].columns, ran[0].rows), None
    except (MetricSQLError, segment_sets.SegmentShapeError) as exc:
        return None, str(exc)


_PLACEHOLDER = "SELECT 1 AS heartbeat_engine_detail"


def entities(
    engine: Engine, conn: psycopg.Connection[Any], metric: RegistryMetric, moments: Moments
) -> tuple[entity_sets.EntitySet | None, str | None]:
    """The entity key set: compute's own wrapper around the Postgres @detail, transpiled as one query."""
    if metric.entity is None or not metric.detail_sql:
        return None, None
    settings = get_settings()
    name = engine.config.engine
    override = metric.engine_sql.get(f"detail[{name}]")
    detail = _PLACEHOLDER if override else metric.detail_sql
    wrapped = entity_sets.entity_query(metric.entity, detail, settings.entity_cap).as_string(conn)
    try:
        sql = transpile(bind(wrapped, moments, name, settings.tz), name, "detail")
        if override:  # the engine's own @detail goes inside compute's wrapper, untouched
            sql = sql.replace(_PLACEHOLDER, bind(override, moments, name, settings.tz))
        result = engine.query(sql, timeout_s=settings.metric_statement_timeout_s, timezone=settings.timezone)
    except (TranspileError, EngineQueryError) as exc:
        return None, f"@detail (entities) on {engine.name}: {exc}"
    return entity_sets.from_rows(metric.entity, result.rows, settings.entity_cap), None


def history(
    engine: Engine, conn: psycopg.Connection[Any], metric: RegistryMetric, now: datetime, history_from: date
) -> list[tuple[Any, Any]]:
    """The @history rows `(as_of_date, value)` on the engine."""
    moments = moments_at(conn, metric, now, engine=engine, history_from=history_from)
    ran = run_section(engine, metric, "history", moments)
    if ran is None:
        return []
    if len(ran[0].columns) != 2:
        raise MetricSQLError("@history must return two columns: (as_of_date, value)")
    return [(r[0], r[1]) for r in ran[0].rows]
