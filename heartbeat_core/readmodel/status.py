"""The status contract: colour, freshness and ranking, decided here and nowhere else.

Pure functions over plain values. The cockpit, MCP tools and alerts all call these, so an alert can
never disagree with the TV. Priority: alert line → red; norm line → amber; z against the typical band
(bad direction: amber/red; either direction beyond `z_implausible`: amber "implausibly high/low"); else green. A line is crossed when it is reached or passed, in the metric's bad direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from heartbeat_core.formatting import format_duration, format_number
from heartbeat_core.metrics.definition import Direction, Period, TypicalOptions
from heartbeat_core.readmodel.annotations import Flag

if TYPE_CHECKING:  # annotation only: the registry module reads the database
    from heartbeat_core.metrics.registry import Band

Status = Literal["red", "amber", "green", "no_data"]
Freshness = Literal["fresh", "amber", "red"]
# What a screen may show (CONTRACTS.md): stale data is never drawn green, a red stays red.
DisplayState = Literal["red", "amber", "green", "stale", "no_data", "error"]

# Which line (or z band) a non-green status crossed; None when none was.
# `z_implausible`: a move in the good direction too large to believe (a duplicated load, a broken join).
Crossed = Literal["alert", "norm", "z_red", "z_amber", "z_implausible"]

STATUSES: tuple[Status, ...] = ("red", "amber", "green", "no_data")

# The sanity band also wants a material move: beyond `z_implausible` σ *and* this share off typical. A tight
# (robust) band makes a 5 % wobble of a small count "4σ"; no business explains revenue up 30 % overnight, but
# plenty explain 6 % more clients. Measured on the alert-quality replay (bench/RESULTS.md, "Data tests").
IMPLAUSIBLE_MIN_MOVE = 0.3


def _material(value: float, mean: float) -> bool:
    return mean == 0 or abs(value - mean) >= IMPLAUSIBLE_MIN_MOVE * abs(mean)


# Age past which a metric's sources are amber / red, by period. 7d sits between 24h and 30d.
FRESHNESS_LIMITS: dict[Period, tuple[timedelta, timedelta]] = {
    "24h": (timedelta(hours=36), timedelta(hours=72)),
    "7d": (timedelta(days=3), timedelta(days=7)),
    "30d": (timedelta(days=7), timedelta(days=14)),
    "funnel": (timedelta(days=7), timedelta(days=14)),
    "snapshot": (timedelta(hours=24), timedelta(hours=48)),
}


@dataclass(frozen=True)
class StatusResult:
    status: Status
    reason: str
    crossed: Crossed | None = None
    z: float | None = None
    distance: float = 0.0  # how far past the crossed line, relative; ranks within a colour


@dataclass(frozen=True)
class FreshnessResult:
    freshness: Freshness
    reason: str
    age_s: float | None


def _bad_side(value: float, line: float, direction: Direction) -> bool:
    """True when `value` reached or passed `line` in the bad direction."""
    return value >= line if direction == "lower_is_better" else value <= line


def _relative_excess(value: float, line: float, direction: Direction) -> float:
    excess = value - line if direction == "lower_is_better" else line - value
    return excess / max(abs(line), 1.0)


def resolve_status(
    value: float | None,
    direction: Direction,
    *,
    norm: float | None = None,
    alert: float | None = None,
    typical_mean: float | None = None,
    typical_stddev: float | None = None,
    z_amber: float = 1.0,
    z_red: float = 2.0,
    z_implausible: float | None = None,
    unit: str = "count",
    typical_label: str = "typical",
    error: str | None = None,
) -> StatusResult:
    """The colour of one value under the contract, with a one-line human reason."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        reason = f"no value: {error}" if error else "no value computed yet"
        return StatusResult("no_data", reason)
    shown = format_number(value, unit)
    if alert is not None and _bad_side(value, alert, direction):
        sign = "≥" if direction == "lower_is_better" else "≤"
        return StatusResult(
            "red",
            f"{shown} {sign} alert line {format_number(alert, unit)}",
            "alert",
            distance=_relative_excess(value, alert, direction) + 1.0,
        )
    if norm is not None and _bad_side(value, norm, direction):
        sign = "≥" if direction == "lower_is_better" else "≤"
        return StatusResult(
            "amber",
            f"{shown} {sign} norm line {format_number(norm, unit)}",
            "norm",
            distance=_relative_excess(value, norm, direction),
        )
    z = z_score(value, typical_mean, typical_stddev)
    if z is not None and typical_mean is not None and typical_stddev is not None:
        band = f"{typical_label} {format_number(typical_mean, unit)} ± {format_number(typical_stddev, unit)}"
        text = f"z = {format_z(z)} vs {band}"
        # Only the bad direction of an unusual value is a problem; a good surprise stays green.
        bad = z > 0 if direction == "lower_is_better" else z < 0
        if abs(z) >= z_red and bad:
            return StatusResult("red", text, "z_red", z, abs(z) - z_red)
        if abs(z) >= z_amber and bad:
            return StatusResult("amber", text, "z_amber", z, abs(z) - z_amber)
        if (
            z_implausible is not None
            and abs(z) >= z_implausible
            and not bad
            and _material(value, typical_mean)
        ):
            return StatusResult(
                "amber", implausible_reason(z, text), "z_implausible", z, abs(z) - z_implausible
            )
        return StatusResult("green", text, None, z)
    if alert is not None or norm is not None:
        line, name = (norm, "norm") if norm is not None else (alert, "alert")
        assert line is not None
        word = "below" if direction == "lower_is_better" else "above"
        return StatusResult("green", f"{shown} {word} {name} line {format_number(line, unit)}")
    return StatusResult("green", f"{shown}; no lines or typical band set")


