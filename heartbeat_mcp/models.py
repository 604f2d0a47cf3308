"""The typed answers of Heartbeat's MCP tools (each becomes a tool's outputSchema).

Compact on purpose: an agent's context is precious. Optional fields are left out of answers when empty.
Vocabulary (status, freshness, period, direction, job state) and the read model's shared shapes (flags,
entities, drivers, acknowledgement) are the core's own types, so an MCP answer and `/api/cockpit` agree.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from heartbeat_core.jobs.ledger import JobPhase, JobState
from heartbeat_core.metrics.definition import Direction, Period
from heartbeat_core.readmodel import MetricState
from heartbeat_core.readmodel.annotations import Acknowledgement, Driver, EntitySummary, Flag
from heartbeat_core.readmodel.freshness import SourceStatus
from heartbeat_core.readmodel.incidents import Incident
from heartbeat_core.readmodel.pipeline import PipelineHealth
from heartbeat_core.readmodel.status import DisplayState, Freshness, Status
from heartbeat_core.readmodel.triage import HistorySummary


class Annotations(BaseModel):
    """What the read model says about a metric beyond its colour (CONTRACTS.md); empty fields are left out."""

    display_state: DisplayState = Field(description="what a screen shows: stale data is never green")
    flags: list[Flag] | None = None
    entities: EntitySummary | None = None
    drivers: list[Driver] | None = None
    incident_id: str | None = None
    acknowledgement: Acknowledgement | None = None


def annotations_of(state: MetricState) -> dict[str, Any]:
    """A metric state's shared shapes for an answer: the same objects, empty lists as None (left out)."""
    return {
        "display_state": state.display_state,
        "flags": state.flags or None,
        "entities": state.entities,
        "drivers": state.drivers or None,
        "incident_id": state.incident_id,
        "acknowledgement": state.acknowledgement,
    }


class _ProblemFields(BaseModel):
    rank: int
    metric_id: str
    name: str
    status: Status
    value: float | None = None
    shown: str = Field(description="the value with its unit, as people read it")
    period: Period
    reason: str = Field(description="one line: the line crossed or z against the typical band")
    crossed: str | None = Field(default=None, description="alert | norm | z_red | z_amber")
    since: date | None = Field(default=None, description="first day of the current colour in history")
    freshness: Freshness = Field(description="age of the landed source data")
    freshness_reason: str | None = None
    error: str | None = None
    owner: str | None = None
    verified: bool = False
    team: str | None = None
    sources: list[str] | None = Field(
        default=None, description="the sources it reads: always in list_metrics, else when its data is stale"
    )


class Problem(Annotations, _ProblemFields):  # this order puts the annotations last in an answer
    """One metric as every list answers it (`what_is_red.items`, `today.top`, `list_metrics.metrics`, the
    `heartbeat://metrics` resource): one shape, ranked by the status contract."""


class WhatIsRed(BaseModel):
    generated_at: datetime
    counts: dict[str, int]
    total: int = Field(description="metrics needing attention under the filters")
    incidents: list[Incident] = Field(
        description="incidents of several metrics among the items (grouped by evidence); read these first"
    )
    items: list[Problem]
    more: int = Field(default=0, description="problems left out by `limit`")
    degraded: str | None = Field(
        default=None, description="set when the database is unreachable: last good copy"
    )


class Change(BaseModel):
    metric_id: str
    name: str
    before: Status
    after: Status
    reason: str
    worse: bool


class JobBrief(BaseModel):
    job_id: int
    state: JobState
    phase: JobPhase | None = None
    trigger: str | None = None
    done: int | None = None
    total: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class TargetHit(BaseModel):
    metric_id: str
    name: str
    shown: str
    target: str


class Notice(BaseModel):
    """One thing to know beside the incidents, in a line (names before ids)."""

    kind: str = Field(description="new: incident, entity; not to trust: stale_source, suspect, implausible, "
                      "error, audit_cut")  # fmt: skip
    subject: str = Field(description="what it is about: incident, entity, source, metric or audit cut id")
    text: str
    metrics: list[str] | None = None


class Today(BaseModel):
    generated_at: datetime
    business_day: date
    headline: str
    counts: dict[str, int]
    incidents: list[Incident] = Field(description="related problems grouped by evidence, worst first")
    more_incidents: int = Field(default=0, description="incidents left out (what_is_red lists them)")
    top: list[Problem] = Field(
        description="problems no incident holds (no data, failed computes), worst first"
    )
    new: list[Notice] = Field(
        description="since yesterday: incidents that started, entities new in a problem"
    )
    not_to_trust: list[Notice] = Field(
        description="stale sources, suspect or failed values, audit cuts older than the data they summarise"
    )
    changed: list[Change] = Field(description="colour changes since the last value before today; worse first")
    job: JobBrief | None = Field(default=None, description="the running job, else the last one")
    pipeline: PipelineHealth | None = Field(
        default=None, description="present only when the pipeline is stalled: values may be old, not bad"
    )
    targets_hit: list[TargetHit]
    degraded: str | None = None
    # how the text block names an incident's members (name, value, state); not part of the JSON answer
    _members: dict[str, str] = PrivateAttr(default_factory=dict)
    # each incident lead's unit: its drivers' values are in it ("12.2% (typ. 97.3%)", "EUR 1.2k")
    _units: dict[str, str] = PrivateAttr(default_factory=dict)


