"""The read model: the ranked current state of every metric, and a metric's history.

Every surface (cockpit, REST, MCP, alerts, CLI) reads through these functions and nothing else. The
state is registry + latest history row, coloured live by `heartbeat_core.readmodel.status` with the lines in
force now, so an operator's threshold edit shows at once without a recompute.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, LiteralString

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.jobs.ledger import JobPhase, JobState
from heartbeat_core.metrics.definition import Direction, Period, TypicalOptions
from heartbeat_core.metrics.registry import band_in_force
from heartbeat_core.readmodel.acknowledged import acknowledgement_of, acknowledgements
from heartbeat_core.readmodel.annotations import Acknowledgement, Driver, EntitySummary, Flag
from heartbeat_core.readmodel.drivers import attach_drivers
from heartbeat_core.readmodel.entities import entity_summaries, new_entity_flag
from heartbeat_core.readmodel.incidents import Incident, current_incidents
from heartbeat_core.readmodel.pipeline import PipelineHealth, judge_pipeline, last_successful_job
from heartbeat_core.readmodel.status import (
    DISPLAY_ORDER,
    Crossed,
    DisplayState,
    Freshness,
    Status,
    display_flags,
    display_state,
    implausible_flags,
    judge,
    rank_key,
    resolve_freshness,
    target_hit,
)
from heartbeat_core.readmodel.suspect import attach_suspects
from heartbeat_core.settings import get_settings

SPARKLINE_POINTS = 30


class LastJob(BaseModel):
    job_id: int
    trigger: str | None = None
    state: JobState
    phase: JobPhase | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class MetricState(BaseModel):
    metric_id: str
    name: str
    status: Status
    reason: str
    value: float | None
    unit: str
    period: Period
    direction: Direction
    norm_value: float | None
    alert_value: float | None
    target_value: float | None
    target_due_date: date | None = None
    target_hit: bool
    typical_mean: float | None
    typical_stddev: float | None
    z: float | None
    crossed: Crossed | None = None
    freshness: Freshness
    freshness_reason: str
    source_age_s: float | None
    source_as_of: datetime | None
    computed_at: datetime | None
    as_of_date: date | None
    status_since: date | None = None
    error: str | None
    owner: str | None
    verification_state: str
    team: str | None = None
    tags: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    description: str = ""
    how_to_read: str = ""
    sparkline: list[float | None] = Field(default_factory=list)
    rank: int = 0
    # CONTRACTS.md: one name per field, filled in by the issue that owns it, empty until then
    display_state: DisplayState = "no_data"
    flags: list[Flag] = Field(default_factory=list)
    entities: EntitySummary | None = None
    drivers: list[Driver] | None = None
    incident_id: str | None = None
    acknowledgement: Acknowledgement | None = None


class CockpitSnapshot(BaseModel):
    generated_at: datetime
    version: int
    last_job: LastJob | None
    counts: dict[str, int]
    metrics: list[MetricState]
    pipeline: PipelineHealth = Field(default_factory=PipelineHealth)
    incidents: list[Incident] = Field(default_factory=list)


class HistoryPoint(BaseModel):
    as_of_date: date
    value: float | None
    status: Status
    reason: str
    z: float | None
    norm_value: float | None
    alert_value: float | None
    typical_mean: float | None
    typical_stddev: float | None
    source_as_of: datetime | None
    computed_at: datetime
    error: str | None


_STATE_SQL: LiteralString = """
SELECT r.metric_id, r.name, r.unit, r.period, r.direction, r.norm_value, r.alert_value, r.target_value,
       r.target_due_date, r.owner, r.verification_state, r.team, r.tags, r.sources, r.description,
       r.how_to_read, r.typical_method, r.typical_options, r.benchmark_mean, r.benchmark_stddev,
       r.benchmark_points,
       h.as_of_date, h.computed_at AS latest_computed_at, h.error, h.source_as_of AS latest_source_as_of,
       g.value AS good_value, g.computed_at AS good_computed_at, g.source_as_of AS good_source_as_of,
       g.as_of_date AS good_as_of_date,
       sp.points AS sparkline,
       since.status_since
FROM heartbeat.metric_registry r
LEFT JOIN LATERAL (
    SELECT as_of_date, computed_at, error, source_as_of, status FROM heartbeat.metric_history
    WHERE metric_id = r.metric_id ORDER BY as_of_date DESC LIMIT 1) h ON true