def judge(
    value: float | None,
    direction: Direction,
    unit: str,
    *,
    norm: float | None,
    alert: float | None,
    band: Band | None,
    options: TypicalOptions,
    error: str | None = None,
) -> StatusResult:
    """The status contract for one metric value: its lines, the typical band in force (from
    `metrics.registry.band_in_force`, or None) and the metric's z bands and window from `options`.

    The one entry point: the live snapshot, compute's recorded status and typical's re-scoring all call it,
    so a value gets the same colour and reason wherever it is judged.
    """
    return resolve_status(
        value,
        direction,
        norm=norm,
        alert=alert,
        typical_mean=band.mean if band is not None else None,
        typical_stddev=band.stddev if band is not None else None,
        z_amber=options.z_amber,
        z_red=options.z_red,
        z_implausible=options.z_implausible,
        unit=unit,
        typical_label=f"{options.window_days}-day typical",
        error=error,
    )


def implausible_reason(z: float, band_text: str) -> str:
    """The sanity band's reason, worded apart from the bad-direction rule so screens and alerts say which."""
    side = "high" if z > 0 else "low"
    return f"implausibly {side} vs typical: check the data ({band_text})"


def implausible_flags(crossed: Crossed | None, reason: str, since: datetime | None) -> list[Flag]:
    """The IMPLAUSIBLE mark beside an amber that the sanity band (not the bad direction) turned amber."""
    return [Flag(kind="implausible", reason=reason, since=since)] if crossed == "z_implausible" else []


def z_score(value: float, mean: float | None, stddev: float | None) -> float | None:
    if mean is None or stddev is None or not stddev > 0:
        return None
    return (value - mean) / stddev


def format_z(z: float) -> str:
    return f"{z:+.1f}".replace("-", "−")


def target_hit(status: Status, value: float | None, direction: Direction, target: float | None) -> bool:
    """Green and at or beyond the target: display only, never changes the colour."""
    if status != "green" or value is None or target is None:
        return False
    return value <= target if direction == "lower_is_better" else value >= target


def resolve_freshness(period: Period, source_as_of: datetime | None, now: datetime) -> FreshnessResult:
    """How old the landed data behind a value is, judged separately from its colour."""
    amber_after, red_after = FRESHNESS_LIMITS.get(period, FRESHNESS_LIMITS["24h"])  # 24h if unknown
    if source_as_of is None:
        return FreshnessResult("red", "no completed load of its sources", None)
    age = now - source_as_of
    age_s = max(age.total_seconds(), 0.0)
    shown = format_duration(age_s)
    if age > red_after:
        return FreshnessResult(
            "red", f"sources {shown} old (red after {format_duration(red_after.total_seconds())})", age_s
        )
    if age > amber_after:
        return FreshnessResult(
            "amber",
            f"sources {shown} old (amber after {format_duration(amber_after.total_seconds())})",
            age_s,
        )
    return FreshnessResult("fresh", f"sources {shown} old", age_s)


_FRESHNESS_RANK: dict[Freshness, int] = {"red": 0, "amber": 1, "fresh": 2}
# CONTRACTS.md: tiles and `what_is_red` rank red, amber, stale, error, no_data, green
DISPLAY_ORDER: tuple[DisplayState, ...] = ("red", "amber", "stale", "error", "no_data", "green")
_DISPLAY_RANK: dict[DisplayState, int] = {state: n for n, state in enumerate(DISPLAY_ORDER)}


def rank_key(
    status: Status,
    freshness: Freshness,
    distance: float,
    verified: bool,
    name: str = "",
    crossed: Crossed | None = None,
    *,
    has_value: bool | None = None,
    error: str | None = None,
) -> tuple[int, int, int, float, int, str]:
    """Sort key for "what should I look at first": by display state (red, amber, stale, error, no data,
    green); within one a crossed line (an owner's commitment: SLA, regulatory cap) before an unusual
    z-score, staler before fresher, then how far past the line, verified before unverified."""
    value_known = status != "no_data" if has_value is None else has_value
    bucket = _DISPLAY_RANK[display_state(status, freshness, value_known, error)]
    line_rank = 0 if crossed in ("alert", "norm") else 1
    return (bucket, line_rank, _FRESHNESS_RANK[freshness], -distance, 0 if verified else 1, name)


def display_state(status: Status, freshness: Freshness, has_value: bool, error: str | None) -> DisplayState:
    """The contract's precedence: no value with an error → error; no value → no_data; red stays red (stale
    data adds a flag); sources past the red freshness limit → stale; amber → amber; else green."""
    if not has_value:
        return "error" if error else "no_data"
    if status == "red":
        return "red"
    if freshness == "red":
        return "stale"
    if status == "amber":
        return "amber"
    return "green"


def display_flags(
    freshness: Freshness, freshness_reason: str, has_value: bool, error: str | None, since: datetime | None
) -> list[Flag]:
    """The qualifiers beside the display state: late sources (past the amber limit, so a red or an amber
    keeps its colour with a STALE mark) and a kept value whose latest compute failed (ERROR mark)."""
    flags = []
    if freshness != "fresh":
        flags.append(Flag(kind="stale", reason=freshness_reason, since=since))
    if has_value and error:
        flags.append(Flag(kind="error", reason=f"last compute failed: {error}"))
    return flags


def needs_attention(status: Status, freshness: Freshness) -> bool:
    return status in ("red", "amber") or freshness != "fresh"
