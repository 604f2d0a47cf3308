"""Drivers as the read model shows them (`MetricState.drivers`), and the words every surface uses for them.

Compute stores each metric-day's drivers (`compute.drivers`, the Adtributor set) in `heartbeat.segment_day`
(0015). A red or amber metric shows those of its latest observed day; a green one none (nothing to explain).
Segment values are names ("USD", "c.muller"): a culprit line or a headline names them as it names entities.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, LiteralString

import psycopg

from heartbeat_core.formatting import format_number, format_since, format_value
from heartbeat_core.readmodel.annotations import Driver, Flag

EXPLAINED = ("red", "amber")
NAMES_SHOWN = 3

_LATEST_SQL: LiteralString = """
SELECT DISTINCT ON (metric_id) metric_id, as_of_date, drivers, error
FROM heartbeat.segment_day WHERE metric_id = ANY(%s)
ORDER BY metric_id, as_of_date DESC
"""


def significant(value: float | None, digits: int = 4) -> float | None:
    """A number to `digits` significant digits (98.97999999999999 → 98.98): answers stay short."""
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _has_table(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('heartbeat.segment_day') IS NOT NULL").fetchone()
    return bool(row and row[0])


def latest_segment_days(
    conn: psycopg.Connection[Any], metric_ids: Iterable[str]
) -> dict[str, tuple[date, list[Driver], str | None]]:
    """Each metric's latest segment day: (day, drivers, error of its @segments query)."""
    ids = list(metric_ids)
    if not ids or not _has_table(conn):
        return {}
    found = {}
    for metric_id, day, drivers, error in conn.execute(_LATEST_SQL, (ids,)).fetchall():
        parsed = [
            Driver.model_construct(
                dimension=d["dimension"], segment=d["segment"], value=significant(d.get("value")),
                typical=significant(d.get("typical")), share=round(d["share"], 3),
            )
            for d in drivers or []
        ]  # fmt: skip
        found[metric_id] = (day, parsed, error)
    return found


def attach_drivers(conn: psycopg.Connection[Any], states: Sequence[Any]) -> None:
    """Fill `drivers` of the red and amber metrics from their latest observed day's segments; a metric whose
    latest @segments run failed gets an `error` flag saying so (its value stands: explain and tiles show why
    there are no drivers)."""
    latest = latest_segment_days(conn, [s.metric_id for s in states])
    for state in states:
        day, drivers, error = latest.get(state.metric_id, (None, [], None))
        if state.as_of_date is not None and day != state.as_of_date:
            continue
        if drivers and state.display_state in EXPLAINED:
            state.drivers = drivers
        if error:
            state.flags.append(
                Flag(kind="error", reason=f"@segments failed, no drivers (the value stands): {error}")
            )


def segment_error(conn: psycopg.Connection[Any], metric_id: str) -> str | None:
    """Why the metric's latest @segments run found no segments (None when it ran): explain shows it."""
    found = latest_segment_days(conn, [metric_id]).get(metric_id)
    return found[2] if found else None


# ---------------------------------------------------------------------------------------------------------
# Words


def driver_names(drivers: Sequence[Driver], limit: int = NAMES_SHOWN) -> str:
    """ "USD, GBP, CHF +4 more": segment values are names."""
    names = [d.segment for d in drivers]
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def _typical_of(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def driver_phrase(drivers: Sequence[Driver], unit: str, since: date | None, today: date | None) -> str:
    """ "USD, GBP, CHF +4 more ~10% (typ. 98%) since Nov 29" — the segments, where they are, where they
    usually are, since when."""
    text = driver_names(drivers)
    value, typical = _typical_of(d.value for d in drivers), _typical_of(d.typical for d in drivers)
    if value is not None:
        each = "" if unit in ("pct", "ratio") or len(drivers) == 1 else " each"
        text += f" ~{format_number(value, unit)}{each}"
        if typical is not None:
            text += f" (typ. {format_number(typical, unit)})"
    if since is not None and today is not None:
        text += f" {format_since(since, today)}"
    return text


def lead_typical(state: Any) -> float | None:
    """The lead's typical for a headline: its band when one is in force, else the median of its recent values
    before today (a metric judged by lines alone still has a usual level)."""
    if state.typical_mean is not None:
        return float(state.typical_mean)
    earlier = [v for v in (getattr(state, "sparkline", None) or [])[:-1] if v is not None]
    return statistics.median(earlier) if len(earlier) >= 3 else None


def lead_phrase(state: Any) -> str:
    """ "Outgoing payment approval rate, 24 hours 69% (typ. 97.3%)"."""
    text = f"{state.name} {format_value(state.value, state.unit)}"
    # without a band, the recent level says "usual" only where segments show the move (a red for months
    # has a recent median equal to itself)
    typical = lead_typical(state) if state.typical_mean is not None or state.drivers else None
    if typical is not None:
        text += f" (typ. {format_value(typical, state.unit)})"
    return text


def knock_ons(members: Sequence[Any]) -> str:
    """ "Revenue, last 24 hours and last 7 days down": the other members, a shared name prefix said once,
    with the way they moved against their usual level."""
    if not members:
        return ""
    names = [m.name for m in members]
    heads = {n.split(", ", 1)[0] for n in names}
    if len(names) > 1 and len(heads) == 1 and all(", " in n for n in names):
        shown = f"{heads.pop()}, " + " and ".join(n.split(", ", 1)[1] for n in names[:NAMES_SHOWN])
    else:
        shown = " and ".join(names[:NAMES_SHOWN]) if len(names) <= 2 else ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += f" +{len(names) - NAMES_SHOWN} more"
    moves = {_move(m) for m in members} - {None}
    return shown + (f" {moves.pop()}" if len(moves) == 1 else "")


def _move(state: Any) -> str | None:
    typical = lead_typical(state)
    if state.value is None or typical is None or state.value == typical:
        return None
    return "down" if state.value < typical else "up"


def driver_culprit(drivers: Sequence[Driver], unit: str) -> tuple[str, str] | None:
    """A tile's culprit from drivers when the metric names no entities: `named` "USD, GBP, CHF +4 more · ~9.7%
    (typ. 98.7%)", `counted` "7 currency segments" (segment values are names: a display key sees counts)."""
    if not drivers:
        return None
    named = driver_phrase(drivers, unit, None, None).replace(" ~", " · ~", 1)
    dimensions = sorted({d.dimension for d in drivers})
    noun = "segment" if len(drivers) == 1 else "segments"
    return named, f"{len(drivers)} {'/'.join(dimensions)} {noun}"
