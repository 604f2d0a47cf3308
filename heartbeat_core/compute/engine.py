"""The compute engine: run each metric's SQL point-in-time, read-only, with a timeout, and UPSERT history.

Each metric runs on its own pooled connection, in parallel up to `HEARTBEAT_COMPUTE_PARALLELISM`; a
failing metric records its error beside its last good value and never stops the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors

from heartbeat_core import clock
from heartbeat_core.compute import entities as entity_sets
from heartbeat_core.compute import segments as segment_sets
from heartbeat_core.compute.backfill import values_for_days
from heartbeat_core.compute.binding import Moments, begin_point_in_time
from heartbeat_core.compute.entity_history import record_day
from heartbeat_core.compute.history_write import write_history
from heartbeat_core.db import get_pool
from heartbeat_core.metrics.registry import RegistryMetric, active_metrics
from heartbeat_core.readmodel import freshness
from heartbeat_core.readmodel.status import Status
from heartbeat_core.rollups.compute import failed_rollup, refresh_rollups_read_by
from heartbeat_core.rollups.refresh import RefreshResult
from heartbeat_core.settings import get_settings

DETAIL_ROW_LIMIT = 50


class MetricSQLError(RuntimeError):
    """The metric's SQL failed or returned something other than one numeric value."""


@dataclass
class MetricOutcome:
    metric_id: str
    days: int = 0
    failed_days: int = 0
    value: float | None = None
    status: Status | None = None
    error: str | None = None
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ComputeReport:
    outcomes: list[MetricOutcome] = field(default_factory=list)
    seconds: float = 0.0
    rollups: dict[str, RefreshResult] = field(default_factory=dict)

    @property
    def failed(self) -> list[MetricOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Evaluation:
    value: float | None
    detail: dict[str, Any] | None
    duration_ms: int
    entities: entity_sets.EntitySet | None = None
    entity_error: str | None = None
    segments: segment_sets.SegmentSet | None = None
    segment_error: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _describe(exc: psycopg.Error, section: str) -> str:
    timeout = get_settings().metric_statement_timeout_s
    if isinstance(exc, errors.QueryCanceled):
        return f"@{section} timed out after {timeout:g} s (HEARTBEAT_METRIC_STATEMENT_TIMEOUT)"
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return f"@{section} tries to write: metric SQL runs in a read-only transaction"
    message = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
    return f"@{section}: {message}"


def _single_number(cur: psycopg.Cursor[Any]) -> float | None:
    if cur.description is None:
        raise MetricSQLError("@value returned no result set (expected one row with one numeric column)")
    rows = cur.fetchmany(2)
    if cur.nextset():
        raise MetricSQLError("@value holds more than one statement (expected one SELECT)")
    return single_number(len(cur.description), rows)


def single_number(columns: int, rows: Sequence[Sequence[Any]]) -> float | None:
    """The one rule for what a @value may return (Postgres or a warehouse engine): one row, one number."""
    if columns != 1:
        raise MetricSQLError(f"@value returned {columns} columns (expected one numeric column)")
    if not rows:
        raise MetricSQLError("@value returned no rows (expected exactly one)")
    if len(rows) > 1:
        raise MetricSQLError("@value returned more than one row (expected exactly one)")
    value = rows[0][0]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise MetricSQLError(
            f"@value returned {type(value).__name__} {str(value)[:40]!r} (expected a number)"
        )
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise MetricSQLError(f"@value returned {number} (expected a finite number)")
    return number


def _entities(
    conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], metric: RegistryMetric, moments: Moments
) -> tuple[entity_sets.EntitySet | None, str | None]:
    """The metric's full entity key set, in a savepoint: a failure is reported, the value still stands."""
    if metric.entity is None or not metric.detail_sql:
        return None, None
    try:
        with conn.transaction():
            detail_sql = moments.bind(metric.detail_sql)
            return entity_sets.collect(cur, metric.entity, detail_sql, get_settings().entity_cap), None
    except psycopg.Error as exc:
        return None, _describe(exc, "detail (entities)")


