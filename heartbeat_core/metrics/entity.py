"""The entity a metric's detail rows list: `-- entity: client:client_id`, `-- entity_label: client`,
`-- entity_weight: amount` (CONTRACTS.md "Entities and segments"), and optionally who owns it:
`-- entity_owner: client:client_id` (an invoice belongs to a client).

The type is shared across metrics (a client is a client in every metric), so acknowledging `client:42`
covers every metric that lists client 42 — and, through `entity_owner`, every invoice of client 42. The declaration is parsed here, checked against the detail by the
gate (`metrics.gate.entities`) and stored in the registry as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ENTITY_KEYS = ("entity", "entity_label", "entity_weight", "entity_weight_unit", "entity_owner")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EntityKey:
    """Which column of the detail identifies an entity of `type`, and which give its label and weight."""

    type: str
    key_column: str
    label_column: str | None = None
    weight_column: str | None = None
    line: int = 0
    weight_unit: str | None = None  # a metric unit (`money:EUR`); default: the metric's unit when it is money
    # `entity_owner: client:client_id`: the type that owns each row's entity, and the column holding its key
    owner_type: str | None = None
    owner_column: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "key": self.key_column,
            "label": self.label_column,
            "weight": self.weight_column,
            "line": self.line,
            "weight_unit": self.weight_unit,
            "owner_type": self.owner_type,
            "owner": self.owner_column,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> EntityKey | None:
        if not data:
            return None
        return cls(
            type=str(data["type"]),
            key_column=str(data["key"]),
            label_column=data.get("label"),
            weight_column=data.get("weight"),
            line=int(data.get("line") or 0),
            weight_unit=data.get("weight_unit"),
            owner_type=data.get("owner_type"),
            owner_column=data.get("owner"),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """The detail columns the declaration names, key first."""
        return tuple(
            c for c in (self.key_column, self.label_column, self.weight_column, self.owner_column) if c
        )


def parse_entity(
    values: dict[str, tuple[str, int]],
) -> tuple[EntityKey | None, list[tuple[int, str]]]:
    """The declaration from the header values `{key: (value, line)}`; problems as (line, message)."""
    problems: list[tuple[int, str]] = []
    raw, line = values.get("entity", ("", 0))
    for extra in ENTITY_KEYS[1:]:
        if extra in values and not raw:
            problems.append((values[extra][1], f"{extra} needs an `-- entity: <type>:<key column>` line"))
    if not raw:
        return None, problems
    parsed = _type_and_column("entity", raw, line, problems)
    if parsed is None:
        return None, problems
    entity_type, column = parsed
    optional: dict[str, str | None] = {}
    for extra in ("entity_label", "entity_weight"):
        value, at = values.get(extra, ("", 0))
        if value and not _COLUMN.match(value):
            problems.append((at, f"{extra} {value!r} is not a column name (expected e.g. `amount`)"))
            value = ""
        optional[extra] = value or None
    weight_unit = values.get("entity_weight_unit", ("", 0))[0] or None
    owner_type, owner_column = _owner(values, entity_type, problems)
    entity = EntityKey(
        entity_type, column, optional["entity_label"], optional["entity_weight"], line, weight_unit,
        owner_type, owner_column,
    )  # fmt: skip
    return entity, problems


def _owner(
    values: dict[str, tuple[str, int]], entity_type: str, problems: list[tuple[int, str]]
) -> tuple[str | None, str | None]:
    """`entity_owner: client:client_id`: the owning type and the detail column holding its key."""
    raw, at = values.get("entity_owner", ("", 0))
    parsed = _type_and_column("entity_owner", raw, at, problems) if raw else None
    if parsed is None:
        return None, None
    owner_type, column = parsed
    if owner_type == entity_type:
        problems.append((at, f"entity_owner {raw!r}: an entity cannot own itself (expected another type)"))
        return None, None
    return owner_type, column


def _type_and_column(
    key: str, raw: str, line: int, problems: list[tuple[int, str]]
) -> tuple[str, str] | None:
    """`<type>:<key column>` of an `entity` or `entity_owner` header, or a problem naming the line."""
    entity_type, sep, column = (part.strip() for part in raw.partition(":"))
    if not sep or not _NAME.match(entity_type) or not _COLUMN.match(column):
        problems.append(
            (line, f"{key} {raw!r} is not `<type>:<key column>` (expected e.g. `client:client_id`)")
        )
        return None
    return entity_type, column