LEFT JOIN LATERAL (
    SELECT value, computed_at, source_as_of, as_of_date FROM heartbeat.metric_history
    WHERE metric_id = r.metric_id AND value IS NOT NULL ORDER BY as_of_date DESC LIMIT 1) g ON true
LEFT JOIN LATERAL (
    SELECT array_agg(value ORDER BY as_of_date) AS points FROM (
        SELECT value, as_of_date FROM heartbeat.metric_history
        WHERE metric_id = r.metric_id ORDER BY as_of_date DESC LIMIT %(points)s) s) sp ON true
LEFT JOIN LATERAL (
    SELECT min(x.as_of_date) AS status_since FROM heartbeat.metric_history x
    WHERE x.metric_id = r.metric_id AND x.as_of_date > coalesce((
        SELECT max(y.as_of_date) FROM heartbeat.metric_history y
        WHERE y.metric_id = r.metric_id AND y.status IS DISTINCT FROM h.status), '-infinity'::date)) since ON true
WHERE r.retired_at IS NULL {where}
"""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def state_from_row(row: dict[str, Any], now: datetime) -> tuple[MetricState, float]:
    """Colour one registry+history row with the contract, live; returns the state and its distance past the line."""
    options = TypicalOptions.from_json(row["typical_options"])
    band = band_in_force(
        row["typical_method"],
        _float(row["benchmark_mean"]),
        _float(row["benchmark_stddev"]),
        row["benchmark_points"],
        options,
    )
    value = _float(row["good_value"])
    error = row["error"]
    result = judge(
        value,
        row["direction"],
        row["unit"],
        norm=_float(row["norm_value"]),
        alert=_float(row["alert_value"]),
        band=band,
        options=options,
        error=error,
    )
    source_as_of = row["good_source_as_of"] or row["latest_source_as_of"]
    fresh = resolve_freshness(row["period"], source_as_of, now)
    target = _float(row["target_value"])
    return MetricState(
        metric_id=row["metric_id"],
        name=row["name"],
        status=result.status,
        reason=result.reason,
        value=value,
        unit=row["unit"],
        period=row["period"],
        direction=row["direction"],
        norm_value=_float(row["norm_value"]),
        alert_value=_float(row["alert_value"]),
        target_value=target,
        target_due_date=row["target_due_date"],
        target_hit=target_hit(result.status, value, row["direction"], target),
        typical_mean=band.mean if band else None,
        typical_stddev=band.stddev if band else None,
        z=result.z,
        crossed=result.crossed,
        freshness=fresh.freshness,
        freshness_reason=fresh.reason,
        source_age_s=fresh.age_s,
        source_as_of=source_as_of,
        computed_at=row["good_computed_at"] or row["latest_computed_at"],
        as_of_date=row["good_as_of_date"] or row["as_of_date"],
        status_since=row["status_since"],
        error=error,
        owner=row["owner"],
        verification_state=row["verification_state"],
        team=row["team"],
        tags=list(row["tags"] or []),
        sources=list(row["sources"] or []),
        description=row["description"],
        how_to_read=row["how_to_read"],
        sparkline=[_float(v) for v in (row["sparkline"] or [])],
        display_state=display_state(result.status, fresh.freshness, value is not None, error),
        flags=display_flags(fresh.freshness, fresh.reason, value is not None, error, source_as_of)
        + implausible_flags(result.crossed, result.reason, row["status_since"]),
    ), result.distance


def rank(states: list[tuple[MetricState, float]]) -> list[MetricState]:
    ordered = sorted(
        states,
        key=lambda pair: rank_key(
            pair[0].status,
            pair[0].freshness,
            pair[1],
            pair[0].verification_state == "verified",
            pair[0].name,
            pair[0].crossed,
            has_value=pair[0].value is not None,
            error=pair[0].error,
        ),
    )
    result = []
    for position, (state, _) in enumerate(ordered, start=1):
        state.rank = position
        result.append(state)
    return result


def metric_states(
    conn: psycopg.Connection[Any], ids: list[str] | None = None, now: datetime | None = None
) -> list[MetricState]:
    """Current state of active metrics (all, or `ids`), ranked worst first."""
    moment = now or clock.now()
    where = "AND r.metric_id = ANY(%(ids)s)" if ids else ""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_STATE_SQL.format(where=where), {"points": SPARKLINE_POINTS, "ids": ids})
        rows = cur.fetchall()
    states = rank([state_from_row(r, moment) for r in rows])
    attach_entities(conn, states, moment)
    attach_drivers(conn, states)
    attach_suspects(conn, states)
    return states


def attach_entities(conn: psycopg.Connection[Any], states: list[MetricState], now: datetime) -> None:
    """Fill `entities` (and the `new_entity` flag) from the entity history, and `acknowledgement` (and the
    `acknowledged` flag) from the acknowledgements in force."""
    summaries = entity_summaries(conn, [s.metric_id for s in states], now)
    acks = acknowledgements(conn, now)
    for state in states:
        state.entities = summaries.get(state.metric_id)
        flag = new_entity_flag(state.entities)
        if flag is not None:
            state.flags.append(flag)
        state.acknowledgement = acknowledgement_of(state.metric_id, state.entities, acks)
        if state.acknowledgement is not None:
            ack = state.acknowledgement
            note = f": {ack.note}" if ack.note else ""
            state.flags.append(Flag(kind="acknowledged", reason=f"acknowledged by {ack.by}{note}"))


def read_model_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT version FROM heartbeat.read_model_state").fetchone()
    return int(row[0]) if row else 0


def last_job(conn: psycopg.Connection[Any]) -> LastJob | None:
    """The running job, else the newest one; None until the job ledger exists and has a row."""
    exists = conn.execute("SELECT to_regclass('heartbeat.recompute_job') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT job_id, trigger, state, phase, started_at, finished_at, error FROM heartbeat.recompute_job"
            " ORDER BY (state = 'running') DESC, job_id DESC LIMIT 1"
        )
        row = cur.fetchone()
    return LastJob(**row) if row else None


def display_counts(states: list[MetricState]) -> dict[str, int]:
    """Header counts keyed by display state, each metric once (CONTRACTS.md): "3 red · 2 stale"."""
    counts: dict[str, int] = dict.fromkeys(DISPLAY_ORDER, 0)
    for state in states:
        counts[state.display_state] += 1
    return counts


def cockpit_snapshot(conn: psycopg.Connection[Any], now: datetime | None = None) -> CockpitSnapshot:
    """The whole read model in the shape of DESIGN.md "Public interfaces", ranked worst first, with the
    pipeline's stalled verdict (`readmodel.pipeline`) judged against the recompute schedule at `now`."""
    moment = now or clock.now()
    version = read_model_version(conn)
    states = metric_states(conn, now=moment)
    incidents = current_incidents(conn, states)
    counts = display_counts(states)
    pipeline = judge_pipeline(
        get_settings().schedule_recompute,
        moment,
        computed=[s.computed_at for s in states],
        job_finished_at=last_successful_job(conn),
    )
    return CockpitSnapshot(
        generated_at=moment,
        version=version,
        last_job=last_job(conn),
        counts=counts,
        metrics=states,
        pipeline=pipeline,
        incidents=incidents,
    )


