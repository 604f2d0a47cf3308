"""`transpiles`: every section carries over to the warehouse engines (sqlglot), or has its override.

In warehouse mode (`HEARTBEAT_WAREHOUSE_URL` set) a section that does not transpile to the configured engine
and has no `-- @section[engine]` override fails the gate, naming the construct and the override to write; the
other engines are reported beside it. Without a warehouse the check passes and only reports, so an author
sees which metrics would need an override before anyone moves the marts.
"""

from __future__ import annotations

from heartbeat_core.compute.binding import nominal_moments
from heartbeat_core.metrics.gate.context import GateContext
from heartbeat_core.metrics.gate.report import Outcome, failed, passed
from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse.config import parse_url
from heartbeat_core.warehouse.transpile import SECTIONS, TranspileError, for_engine

ENGINES = ("duckdb", "clickhouse")


def problems(ctx: GateContext, engine: str) -> list[TranspileError]:
    """The sections that do not carry over to `engine` (an override counts as carrying over)."""
    moments = nominal_moments(ctx.now, ctx.tz, ctx.metric.period)  # type: ignore[arg-type]  # a ZoneInfo from settings
    found = []
    for section in SECTIONS:
        try:
            for_engine(ctx.metric, section, engine, moments, ctx.tz)  # type: ignore[arg-type]
        except TranspileError as exc:
            found.append(exc)
    return found


def transpiles(ctx: GateContext) -> Outcome:
    url = get_settings().warehouse_url
    target = parse_url(url).engine if url else None
    engines = tuple(dict.fromkeys([*((target,) if target else ()), *ENGINES]))
    found = {engine: problems(ctx, engine) for engine in engines}
    overrides = sorted(ctx.metric.engine_sql)
    data = {
        "engines": {e: [str(p) for p in probs] for e, probs in found.items()},
        "overrides": overrides,
    }
    if target and found.get(target):
        first = found[target][0]
        return failed(
            "; ".join(str(p) for p in found[target]),
            fix=f"add a section `{first.override}` with the {target} query (docs/scale-out.md)",
            data=data,
        )
    needing = [
        f"{e}: " + ", ".join(f"@{p.section} ({p.construct})" for p in probs)
        for e, probs in found.items()
        if probs
    ]
    evidence = "transpiles to " + ", ".join(e for e in engines if not found[e])
    if overrides:
        evidence += f"; engine overrides: {', '.join(overrides)}"
    if needing:
        evidence += "; would need an override on " + "; ".join(needing)
    return passed(evidence, data=data)