class Components(BaseModel):
    """The six components of the status contract, with their values."""

    value: float | None = None
    shown: str
    period: Period
    typical_mean: float | None = None
    typical_stddev: float | None = None
    z: float | None = None
    norm_value: float | None = Field(default=None, description="amber line")
    alert_value: float | None = Field(default=None, description="red line")
    target_value: float | None = None
    target_due_date: date | None = None
    target_hit: bool = False


class Definition(BaseModel):
    description: str = ""
    how_to_read: str = ""
    methodology: str = ""
    value_sql: str | None = Field(default=None, description="with include_sql=true")
    detail_sql: str | None = Field(default=None, description="with include_sql=true")
    file_path: str | None = None
    typical: str | None = Field(default=None, description="how the typical band is computed, when it is")


class Detail(BaseModel):
    """One page of the rows behind the newest value; `total` counts them all (null when unknown)."""

    columns: list[str]
    rows: list[list[Any]]
    offset: int = 0
    total: int | None = Field(default=None, description="rows behind the value, all pages")
    more: int | None = Field(
        default=None, description="rows after this page: call again with a larger offset"
    )


class RelatedCut(BaseModel):
    cut_id: str
    title: str
    page: str
    takeaway: str | None = None
    out_of_date: str | None = Field(default=None, description="why the takeaway may no longer hold")


class _ExplanationFields(BaseModel):
    metric_id: str
    name: str
    status: Status
    reason: str
    why: str = Field(description="why the status is what it is, in a sentence or two")
    direction: Direction
    unit: str
    components: Components
    freshness: Freshness
    freshness_why: str
    source_as_of: datetime | None = None
    sources: list[str]
    computed_at: datetime | None = None
    as_of_date: date | None = None
    since: date | None = None
    error: str | None = None
    last_30: HistorySummary = Field(description="summary of the last 30 values, not the raw series")
    detail: Detail | None = Field(
        default=None, description="rows stored with the newest value: who, how much, since"
    )
    definition: Definition
    owner: str | None = None
    verification_state: str
    verification_updated_by: str | None = None
    verification_updated_at: datetime | None = None
    team: str | None = None
    tags: list[str] = Field(default_factory=list)
    audit_cuts: list[RelatedCut] = Field(
        default_factory=list, description="audit cuts that explain this metric; call audit_cut(cut_id)"
    )
    entity_timeline: list[dict[str, Any]] | None = None  # per entity: since, last seen, events


class Explanation(Annotations, _ExplanationFields):  # this order puts the annotations last in an answer
    pass


class Point(BaseModel):
    as_of_date: date
    value: float | None = None
    status: Status
    error: str | None = None


class History(BaseModel):
    metric_id: str
    unit: str
    days: int
    summary: HistorySummary
    points: list[Point] = Field(description="oldest first")


class MetricList(BaseModel):
    total: int
    more: int = Field(default=0, description="matches left out by `limit`")
    metrics: list[Problem]


class Sources(BaseModel):
    generated_at: datetime
    sources: list[SourceStatus]


class JobSourceResult(BaseModel):
    source: str
    state: str
    rows: int | None = None
    seconds: float | None = None
    error: str | None = None


class JobMetricFailure(BaseModel):
    metric_id: str
    state: str
    error: str | None = None


class Job(BaseModel):
    job_id: int
    state: JobState
    phase: JobPhase | None = None
    done: int | None = None
    total: int | None = None
    current_step: str | None = None
    trigger: str | None = None
    requested_by: str | None = None
    sources: list[JobSourceResult] = Field(default_factory=list, description="per-source ingest results")
    metrics_ok: int = 0
    metrics_failed: list[JobMetricFailure] = Field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    error: str | None = None


class RecomputeAnswer(BaseModel):
    job_id: int
    coalesced: bool = Field(description="true when this request joined a job already running")
    state: JobState
    job: Job | None = Field(default=None, description="the finished job, when wait=true")


class ThresholdsAnswer(BaseModel):
    metric_id: str
    norm_value: float | None = None
    alert_value: float | None = None
    target_value: float | None = None
    target_due_date: date | None = None
    status: Status = Field(description="the colour under the new lines")
    reason: str
    updated_by: str
    updated_at: datetime


class OwnerAnswer(BaseModel):
    metric_id: str
    owner: str | None = None
    updated_by: str
    updated_at: datetime


class VerificationAnswer(BaseModel):
    metric_id: str
    verification_state: str
    updated_by: str
    updated_at: datetime