def _warehouse_engine() -> Any:
    """Warehouse mode's engine; a warehouse that cannot be opened is the metric's error, like bad SQL."""
    from heartbeat_core.warehouse import current
    from heartbeat_core.warehouse.config import WarehouseError

    try:
        return current.engine()
    except WarehouseError as exc:
        raise MetricSQLError(str(exc)) from exc


def _segments(
    conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], metric: RegistryMetric, moments: Moments
) -> tuple[segment_sets.SegmentSet | None, str | None]:
    """The metric's segments, in a savepoint: a failing @segments is recorded, the value still stands."""
    if not metric.segments_sql:
        return None, None
    try:
        with conn.transaction():
            return segment_sets.collect(cur, moments.bind(metric.segments_sql)), None
    except psycopg.Error as exc:
        return None, _describe(exc, "segments")
    except segment_sets.SegmentShapeError as exc:
        return None, str(exc)


def evaluate(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    as_of: datetime,
    *,
    with_detail: bool = True,
    with_entities: bool = False,
    with_segments: bool = False,
    raw_rollups: bool = False,
) -> Evaluation:
    """Run the value (and detail, entity key set and segments) SQL at `as_of` in one read-only transaction;
    in warehouse mode on the engine (`heartbeat_core.warehouse`), its moments still asked of Postgres.
    `raw_rollups` reads every rollup's window from raw rows (the gate's reference) instead of its table, on
    Postgres and on the engine alike (which holds its own rollup tables, `heartbeat_core.warehouse.rollups`)."""
    if get_settings().warehouse_url:
        from heartbeat_core.warehouse import evaluate as on_engine

        return on_engine.evaluate(
            _warehouse_engine(), conn, metric, as_of, with_detail=with_detail, with_entities=with_entities,
            with_segments=with_segments, raw_rollups=raw_rollups,
        )  # fmt: skip
    return evaluate_postgres(
        conn, metric, as_of, with_detail=with_detail, with_entities=with_entities, with_segments=with_segments,
        raw_rollups=raw_rollups,
    )  # fmt: skip


def evaluate_postgres(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    as_of: datetime,
    *,
    with_detail: bool = True,
    with_entities: bool = False,
    with_segments: bool = False,
    raw_rollups: bool = False,
) -> Evaluation:
    """`evaluate` on the Postgres marts whatever the mode (warehouse parity compares the two)."""
    started = time.perf_counter()
    section = "value"
    entities: tuple[entity_sets.EntitySet | None, str | None] = (None, None)
    segments: tuple[segment_sets.SegmentSet | None, str | None] = (None, None)
    try:
        with conn.transaction():
            moments = begin_point_in_time(conn, metric, as_of, raw_rollups=raw_rollups)
            with conn.cursor() as cur:
                cur.execute(moments.bind(metric.value_sql).encode())
                value = _single_number(cur)
                detail = None
                if with_detail and metric.detail_sql:
                    section = "detail"
                    cur.execute(moments.bind(metric.detail_sql).encode())
                    if cur.description:
                        columns = [c.name for c in cur.description]
                        rows = cur.fetchmany(DETAIL_ROW_LIMIT + 1)
                        detail = {
                            "columns": columns,
                            "rows": [[_jsonable(v) for v in r] for r in rows[:DETAIL_ROW_LIMIT]],
                            "truncated": len(rows) > DETAIL_ROW_LIMIT,
                            "total": cur.rowcount,  # every row behind the value (pages past the stored ones)
                        }
                if with_entities:
                    entities = _entities(conn, cur, metric, moments)
                if with_segments:
                    segments = _segments(conn, cur, metric, moments)
    except psycopg.Error as exc:
        raise MetricSQLError(_describe(exc, section)) from exc
    return Evaluation(value, detail, int((time.perf_counter() - started) * 1000), *entities, *segments)


def _days(today: date, backfill_days: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(backfill_days, 0, -1)]


