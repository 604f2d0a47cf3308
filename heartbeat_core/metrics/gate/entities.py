"""The `entity_keys` check: the declared entity columns exist in the @detail rows, the key is unique per
row, and the weight is numeric; a failure names the file and the header line of `-- entity:`."""

from __future__ import annotations

import psycopg

from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.compute.entities import NUMERIC_OIDS, describe, duplicate_keys
from heartbeat_core.metrics.entity import EntityKey
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run


def _column_problems(entity: EntityKey, columns: list[tuple[str, int]]) -> list[str]:
    names = {name: oid for name, oid in columns}
    shown = ", ".join(names) or "no columns"
    problems = [
        f"{role} column {column!r} is not in the @detail rows (expected one of: {shown})"
        for role, column in (
            ("key", entity.key_column),
            ("label", entity.label_column),
            ("weight", entity.weight_column),
            ("owner", entity.owner_column),
        )
        if column and column not in names
    ]
    weight = entity.weight_column
    if weight and weight in names and names[weight] not in NUMERIC_OIDS:
        problems.append(f"weight column {weight!r} is not numeric (expected an integer or numeric column)")
    return problems


def entity_keys(ctx: GateContext) -> Outcome:
    entity = ctx.parsed.entity
    detail_sql = ctx.parsed.detail_sql
    if entity is None or not detail_sql:
        return passed("no entity declared")
    if ctx.once(value_run).error is not None:
        return skipped("the value SQL did not run")
    where = f"{ctx.parsed.path}:{entity.line}"
    try:
        with ctx.conn.transaction():
            detail_sql = begin_point_in_time(ctx.conn, ctx.metric, ctx.now).bind(detail_sql)
            with ctx.conn.cursor() as cur:
                problems = _column_problems(entity, describe(cur, detail_sql))
                duplicates = [] if problems else duplicate_keys(cur, entity, detail_sql)
    except psycopg.Error as exc:
        message = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
        return failed(f"{where}: the @detail did not run for the entity check: {message}")
    if problems:
        return failed(f"{where}: " + "; ".join(problems), fix="name columns the @detail SELECT returns")
    if duplicates:
        listed = ", ".join(f"{key} ({count} rows)" for key, count in duplicates)
        return failed(
            f"{where}: key column {entity.key_column!r} is not unique per @detail row: {listed}"
            " (expected one row per entity)",
            fix=f"group the @detail by {entity.key_column} so each {entity.type} is one row",
        )
    roles = ", ".join(
        f"{role} {column}"
        for role, column in (
            ("label", entity.label_column),
            ("weight", entity.weight_column),
            ("owner", f"{entity.owner_type}:{entity.owner_column}" if entity.owner_column else None),
        )
        if column
    )
    return passed(
        f"{entity.type} keyed by {entity.key_column} (unique per row){'; ' + roles if roles else ''}"
    )