def metric_history(conn: psycopg.Connection[Any], metric_id: str, days: int = 90) -> list[HistoryPoint]:
    """A metric's history series, oldest first, for charts and summaries."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT as_of_date, value, status, reason, z, norm_value, alert_value, typical_mean, typical_stddev,
                      source_as_of, computed_at, error
               FROM heartbeat.metric_history WHERE metric_id = %s
               ORDER BY as_of_date DESC LIMIT %s""",
            (metric_id, days),
        )
        rows = cur.fetchall()
    points = [
        HistoryPoint(**{**r, "value": _float(r["value"]), "norm_value": _float(r["norm_value"]),
                        "alert_value": _float(r["alert_value"])})
        for r in reversed(rows)
    ]  # fmt: skip
    return points


def metric_detail(conn: psycopg.Connection[Any], metric_id: str) -> dict[str, Any] | None:
    """The detail rows stored with the newest successful computation (who, how much, since when)."""
    row = conn.execute(
        "SELECT detail FROM heartbeat.metric_history WHERE metric_id = %s AND detail IS NOT NULL"
        " ORDER BY as_of_date DESC LIMIT 1",
        (metric_id,),
    ).fetchone()
    return row[0] if row else None


def metric_definition(conn: psycopg.Connection[Any], metric_id: str) -> dict[str, Any] | None:
    """Registry row of one active metric (definition, operator columns, benchmark)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM heartbeat.metric_registry WHERE metric_id = %s AND retired_at IS NULL",
            (metric_id,),
        )
        return cur.fetchone()


StatusFilter = Literal["red", "amber", "green", "no_data"]