def compute_metric(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    *,
    now: datetime,
    backfill_days: int = 0,
    job_id: int | None = None,
) -> MetricOutcome:
    """Today's value (and `backfill_days` past days) of one metric, written to history."""
    settings = get_settings()
    tz = settings.tz
    today = clock.business_day(now, tz)
    outcome = MetricOutcome(metric.metric_id)
    started = time.perf_counter()
    current_source_as_of = freshness.source_as_of(conn, metric.sources, now)
    conn.commit()

    past = _days(today, backfill_days)
    if past and metric.history_sql:
        past = _backfill_from_history_sql(conn, metric, past, now, current_source_as_of, job_id, outcome)
    if len(past) > 1:
        past = _backfill_in_one_statement(conn, metric, past, now, current_source_as_of, job_id, outcome)
    for day in past:
        as_of = clock.end_of_business_day(day, tz)
        _compute_day(
            conn, metric, day, as_of, current_source_as_of, job_id, outcome, with_detail=False,
            with_segments=day >= today - timedelta(days=segment_sets.SEGMENT_DAYS),
        )  # fmt: skip
    _compute_day(conn, metric, today, now, current_source_as_of, job_id, outcome, with_detail=True)
    outcome.duration_ms = int((time.perf_counter() - started) * 1000)
    return outcome


def _compute_day(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    day: date,
    as_of: datetime,
    current_source_as_of: datetime | None,
    job_id: int | None,
    outcome: MetricOutcome,
    *,
    with_detail: bool,
    with_segments: bool = True,
) -> None:
    source_as_of = min(current_source_as_of, as_of) if current_source_as_of else None
    try:
        result = evaluate(
            conn, metric, as_of, with_detail=with_detail, with_entities=True, with_segments=with_segments
        )
        fields = write_history(
            conn,
            metric,
            day,
            as_of,
            result.value,
            error=None,
            detail=result.detail,
            source_as_of=source_as_of,
            duration_ms=result.duration_ms,
            job_id=job_id,
        )
        outcome.value, outcome.status = result.value, fields["status"]
        if with_detail:
            outcome.error = None
        _record_entities(conn, metric, day, result, outcome)
        _record_segments(conn, metric, day, result)
    except MetricSQLError as exc:
        conn.rollback()
        outcome.failed_days += 1
        outcome.error = str(exc)
        fields = write_history(
            conn, metric, day, as_of, None, error=str(exc), detail=None, source_as_of=source_as_of,
            duration_ms=0, job_id=job_id,
        )  # fmt: skip
        outcome.status = fields["status"]
    outcome.days += 1


def _record_entities(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    day: date,
    result: Evaluation,
    outcome: MetricOutcome,
) -> None:
    """Entity history of one metric-day; its failure is the metric's error, never the other metrics'."""
    if result.entity_error is not None:
        outcome.error = result.entity_error
    if result.entities is None:
        return
    record_day(
        conn, metric.metric_id, day, result.entities, now=clock.now(),
        worse_share=get_settings().entity_worse_share,
    )  # fmt: skip


def _record_segments(
    conn: psycopg.Connection[Any], metric: RegistryMetric, day: date, result: Evaluation
) -> None:
    """Segments and drivers of one metric-day; a failing @segments is stored as their error (explain shows
    it), never as the metric's: the value stands."""
    if not metric.segments_sql or (result.segments is None and result.segment_error is None):
        return
    segment_sets.record_day(conn, metric, day, result.segments, result.segment_error, now=clock.now())


