"""The entities inside a metric at one as-of moment, from the full key set of its @detail SQL.

The detail SQL is wrapped, not re-run for display: `WITH d AS (<detail>) SELECT key, label, weight, count(*)
OVER (), sum(weight) OVER ()` inside the metric's own point-in-time, read-only transaction. Window totals are
computed over every row before the cap applies, so totals are exact even when more keys than the cap exist.
The rows kept for display (50) play no part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.metrics.entity import EntityKey

DEFAULT_CAP = 10_000
# Postgres type oids a weight may have: int2, int4, int8, float4, float8, numeric.
NUMERIC_OIDS = frozenset({20, 21, 23, 700, 701, 1700})


@dataclass(frozen=True)
class EntityRow:
    key: str
    label: str | None
    weight: float | None
    owner: str | None = None  # the owning entity's key (`entity_owner`), e.g. the client of an invoice


@dataclass(frozen=True)
class EntitySet:
    """The entities at one as-of moment: up to `cap` rows, heaviest first, and exact totals of all of them."""

    type: str
    rows: list[EntityRow] = field(default_factory=list)
    total_count: int = 0
    total_weight: float | None = None
    capped: bool = False
    owner_type: str | None = None  # the type each row's `owner` key is of (`entity_owner`)


def _detail(detail_sql: str) -> sql.Composable:
    return sql.SQL(detail_sql)  # type: ignore[arg-type]  # the metric file's own SQL, run read-only


def entity_query(entity: EntityKey, detail_sql: str, cap: int) -> sql.Composed:
    """The capped, totalled key set of a detail query."""
    d = sql.Identifier("d")
    key = sql.SQL("{}.{}::text").format(d, sql.Identifier(entity.key_column))
    label = (
        sql.SQL("{}.{}::text").format(d, sql.Identifier(entity.label_column))
        if entity.label_column
        else sql.SQL("NULL::text")
    )
    weight = (
        sql.SQL("{}.{}::float8").format(d, sql.Identifier(entity.weight_column))
        if entity.weight_column
        else sql.SQL("NULL::float8")
    )
    owner = (
        sql.SQL("{}.{}::text").format(d, sql.Identifier(entity.owner_column))
        if entity.owner_column
        else sql.SQL("NULL::text")
    )
    return sql.SQL(
        "WITH d AS ({detail}) SELECT {key}, {label}, {weight}, count(*) OVER (), sum({weight}) OVER (), {owner}"
        " FROM d ORDER BY {weight} DESC NULLS LAST, {key} LIMIT {cap}"
    ).format(
        detail=_detail(detail_sql), key=key, label=label, weight=weight, owner=owner, cap=sql.Literal(cap + 1)
    )


def collect(cur: psycopg.Cursor[Any], entity: EntityKey, detail_sql: str, cap: int) -> EntitySet:
    """Run inside an open point-in-time transaction; duplicate keys keep their heaviest row."""
    cur.execute(entity_query(entity, detail_sql, cap))
    return from_rows(entity, cur.fetchall(), cap)


def from_rows(entity: EntityKey, fetched: Sequence[Sequence[Any]], cap: int) -> EntitySet:
    """The set from `entity_query`'s rows (Postgres, or the same query on a warehouse engine)."""
    if not fetched:
        return EntitySet(entity.type, owner_type=entity.owner_type)
    total_count, total_weight = int(fetched[0][3]), fetched[0][4]
    seen: dict[str, EntityRow] = {}
    for key, label, weight, _, _, owner in fetched[:cap]:
        if key is not None and str(key) not in seen:
            seen[str(key)] = EntityRow(
                str(key),
                label,
                None if weight is None else float(weight),
                None if owner is None else str(owner),
            )
    return EntitySet(
        entity.type,
        list(seen.values()),
        total_count,
        None if total_weight is None else float(total_weight),
        capped=len(fetched) > cap,
        owner_type=entity.owner_type,
    )


def describe(cur: psycopg.Cursor[Any], detail_sql: str) -> list[tuple[str, int]]:
    """The detail's columns as (name, type oid), without fetching a row."""
    cur.execute(sql.SQL("SELECT * FROM ({detail}) d LIMIT 0").format(detail=_detail(detail_sql)))
    return [(c.name, c.type_code) for c in cur.description or []]


def duplicate_keys(cur: psycopg.Cursor[Any], entity: EntityKey, detail_sql: str) -> list[tuple[str, int]]:
    """Up to three keys that appear on more than one detail row, with how often."""
    cur.execute(
        sql.SQL(
            "SELECT d.{col}::text, count(*) FROM ({detail}) d GROUP BY 1 HAVING count(*) > 1"
            " ORDER BY 2 DESC, 1 LIMIT 3"
        ).format(col=sql.Identifier(entity.key_column), detail=_detail(detail_sql))
    )
    return [(str(r[0]), int(r[1])) for r in cur.fetchall()]
