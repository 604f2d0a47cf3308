"""Drivers: the few segments that explain most of a metric's deviation from its typical (Adtributor family).

Bhagwan et al., "Adtributor: Revenue Debugging in Advertising Systems" (NSDI 2014), scored three ways:
- **explanatory power** (EP): the share of the metric's deviation that this one segment accounts for. For a sum,
  `(a_i − f_i) / (A − F)`. For a rate `N / D` (the paper's "derived measure"), the additive shift-share split of
  `A − F`: the segment's own rate move at today's volume, `w_i·(r_i − r0_i)`, plus its change of volume share
  weighted by how far its usual rate sits from the metric's, `(w_i − w0_i)·(r0_i − F)` (w: share of the
  denominator, r: the segment's rate, 0: typical). The shares of all segments add up to exactly 1, so "80 % of
  the deviation" means what it says, and a segment that only lost volume at a normal rate explains little;
- **surprise**: how unlike its typical a segment's own move is, as a Jensen–Shannon divergence — of its share of
  the total for a sum; of its own rate (a two-outcome distribution) plus its share of the volume for a rate,
  so a currency whose approvals fell from 98 % to 10 % outranks one that slipped from 98 % to 92 %;
- **succinctness**: per dimension, the segments in order of surprise, each explaining at least `ep_min` and
  outside its own band (|z| ≥ 2 against the segment's own median and MAD: a healthy segment's noise is not a
  driver), until together they explain `ep_total` — the smallest set explaining most of it; the dimension
  whose set is the most surprising wins; a best set explaining under `EP_ACCEPT` is no answer.

Each segment's typical is its own robust band (median over the metric's typical window, same weekday when the
metric is seasonal: `readmodel.typical`'s baseline), from the stored segment values of earlier days.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.readmodel.typical import stats, window_values

EP_TOTAL = 0.8  # "most of the deviation"
EP_MIN = 0.05  # a segment explaining less is not a driver
EP_ACCEPT = 0.3  # a set explaining less than this is no answer
Z_MIN = 2.0  # a segment within 2σ of its own band moved by noise
MAX_DRIVERS = 10
MIN_HISTORY_DAYS = 3
EPSILON = 1e-12


class Segment(Protocol):
    @property
    def dimension(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def numerator(self) -> float | None: ...
    @property
    def denominator(self) -> float | None: ...
    @property
    def weight(self) -> float | None: ...


@dataclass(frozen=True)
class Driver:
    dimension: str
    segment: str
    value: float | None
    typical: float | None
    share: float
    surprise: float

    def as_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "segment": self.segment,
            "value": self.value,
            "typical": self.typical,
            "share": round(self.share, 4),
            "surprise": round(self.surprise, 6),
        }


@dataclass(frozen=True)
class Observation:
    """One segment today (`actual`) beside its typical (`forecast`): (numerator, denominator) for a rate,
    (weight, 1) for a sum."""

    dimension: str
    segment: str
    actual: tuple[float, float]
    forecast: tuple[float, float]
    value: float | None
    typical: float | None
    # today's move in σ of the segment's own band (a rate: of its rate); None: no band to judge by
    z: float | None = None

    @property
    def significant(self) -> bool:
        """The segment's own move is outside its band (noise of a healthy segment is not a driver)."""
        return self.z is None or abs(self.z) >= Z_MIN


def js_term(p: float, q: float) -> float:
    """One outcome's part of the Jensen–Shannon divergence between p and q (natural log; 0 ≤ term)."""
    m = (p + q) / 2
    if m <= 0:
        return 0.0
    left = p * math.log(p / m) if p > 0 else 0.0
    right = q * math.log(q / m) if q > 0 else 0.0
    return max(0.0, 0.5 * (left + right))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if abs(denominator) > EPSILON else None


