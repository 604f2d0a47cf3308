"""The named slots of a cockpit tile (CONTRACTS.md "Cockpit tile slots").

`value` · `reason` · `culprit` · `badges` · `sparkline` · `footer` · `group`: the trusted-screen issue owns
the layout around them; other issues add content only through a slot (entities and incidents fill
`culprit`, incidents fill `group`, each flag's owner gets its badge by adding the flag to the read model).
A slot with nothing in it draws nothing, so today's tiles look as they did before the slots existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup

from heartbeat_core.readmodel import MetricState
from heartbeat_core.readmodel.annotations import FlagKind
from heartbeat_core.readmodel.drivers import driver_culprit
from heartbeat_core.readmodel.entities import culprit_line
from heartbeat_core.readmodel.status import Freshness

Badge = Literal["NEW", "STALE", "SUSPECT", "ACK", "IMPLAUSIBLE", "ERROR"]
BADGES: tuple[Badge, ...] = ("NEW", "STALE", "SUSPECT", "ACK", "IMPLAUSIBLE", "ERROR")  # drawing order
BADGE_OF_FLAG: dict[FlagKind, Badge] = {
    "new_entity": "NEW",
    "stale": "STALE",
    "suspect": "SUSPECT",
    "acknowledged": "ACK",
    "implausible": "IMPLAUSIBLE",
    "error": "ERROR",
}


@dataclass(frozen=True)
class Culprit:
    """Who is behind a red: `named` ("ACME Ltd · 3 invoices · EUR 76.5k") where names may be shown,
    `counted` ("2 clients · EUR 94k") everywhere else; from entities, else from drivers."""

    named: str
    counted: str


@dataclass(frozen=True)
class Reason:
    """Why the tile has its colour, and what may make its number wrong: late sources, a failed compute."""

    text: str
    freshness: Freshness
    stale: str | None  # the freshness reason while the sources are late
    error: str | None  # the last compute's error, raw: the template redacts it


@dataclass(frozen=True)
class Footer:
    """How old the data is and whose metric it is."""

    age: str  # of the sources: "3 h", "never"
    freshness: Freshness
    freshness_reason: str
    owner: str | None  # the owner's name, without the mail domain
    unverified: bool


@dataclass(frozen=True)
class Tile:
    """One metric as the cockpit draws it, slot by slot; `m` stays for the tile's frame (name, colour)."""

    m: MetricState
    value: str
    unit: str
    period: str
    reason: Reason
    sparkline: Markup
    footer: Footer
    culprit: Culprit | None = None
    badges: list[Badge] = field(default_factory=list)
    group: str | None = None  # the incident this tile belongs to: tiles of one incident share a card
    detail: bool = True  # culprit `named` (people, admin, viewers) or `counted` (display keys by default)


@dataclass(frozen=True)
class TileGroup:
    """Tiles drawn as one card: those of one incident (with the incident's headline), or one tile alone."""

    incident_id: str | None
    tiles: list[Tile]
    headline: str | None = None  # the incidents issue supplies it


def reason(m: MetricState) -> Reason:
    return Reason(
        text=m.reason,
        freshness=m.freshness,
        stale=m.freshness_reason if m.freshness != "fresh" else None,
        error=m.error or None,
    )


def footer(m: MetricState, age: str) -> Footer:
    return Footer(
        age=age,
        freshness=m.freshness,
        freshness_reason=m.freshness_reason,
        owner=m.owner.split("@")[0] if m.owner else None,
        unverified=m.verification_state != "verified",
    )


def culprit(m: MetricState) -> Culprit | None:
    """Who is inside a red or amber metric, from its entities, else from its drivers (CONTRACTS.md "Cockpit
    tile slots")."""
    if m.status not in ("red", "amber"):
        return None
    line = culprit_line(m.entities, m.as_of_date) if m.as_of_date is not None else None
    if line is not None:
        return Culprit(named=line.named, counted=line.counted)
    segments = driver_culprit(m.drivers or [], m.unit)
    return Culprit(named=segments[0], counted=segments[1]) if segments else None


def badges(m: MetricState) -> list[Badge]:
    """A badge per kind of flag the read model raised, in one fixed order."""
    raised = {BADGE_OF_FLAG[f.kind] for f in m.flags}
    return [b for b in BADGES if b in raised]


def grouped(tiles: Sequence[Tile], headlines: Mapping[str, str] | None = None) -> list[TileGroup]:
    """The tiles in rank order, those sharing an incident gathered into one group where the first stands,
    with the incident's headline (`CockpitSnapshot.incidents`) when given."""
    groups: list[TileGroup] = []
    by_incident: dict[str, TileGroup] = {}
    for t in tiles:
        if t.group is None:
            groups.append(TileGroup(None, [t]))
        elif t.group in by_incident:
            by_incident[t.group].tiles.append(t)
        else:
            by_incident[t.group] = TileGroup(t.group, [t], (headlines or {}).get(t.group))
            groups.append(by_incident[t.group])
    return groups