def entities_at(
    conn: psycopg.Connection[Any], metric: RegistryMetric, as_of: datetime, *, with_segments: bool = False
) -> Evaluation:
    """Only the entity key set (and segments) at `as_of` (for days whose value came from @history)."""
    wanted_segments = with_segments and bool(metric.segments_sql)
    if (metric.entity is None or not metric.detail_sql) and not wanted_segments:
        return Evaluation(None, None, 0)
    if get_settings().warehouse_url:
        from heartbeat_core.warehouse import evaluate as on_engine

        engine = _warehouse_engine()
        moments = on_engine.moments_at(conn, metric, as_of, engine=engine)
        return Evaluation(None, None, 0, *on_engine.entities(engine, conn, metric, moments))
    with conn.transaction():
        moments = begin_point_in_time(conn, metric, as_of)
        with conn.cursor() as cur:
            found, error = _entities(conn, cur, metric, moments)
            segments = _segments(conn, cur, metric, moments) if wanted_segments else (None, None)
    return Evaluation(None, None, 0, found, error, *segments)


def _backfill_from_history_sql(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    days: list[date],
    now: datetime,
    current_source_as_of: datetime | None,
    job_id: int | None,
    outcome: MetricOutcome,
) -> list[date]:
    """Run the @history section once; returns the days it did not cover (replayed with @value)."""
    if metric.history_sql is None:
        return days
    history_sql = metric.history_sql
    tz = get_settings().tz
    started = time.perf_counter()
    try:
        rows = _history_rows(conn, metric, history_sql, now, days[0])
    except psycopg.Error as exc:
        conn.rollback()
        outcome.error = _describe(exc, "history")
        return days
    except MetricSQLError as exc:
        conn.rollback()
        outcome.error = str(exc)
        return days
    wanted = set(days)
    covered: set[date] = set()
    per_day_ms = int((time.perf_counter() - started) * 1000 / max(len(rows), 1))
    for day_value, value in rows:
        day = day_value.date() if isinstance(day_value, datetime) else day_value
        if day not in wanted or (value is not None and not isinstance(value, int | float | Decimal)):
            continue
        as_of = clock.end_of_business_day(day, tz)
        source_as_of = min(current_source_as_of, as_of) if current_source_as_of else None
        write_history(
            conn, metric, day, as_of, None if value is None else float(value), error=None, detail=None,
            source_as_of=source_as_of, duration_ms=per_day_ms, job_id=job_id,
        )  # fmt: skip
        extra = entities_at(
            conn, metric, as_of, with_segments=day >= days[-1] - timedelta(days=segment_sets.SEGMENT_DAYS)
        )
        _record_entities(conn, metric, day, extra, outcome)
        _record_segments(conn, metric, day, extra)
        covered.add(day)
        outcome.days += 1
    return [d for d in days if d not in covered]


def _history_rows(
    conn: psycopg.Connection[Any], metric: RegistryMetric, history_sql: str, now: datetime, first: date
) -> list[tuple[Any, Any]]:
    """The @history section's `(as_of_date, value)` rows: on Postgres, or in warehouse mode on the engine."""
    if get_settings().warehouse_url:
        from heartbeat_core.warehouse import evaluate as on_engine

        return on_engine.history(_warehouse_engine(), conn, metric, now, first)
    with conn.transaction():
        moments = begin_point_in_time(conn, metric, now, history_from=first)
        with conn.cursor() as cur:
            cur.execute(moments.bind(history_sql).encode())
            if cur.description is None or len(cur.description) != 2:
                raise MetricSQLError("@history must return two columns: (as_of_date, value)")
            return [(r[0], r[1]) for r in cur.fetchall()]