def explanatory_power(
    rate: bool, obs: Observation, total_a: tuple[float, float], total_f: tuple[float, float]
) -> float:
    """The share of the deviation this segment explains (negative: it moved the other way)."""
    (a_n, a_d), (f_n, f_d) = obs.actual, obs.forecast
    if not rate:
        deviation = total_a[0] - total_f[0]
        return (a_n - f_n) / deviation if abs(deviation) > EPSILON else 0.0
    big_a, big_f = _ratio(*total_a), _ratio(*total_f)
    if big_a is None or big_f is None or abs(big_a - big_f) <= EPSILON:
        return 0.0
    weight, usual_weight = _share(a_d, total_a[1]), _share(f_d, total_f[1])
    usual_rate = _ratio(f_n, f_d)
    usual_rate = big_f if usual_rate is None else usual_rate  # a new segment: the metric's usual rate
    own_rate = _ratio(a_n, a_d)
    rate_effect = weight * ((usual_rate if own_rate is None else own_rate) - usual_rate)
    mix_effect = (weight - usual_weight) * (usual_rate - big_f)
    return (rate_effect + mix_effect) / (big_a - big_f)


def surprise(
    rate: bool, obs: Observation, total_a: tuple[float, float], total_f: tuple[float, float]
) -> float:
    """Jensen–Shannon surprise of the segment's own move (see the module docstring)."""
    (a_n, a_d), (f_n, f_d) = obs.actual, obs.forecast
    if not rate:
        return js_term(_share(f_n, total_f[0]), _share(a_n, total_a[0]))
    volume = js_term(_share(f_d, total_f[1]), _share(a_d, total_a[1]))
    r_a, r_f = _ratio(a_n, a_d), _ratio(f_n, f_d)
    if r_a is not None and r_f is not None and 0 <= r_a <= 1 and 0 <= r_f <= 1:
        return volume + js_term(r_f, r_a) + js_term(1 - r_f, 1 - r_a)
    return volume + js_term(_share(f_n, total_f[0]), _share(a_n, total_a[0]))


def _share(part: float, total: float) -> float:
    return part / total if abs(total) > EPSILON else 0.0


def rank(
    observations: Sequence[Observation],
    rate: bool,
    *,
    ep_total: float = EP_TOTAL,
    ep_min: float = EP_MIN,
    max_drivers: int = MAX_DRIVERS,
) -> list[Driver]:
    """The Adtributor set: per dimension the surprising segments that together explain `ep_total`; the
    dimension with the most surprising set wins (else the one explaining most). Largest share first."""
    by_dimension: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        by_dimension[obs.dimension].append(obs)
    best: tuple[bool, float, list[Driver]] | None = None
    for members in by_dimension.values():
        chosen = _explain(members, rate, ep_total, ep_min, max_drivers)
        explained = sum(d.share for d in chosen)
        key = (explained >= ep_total, sum(d.surprise for d in chosen) if explained >= ep_total else explained)
        if chosen and (best is None or key > best[:2]):
            best = (*key, chosen)
    if best is None or sum(d.share for d in best[2]) < EP_ACCEPT:
        return []
    return sorted(best[2], key=lambda d: -d.share)


def _explain(
    members: Sequence[Observation], rate: bool, ep_total: float, ep_min: float, max_drivers: int
) -> list[Driver]:
    total_a = (sum(o.actual[0] for o in members), sum(o.actual[1] for o in members))
    total_f = (sum(o.forecast[0] for o in members), sum(o.forecast[1] for o in members))
    scored = [
        Driver(o.dimension, o.segment, o.value, o.typical, explanatory_power(rate, o, total_a, total_f),
               surprise(rate, o, total_a, total_f))
        for o in members if o.significant
    ]  # fmt: skip
    scored.sort(key=lambda d: (-d.surprise, -d.share, d.segment))
    chosen: list[Driver] = []
    for driver in scored:
        if driver.share < ep_min:
            continue
        chosen.append(driver)
        if sum(d.share for d in chosen) >= ep_total or len(chosen) >= max_drivers:
            break
    return chosen


