"""The Adtributor ranking (compute.drivers) and the @segments reader (compute.segments), without a database."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_core.compute.drivers import Observation, explanatory_power, find_drivers, js_term, rank
from heartbeat_core.compute.segments import SegmentRow, SegmentShapeError, kind_of, read_rows
from heartbeat_core.metrics.definition import TypicalOptions, parse_metric_text

DAY = date(2026, 12, 2)
OPTIONS = TypicalOptions(window_days=28)


def _sum_obs(segment: str, actual: float, typical: float, dimension: str = "d") -> Observation:
    return Observation(dimension, segment, (actual, 1.0), (typical, 1.0), actual, typical)


def test_one_segment_that_fell_is_the_whole_story() -> None:
    observations = [_sum_obs(f"s{i}", 100.0, 100.0) for i in range(9)] + [_sum_obs("s9", 10.0, 100.0)]
    drivers = rank(observations, rate=False)
    assert [d.segment for d in drivers] == ["s9"]
    assert drivers[0].share == pytest.approx(1.0)


def test_segments_that_held_still_are_not_drivers_even_when_their_share_moved() -> None:
    """Three queues grew from 10 to 90 and two stayed at 10: the two lost share (surprising) yet explain
    nothing; the drivers are the three."""
    observations = [_sum_obs(s, 90.0, 10.0) for s in ("c", "d", "e")] + [
        _sum_obs(s, 10.0, 10.0) for s in "ab"
    ]
    drivers = rank(observations, rate=False)
    assert {d.segment for d in drivers} == {"c", "d", "e"}
    assert sum(d.share for d in drivers) == pytest.approx(1.0)


def test_rate_drop_is_attributed_to_the_segments_whose_rate_fell_not_their_volume() -> None:
    """EUR (75 % of volume) slips from 98 % to 92 %, the others fall to 10 %: the others explain ~83 %."""
    rows = [("EUR", 750.0, 0.92)] + [(c, 75.0 if c == "USD" else 25.0, 0.10) for c in ("USD", "GBP", "CHF")]
    rows += [(c, 25.0, 0.10) for c in ("PLN", "SEK", "NOK", "DKK")]
    observations = [
        Observation("currency", c, (n * r, n), (n * 0.98, n), 100 * r, 98.0) for c, n, r in rows
    ]  # fmt: skip
    drivers = rank(observations, rate=True)
    assert "EUR" not in {d.segment for d in drivers}
    assert sum(d.share for d in drivers) >= 0.8
    assert drivers[0].segment == "USD"  # the largest share first


def test_the_dimension_with_the_surprising_set_wins() -> None:
    flat = [_sum_obs(f"t{i}", 95.0, 100.0, "tier") for i in range(4)]  # everyone a little lower
    sharp = [_sum_obs("p0", 80.0, 100.0, "product")] + [
        _sum_obs(f"p{i}", 100.0, 100.0, "product") for i in (1, 2, 3)
    ]
    drivers = rank(flat + sharp, rate=False)
    assert [(d.dimension, d.segment) for d in drivers] == [("product", "p0")]


def test_no_deviation_no_drivers() -> None:
    assert rank([_sum_obs(f"s{i}", 10.0, 10.0) for i in range(5)], rate=False) == []


@settings(max_examples=60, deadline=None)
@given(
    typical=st.lists(st.floats(min_value=1, max_value=1000), min_size=2, max_size=12),
    moved=st.integers(min_value=0, max_value=11),
    factor=st.floats(min_value=0.0, max_value=0.5),
)
def test_properties_of_a_sum(typical: list[float], moved: int, factor: float) -> None:
    """Shares of a sum add up to 1 over all segments; a chosen driver explains at least EP_MIN; the set is at
    most MAX_DRIVERS; when one segment alone moves, it is the only driver."""
    moved %= len(typical)
    observations = [
        _sum_obs(f"s{i}", t * factor if i == moved else t, t) for i, t in enumerate(typical)
    ]  # fmt: skip
    drivers = rank(observations, rate=False)
    if typical[moved] * (1 - factor) < 1e-6:
        assert drivers == []
        return
    assert [d.segment for d in drivers] == [f"s{moved}"]
    assert drivers[0].share == pytest.approx(1.0)


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_js_term_is_symmetric_and_non_negative(p: float, q: float) -> None:
    assert js_term(p, q) >= 0
    assert js_term(p, q) == pytest.approx(js_term(q, p))


def test_find_drivers_uses_each_segment_history() -> None:
    """Ten segments with noisy history; one drops 3σ today: the typical band comes from the stored days."""
    rng = random.Random(3)
    history = []
    for n in range(1, 29):
        for i in range(10):
            value = 100 + rng.gauss(0, 5)
            history.append((DAY - timedelta(days=n), SegmentRow("d", f"s{i}", value, weight=value)))
    today = [SegmentRow("d", f"s{i}", 100.0, weight=100.0) for i in range(9)] + [
        SegmentRow("d", "s9", 55.0, weight=55.0)
    ]
    drivers = find_drivers("sum", today, history, DAY, OPTIONS)
    assert drivers and drivers[0].segment == "s9"
    assert drivers[0].typical == pytest.approx(100, abs=5)
    assert find_drivers("sum", today, history[:20], DAY, OPTIONS) == []  # two days: no typical yet


def test_segment_columns_and_bound() -> None:
    assert kind_of(["dimension", "segment", "value", "weight"]) == "sum"
    assert kind_of(["Dimension", "segment", "value", "numerator", "denominator"]) == "rate"
    for wrong in (
        ["dimension", "segment", "value"],
        ["dimension", "segment", "value", "weight", "numerator", "denominator"],
        ["dimension", "segment", "value", "numerator"],
        ["dimension", "segment", "value", "weight", "extra"],
    ):
        with pytest.raises(SegmentShapeError, match="expected dimension, segment, value"):
            kind_of(wrong)
    rows = [("d", str(i), i, i) for i in range(60)]
    found = read_rows(["dimension", "segment", "value", "weight"], rows, cap=50)
    assert len(found.rows) == 50 and found.rows[0].segment == "59"  # the heaviest kept
    assert found.problems == [
        "@segments dimension d has 60 segments (at most 50): group the rare ones into one segment such as 'other'"
    ]
    with pytest.raises(SegmentShapeError, match="expected a number"):
        read_rows(["dimension", "segment", "value", "weight"], [("d", "x", "many", 1)])


def test_segments_section_is_parsed_with_its_line() -> None:
    text = (
        "-- name: X\n-- period: 24h\n-- unit: count\n-- direction: higher_is_better\n-- sources: shop\n\n"
        "-- @value\nSELECT 1\n\n-- @segments\n\nSELECT 'a' AS dimension, 'b' AS segment, 1 AS value, 1 AS weight;\n"
    )
    definition = parse_metric_text(text, "x", "x.sql")
    assert definition.segments_sql == "SELECT 'a' AS dimension, 'b' AS segment, 1 AS value, 1 AS weight"
    assert definition.section_lines["segments"] == 12
    assert definition.sql_line("segments", 1) == 12


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=1, max_value=500),  # typical volume
            st.floats(min_value=0, max_value=1),  # typical rate
            st.floats(min_value=0, max_value=500),  # volume today
            st.floats(min_value=0, max_value=1),  # rate today
        ),
        min_size=2,
        max_size=10,
    )
)
def test_rate_shares_add_up_to_the_whole_deviation(segments: list[tuple[float, float, float, float]]) -> None:
    """The shift-share split: every segment's explanatory power together is exactly the deviation."""
    observations = [
        Observation("d", f"s{i}", (n * r, n), (n0 * r0, n0), r, r0)
        for i, (n0, r0, n, r) in enumerate(segments)
    ]
    total_a = (sum(o.actual[0] for o in observations), sum(o.actual[1] for o in observations))
    total_f = (sum(o.forecast[0] for o in observations), sum(o.forecast[1] for o in observations))
    if total_a[1] < 1e-3 or abs(total_a[0] / total_a[1] - total_f[0] / total_f[1]) < 1e-3:
        return
    shares = [explanatory_power(True, o, total_a, total_f) for o in observations]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)
