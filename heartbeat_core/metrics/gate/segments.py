"""The `segment_rows` check: a `@segments` section returns `dimension, segment, value` plus `numerator,
denominator` or `weight`, at most `SEGMENT_CAP` segments per dimension, under the gate's time limit; a failure
names the file and the line of the section. Compute never lets a failing @segments block the value; the gate
stops it before it ships."""

from __future__ import annotations

import time

import psycopg

from heartbeat_core.compute import segments as segment_sets
from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed, skipped
from heartbeat_core.metrics.gate.value import value_run

_FIX = (
    "SELECT 'currency' AS dimension, currency AS segment, <value> AS value, plus numerator, denominator "
    "(a rate) or weight (a sum or count), grouped by the segment"
)


def segment_rows(ctx: GateContext) -> Outcome:
    segments_sql = ctx.parsed.segments_sql
    if not segments_sql:
        return passed("no @segments section")
    if ctx.once(value_run).error is not None:
        return skipped("the value SQL did not run")
    where = f"{ctx.parsed.path}:{ctx.parsed.section_lines.get('segments', 1)}"
    started = time.perf_counter()
    try:
        with ctx.conn.transaction():
            moments = begin_point_in_time(ctx.conn, ctx.metric, ctx.now)
            with ctx.conn.cursor() as cur:
                found = segment_sets.collect(cur, moments.bind(segments_sql))
    except psycopg.Error as exc:
        message = (exc.diag.message_primary or str(exc)).strip().splitlines()[0]
        return failed(f"{where}: @segments did not run: {message}")
    except segment_sets.SegmentShapeError as exc:
        return failed(f"{where}: {exc}", fix=_FIX)
    seconds = time.perf_counter() - started
    if found.problems:
        return failed(f"{where}: " + "; ".join(found.problems))
    if seconds >= ctx.limits.time_limit_s:  # compute runs it on every metric-day of a backfill's recent days
        return failed(
            f"{where}: @segments took {seconds:.2f} s ≥ {ctx.limits.time_limit_s:g} s on the live data",
            fix="bound the scan like @value does (the window's rows, indexed columns)",
        )
    dimensions = sorted({r.dimension for r in found.rows})
    clash = sorted(set(dimensions) & _entity_types(ctx))
    if clash:
        return failed(
            f"{where}: dimension {', '.join(clash)} is also an entity type (a dimension is declared once: an"
            " entity type or a segment dimension, never both)",
            fix="name the dimension differently, or keep it as the metric's entity",
        )
    listed = ", ".join(f"{d} ({sum(r.dimension == d for r in found.rows)})" for d in dimensions)
    return passed(f"{found.kind} segments: {listed or 'none now'}; @segments took {seconds:.3f} s")


def _entity_types(ctx: GateContext) -> set[str]:
    """Entity types declared by this file and by the registered metrics (none before the first sync)."""
    types = {ctx.parsed.entity.type} if ctx.parsed.entity else set()
    try:
        with ctx.conn.transaction():
            rows = ctx.conn.execute(
                "SELECT DISTINCT entity ->> 'type' FROM heartbeat.metric_registry"
                " WHERE entity IS NOT NULL AND retired_at IS NULL AND metric_id <> %s",
                (ctx.parsed.metric_id,),
            ).fetchall()
    except psycopg.Error:
        return types
    return types | {str(r[0]) for r in rows if r[0]}