def observations(
    rate: bool,
    today: Iterable[Segment],
    history: Iterable[tuple[date, Segment]],
    day: date,
    options: TypicalOptions,
    days: Iterable[date] | None = None,
) -> list[Observation]:
    """Today's segments beside their typical. `days` are the earlier days the segments were computed on (a
    day without rows is a day every segment was 0; default: the days `history` holds rows for). A segment
    absent on a day counts 0 that day; one seen in the window but absent today is there with 0 (a reviewer
    who completed nothing is the story). Empty when fewer than MIN_HISTORY_DAYS days are known."""
    past: dict[tuple[str, str], dict[date, Segment]] = defaultdict(dict)
    for seen, row in history:
        past[(row.dimension, row.segment)][seen] = row
    known = sorted(set(days) if days is not None else {seen for by_day in past.values() for seen in by_day})
    known = [d for d in known if d < day]
    if len(known) < MIN_HISTORY_DAYS:
        return []
    band = TypicalOptions(
        window_days=options.window_days, seasonality=options.seasonality, robust=True, min_points=1
    )
    present = list(today)
    keys = {(row.dimension, row.segment) for row in present}
    absent = [_Zero(dimension, segment, rate) for dimension, segment in sorted(set(past) - keys)]
    return [
        _observe(rate, row, past.get((row.dimension, row.segment), {}), known, day, band)
        for row in [*present, *absent]
    ]


@dataclass(frozen=True)
class _Zero:
    """A segment seen on earlier days and absent today: nothing today."""

    dimension: str
    segment: str
    rate: bool

    @property
    def value(self) -> float | None:
        return None if self.rate else 0.0

    numerator = denominator = weight = property(lambda self: 0.0)


def _band(
    series: Sequence[tuple[date, float | None]], day: date, band: TypicalOptions
) -> tuple[float, float] | None:
    """(median, MAD σ) of the segment's series in the window before `day`."""
    found = stats(window_values(series, day, band), robust=True)
    return (found.mean, found.stddev) if found is not None else None


def _z(actual: float | None, band: tuple[float, float] | None) -> float | None:
    if actual is None or band is None:
        return None
    centre, spread = band
    if spread > EPSILON:
        return (actual - centre) / spread
    return 0.0 if abs(actual - centre) <= EPSILON else math.copysign(math.inf, actual - centre)


def _observe(
    rate: bool, row: Segment, by_day: dict[date, Segment], days: list[date], day: date, band: TypicalOptions
) -> Observation:
    """One segment today beside its typical: numerator and denominator each from their own robust band."""
    pairs: list[tuple[date, tuple[float, float] | None]] = [
        (d, _pair(rate, by_day[d]) if d in by_day else None) for d in days
    ]
    values: list[tuple[date, float | None]] = [
        (d, by_day[d].value if d in by_day else (None if rate else 0.0)) for d in days
    ]
    actual = _pair(rate, row)
    if rate:
        sizes: list[tuple[date, float | None]] = [(d, p[1] if p else 0.0) for d, p in pairs]
        ratios: list[tuple[date, float | None]] = [(d, _ratio(*p) if p else None) for d, p in pairs]
        size, ratio = _band(sizes, day, band), _band(ratios, day, band)
        volume = size[0] if size else 0.0
        forecast = (volume * ratio[0] if ratio else 0.0, volume)
        z = _z(_ratio(*actual), ratio)
    else:
        weights: list[tuple[date, float | None]] = [(d, p[0] if p else 0.0) for d, p in pairs]
        weight = _band(weights, day, band)
        forecast = (weight[0] if weight else 0.0, 1.0)
        z = _z(actual[0], weight)
    typical = _band(values, day, band)
    return Observation(
        row.dimension, row.segment, actual, forecast, row.value, typical[0] if typical else None, z
    )


def _pair(rate: bool, row: Segment) -> tuple[float, float]:
    if rate:
        return (row.numerator or 0.0, row.denominator or 0.0)
    weight = row.weight if row.weight is not None else row.value
    return (weight or 0.0, 1.0)


def find_drivers(
    kind: str,
    today: Sequence[Segment],
    history: Iterable[tuple[date, Segment]],
    day: date,
    options: TypicalOptions,
    days: Iterable[date] | None = None,
) -> list[Driver]:
    """The drivers of one metric-day from its segments today and on earlier days (`days`: when they ran)."""
    rate = kind == "rate"
    return rank(observations(rate, today, history, day, options, days), rate)
