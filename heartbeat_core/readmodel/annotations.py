"""What the read model says about a metric beyond its colour: flags, entities, drivers, incident and
acknowledgement (the shared shapes of CONTRACTS.md).

Each field has one owner that fills it in (entities, incidents, the trusted screen, data tests); until
then it is empty. Every surface serialises these models as they are, so an MCP answer, `/api/cockpit`,
`status --json` and an alert agree field by field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

FlagKind = Literal["stale", "suspect", "implausible", "acknowledged", "new_entity", "error"]


class Flag(BaseModel):
    """A qualifier shown beside the colour, never instead of it (a red with stale data is red + STALE)."""

    kind: FlagKind
    reason: str
    since: datetime | None = None


class EntityRef(BaseModel):
    """An entity (client, payment) in a metric."""

    key: str
    label: str | None = None
    weight: float | None = None
    since: date | None = None
    new: bool = False


class EntitySummary(BaseModel):
    """Who is in a metric: exact totals of the full key set, the top, the new."""

    type: str
    total_count: int
    total_weight: float | None = None
    weight_unit: str | None = None  # how a weight reads (`money:EUR`); None: a plain number
    top: list[EntityRef] = Field(default_factory=list)
    new_since_previous_day: list[EntityRef] = Field(default_factory=list)


class Driver(BaseModel):
    """A segment (`dimension=segment`) that explains a share of a metric's deviation from its typical."""

    dimension: str
    segment: str
    value: float | None = None
    typical: float | None = None
    share: float


class Acknowledgement(BaseModel):
    """Someone has seen this subject (a metric or an entity) and owns it until `until`."""

    by: str
    note: str | None = None
    until: datetime | None = None
    subject: str