def _backfill_in_one_statement(
    conn: psycopg.Connection[Any],
    metric: RegistryMetric,
    days: list[date],
    now: datetime,
    current_source_as_of: datetime | None,
    job_id: int | None,
    outcome: MetricOutcome,
) -> list[date]:
    """Every past day's value in one statement (`compute.backfill`); returns the days left to replay alone.
    Not in warehouse mode: the statement is Postgres's own (a day list joined laterally); an engine replays
    @value per day instead (docs/scale-out.md)."""
    if get_settings().warehouse_url:
        return days
    tz = get_settings().tz
    moments = [(day, clock.end_of_business_day(day, tz)) for day in days]
    segments_from = days[-1] + timedelta(days=1) - timedelta(days=segment_sets.SEGMENT_DAYS)
    started = time.perf_counter()
    try:
        values = values_for_days(conn, metric, moments, now)
    except psycopg.Error:
        conn.rollback()
        return days  # replayed day by day, each failure reported with its own day
    per_day_ms = int((time.perf_counter() - started) * 1000 / max(len(values), 1))
    for day, as_of in moments:
        if day not in values:
            continue
        source_as_of = min(current_source_as_of, as_of) if current_source_as_of else None
        write_history(
            conn, metric, day, as_of, values[day], error=None, detail=None, source_as_of=source_as_of,
            duration_ms=per_day_ms, job_id=job_id,
        )  # fmt: skip
        # the entity set and (in the recent days) segments of each day, as a replay of the day would record
        extra = entities_at(conn, metric, as_of, with_segments=day >= segments_from)
        _record_entities(conn, metric, day, extra, outcome)
        _record_segments(conn, metric, day, extra)
        outcome.value = values[day]
        outcome.days += 1
    return [d for d in days if d not in values]


def _refresh_rollups(
    conn: psycopg.Connection[Any], metrics: Sequence[RegistryMetric]
) -> dict[str, RefreshResult]:
    """The rollups these metrics read, brought up to date where the metrics will read them."""
    if not get_settings().warehouse_url:
        return refresh_rollups_read_by(conn, metrics)
    from heartbeat_core.warehouse import current
    from heartbeat_core.warehouse import rollups as engine_rollups
    from heartbeat_core.warehouse.config import WarehouseError

    try:
        config = current.configured()
    except WarehouseError:
        return {}  # each metric then fails with the setting's error, as its own
    assert config is not None
    current.release()  # DuckDB: the read-only engine and a writer cannot share the file in one process
    return engine_rollups.refresh_read_by(conn, config, metrics)


def compute_metrics(
    ids: Sequence[str] | None = None,
    *,
    backfill_days: int = 0,
    job_id: int | None = None,
    parallelism: int | None = None,
    on_outcome: Callable[[MetricOutcome], None] | None = None,
) -> ComputeReport:
    """Compute the given (or all active) metrics, in parallel, bounded; never raises for one metric."""
    pool = get_pool()
    report = ComputeReport()
    started = time.perf_counter()
    with pool.connection() as conn:
        metrics = active_metrics(conn, ids)
        conn.commit()  # each refresh commits alone (its days visible to the metrics; a failure kept apart)
        # warehouse mode refreshes the engine's own rollup tables (a writer there, then released)
        report.rollups = _refresh_rollups(conn, metrics)
    now = clock.now()
    workers = max(1, min(parallelism or get_settings().compute_parallelism, len(metrics) or 1))
    lock = threading.Lock()

    def run(metric: RegistryMetric) -> MetricOutcome:
        try:
            with pool.connection() as conn:
                blocked = failed_rollup(metric, report.rollups)
                if blocked:
                    outcome = fail_today(conn, metric, now=now, error=blocked, job_id=job_id)
                else:
                    outcome = compute_metric(
                        conn, metric, now=now, backfill_days=backfill_days, job_id=job_id
                    )
        except Exception as exc:  # a broken connection must not take the other metrics down
            outcome = MetricOutcome(
                metric.metric_id,
                error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            )
        with lock:
            report.outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compute") as executor:
        list(executor.map(run, metrics))
    report.outcomes.sort(key=lambda o: o.metric_id)
    report.seconds = time.perf_counter() - started
    return report


def fail_today(
    conn: psycopg.Connection[Any], metric: RegistryMetric, *, now: datetime, error: str, job_id: int | None
) -> MetricOutcome:
    """Record today's run of a metric as errored with `error` (its last value kept beside it)."""
    today = clock.business_day(now, get_settings().tz)
    fields = write_history(
        conn,
        metric,
        today,
        now,
        None,
        error=error,
        detail=None,
        source_as_of=None,
        duration_ms=0,
        job_id=job_id,
    )
    return MetricOutcome(metric.metric_id, days=1, failed_days=1, status=fields["status"], error=error)
