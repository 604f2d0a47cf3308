"""The status contract: priority, direction symmetry, freshness, ranking, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.metrics.registry import Band
from heartbeat_core.readmodel.status import (
    display_flags,
    judge,
    rank_key,
    resolve_freshness,
    resolve_status,
    target_hit,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
maybe = st.one_of(st.none(), finite)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_alert_line_reached_is_red_with_reason() -> None:
    result = resolve_status(3, "lower_is_better", norm=0, alert=1, unit="clients")
    assert result.status == "red"
    assert result.reason == "3 ≥ alert line 1"
    assert result.crossed == "alert"


def test_line_is_crossed_when_reached_exactly() -> None:
    assert resolve_status(1, "lower_is_better", alert=1).status == "red"
    assert resolve_status(10, "higher_is_better", alert=10).status == "red"
    assert resolve_status(10, "higher_is_better", norm=10, alert=5).status == "amber"


def test_norm_line_is_amber() -> None:
    result = resolve_status(0.9, "higher_is_better", norm=0.95, alert=0.8, unit="ratio")
    assert (result.status, result.crossed) == ("amber", "norm")
    assert "norm line" in result.reason


def test_z_bands_apply_only_without_crossed_lines() -> None:
    result = resolve_status(300, "higher_is_better", typical_mean=412, typical_stddev=38)
    assert result.status == "red"
    assert result.z == pytest.approx((300 - 412) / 38)
    assert result.reason.startswith("z = −2.9 vs typical 412 ± 38")
    assert resolve_status(370, "higher_is_better", typical_mean=412, typical_stddev=38).status == "amber"
    assert resolve_status(400, "higher_is_better", typical_mean=412, typical_stddev=38).status == "green"


def test_good_surprise_stays_green() -> None:
    assert resolve_status(600, "higher_is_better", typical_mean=412, typical_stddev=38).status == "green"
    assert resolve_status(200, "lower_is_better", typical_mean=412, typical_stddev=38).status == "green"


def test_zero_sigma_is_ignored_and_custom_bands_respected() -> None:
    assert resolve_status(1, "lower_is_better", typical_mean=0, typical_stddev=0).status == "green"
    result = resolve_status(130, "lower_is_better", typical_mean=100, typical_stddev=10, z_amber=2, z_red=3)
    assert result.status == "red"
    assert (
        resolve_status(125, "lower_is_better", typical_mean=100, typical_stddev=10, z_amber=2, z_red=3).status
        == "amber"
    )


def test_no_value_is_no_data_and_carries_the_error() -> None:
    result = resolve_status(None, "lower_is_better", alert=1, error="@value timed out after 60 s")
    assert result.status == "no_data"
    assert "timed out" in result.reason


@given(value=finite, norm=maybe, alert=maybe, mean=maybe, sd=maybe)
def test_priority_alert_then_norm_then_z(value, norm, alert, mean, sd) -> None:
    result = resolve_status(
        value, "lower_is_better", norm=norm, alert=alert, typical_mean=mean, typical_stddev=sd
    )
    if alert is not None and value >= alert:
        assert result.status == "red" and result.crossed == "alert"
    elif norm is not None and value >= norm:
        assert result.status == "amber" and result.crossed == "norm"
    elif mean is not None and sd is not None and sd > 0:
        assert result.crossed in (None, "z_red", "z_amber")
    else:
        assert result.status == "green"


@given(value=finite, norm=maybe, alert=maybe, mean=maybe, sd=maybe)
def test_direction_symmetry(value, norm, alert, mean, sd) -> None:
    """Mirroring every number flips the direction and leaves the colour unchanged."""
    lower = resolve_status(
        value, "lower_is_better", norm=norm, alert=alert, typical_mean=mean, typical_stddev=sd
    )
    neg = lambda x: None if x is None else -x  # noqa: E731
    higher = resolve_status(
        -value,
        "higher_is_better",
        norm=neg(norm),
        alert=neg(alert),
        typical_mean=neg(mean),
        typical_stddev=sd,
    )
    assert lower.status == higher.status
    assert lower.crossed == higher.crossed


@given(value=finite, alert=finite, norm=finite)
def test_raising_the_value_never_improves_a_lower_is_better_metric(value, alert, norm) -> None:
    order = {"green": 0, "amber": 1, "red": 2}
    a = resolve_status(value, "lower_is_better", norm=norm, alert=alert).status
    b = resolve_status(value + 1, "lower_is_better", norm=norm, alert=alert).status
    assert order[b] >= order[a]


def test_target_hit_only_on_green_beyond_target() -> None:
    assert target_hit("green", 2100, "higher_is_better", 2000)
    assert not target_hit("green", 1900, "higher_is_better", 2000)
    assert not target_hit("amber", 2100, "higher_is_better", 2000)
    assert target_hit("green", 0, "lower_is_better", 0)
    assert not target_hit("green", 5, "lower_is_better", None)


@pytest.mark.parametrize(
    ("period", "age", "expected"),
    [
        ("24h", timedelta(hours=36), "fresh"),
        ("24h", timedelta(hours=37), "amber"),
        ("24h", timedelta(hours=73), "red"),
        ("30d", timedelta(days=7, hours=1), "amber"),
        ("30d", timedelta(days=14, hours=1), "red"),
        ("snapshot", timedelta(hours=25), "amber"),
        ("snapshot", timedelta(hours=49), "red"),
        ("7d", timedelta(days=2), "fresh"),
        ("7d", timedelta(days=4), "amber"),
        ("funnel", timedelta(days=15), "red"),
    ],
)
def test_freshness_table(period: str, age: timedelta, expected: str) -> None:
    assert resolve_freshness(period, NOW - age, NOW).freshness == expected


def test_never_loaded_is_red_and_says_so() -> None:
    result = resolve_freshness("24h", None, NOW)
    assert result.freshness == "red"
    assert "no completed load" in result.reason


def test_ranking_red_amber_stale_distance_verified() -> None:
    keys = {
        "red_line": rank_key("red", "fresh", 0.0, False, "z", crossed="alert"),
        "red_far": rank_key("red", "fresh", 5.0, False, "a"),
        "red_near_verified": rank_key("red", "fresh", 1.0, True, "b"),
        "red_near": rank_key("red", "fresh", 1.0, False, "c"),
        "amber": rank_key("amber", "fresh", 0.5, True, "d"),
        "green_stale": rank_key("green", "red", 0.0, True, "e"),
        "no_data": rank_key("no_data", "fresh", 0.0, True, "f"),
        "green": rank_key("green", "fresh", 0.0, True, "g"),
    }
    ordered = sorted(keys, key=keys.__getitem__)
    assert ordered == [
        "red_line",
        "red_far",
        "red_near_verified",
        "red_near",
        "amber",
        "green_stale",
        "no_data",
        "green",
    ]


def test_judge_is_the_contract_with_the_band_in_force_and_the_metric_options() -> None:
    opts = TypicalOptions(window_days=30, min_points=14, z_amber=1.5, z_red=3.0)
    band = Band(412.0, 38.0, 30)
    judged = judge(320.0, "higher_is_better", "count", norm=None, alert=None, band=band, options=opts)
    assert judged == resolve_status(
        320.0, "higher_is_better", typical_mean=412.0, typical_stddev=38.0, z_amber=1.5, z_red=3.0,
        typical_label="30-day typical",
    )  # fmt: skip
    assert judged.status == "amber" and judged.reason == "z = −2.4 vs 30-day typical 412 ± 38"
    lines = judge(3.0, "lower_is_better", "count", norm=0.0, alert=1.0, band=band, options=opts)
    assert lines.status == "red" and lines.reason == "3 ≥ alert line 1"
    none = judge(None, "lower_is_better", "count", norm=0.0, alert=1.0, band=None, options=opts, error="boom")
    assert none.status == "no_data" and none.reason == "no value: boom"
    assert judge(500.0, "higher_is_better", "count", norm=None, alert=None, band=None, options=opts).z is None


def test_ranking_follows_the_display_state_order() -> None:
    keys = {
        "green": rank_key("green", "fresh", 0.0, True, "a"),
        "no_data": rank_key("no_data", "red", 0.0, True, "b"),
        "error": rank_key("no_data", "red", 0.0, True, "c", has_value=False, error="boom"),
        "stale": rank_key("green", "red", 0.0, True, "d"),
        "amber": rank_key("amber", "fresh", 0.0, True, "e"),
        "red_stale": rank_key("red", "red", 0.0, True, "f"),
        "green_late": rank_key("green", "amber", 0.0, True, "g"),
    }
    ordered = sorted(keys, key=keys.__getitem__)
    assert ordered == ["red_stale", "amber", "stale", "error", "no_data", "green_late", "green"]


def test_display_flags_mark_late_sources_and_a_kept_value_after_a_failed_compute() -> None:
    assert display_flags("fresh", "sources 1 h old", True, None, None) == []
    kinds = [f.kind for f in display_flags("amber", "sources 40 h old", True, "boom", None)]
    assert kinds == ["stale", "error"]
    assert [f.kind for f in display_flags("red", "never loaded", False, "boom", None)] == ["stale"]


# -- the sanity band in the good direction (issue 18: implausible moves) --------------------------------------

directions = st.sampled_from(["higher_is_better", "lower_is_better"])


@given(direction=directions, z=st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_implausible_band_only_on_the_good_side(direction: str, z: float) -> None:
    """Beyond `z_implausible` on the good side and 30 % off typical: amber, worded apart; the bad side is judged
    exactly as before."""
    mean, sd = 1000.0, 10.0
    value = mean + z * sd
    with_band = resolve_status(value, direction, typical_mean=mean, typical_stddev=sd, z_implausible=4.0)  # type: ignore[arg-type]
    without = resolve_status(value, direction, typical_mean=mean, typical_stddev=sd)  # type: ignore[arg-type]
    good = z < 0 if direction == "lower_is_better" else z > 0
    actual_z = with_band.z if with_band.z is not None else 0.0
    if good and abs(actual_z) >= 4.0 and abs(value - mean) >= 0.3 * mean:
        assert (with_band.status, with_band.crossed) == ("amber", "z_implausible")
        side = "high" if actual_z > 0 else "low"
        assert with_band.reason.startswith(f"implausibly {side} vs typical: check the data")
        assert without.status == "green"
    else:
        assert with_band == without
        assert "implausibly" not in with_band.reason


@given(
    direction=directions,
    value=finite,
    norm=maybe,
    alert=maybe,
    z_impl=st.one_of(st.none(), st.floats(min_value=0.5, max_value=20)),
)
def test_implausible_band_never_softens_a_line(
    direction: str, value: float, norm: float | None, alert: float | None, z_impl: float | None
) -> None:
    """A crossed line or a bad-direction z keeps its colour and reason whatever the sanity band says."""
    kwargs = {"norm": norm, "alert": alert, "typical_mean": 0.0, "typical_stddev": 1.0}
    plain = resolve_status(value, direction, **kwargs)  # type: ignore[arg-type]
    banded = resolve_status(value, direction, z_implausible=z_impl, **kwargs)  # type: ignore[arg-type]
    if plain.status != "green":
        assert banded == plain
    else:
        assert banded.status in ("green", "amber")
        assert banded.crossed in (None, "z_implausible")


def test_judge_uses_default_band_of_four_and_header_off() -> None:
    band = Band(mean=1900.0, stddev=340.0, points=28)
    on = judge(
        3600.0, "higher_is_better", "money:EUR", norm=None, alert=None, band=band, options=TypicalOptions()
    )
    assert (on.status, on.crossed) == ("amber", "z_implausible")
    assert on.reason.startswith("implausibly high vs typical: check the data")
    off = TypicalOptions(z_implausible=None)
    assert (
        judge(3600.0, "higher_is_better", "money:EUR", norm=None, alert=None, band=band, options=off).status
        == "green"
    )


def test_z_implausible_header_parses_number_and_off() -> None:
    from heartbeat_core.metrics.definition import DefinitionError, parse_metric_text

    base = "-- name: X\n-- period: 24h\n-- unit: count\n-- direction: higher_is_better\n-- sources: demo\n"
    for header, expected in (("", 4.0), ("-- z_implausible: 6\n", 6.0), ("-- z_implausible: off\n", None)):
        parsed = parse_metric_text(base + header + "-- @value\nSELECT 1 AS value\n", "x", "x.sql")
        assert parsed.typical_options.z_implausible == expected
    with pytest.raises(DefinitionError, match="z_implausible 'lots' is not a number"):
        parse_metric_text(base + "-- z_implausible: lots\n-- @value\nSELECT 1 AS value\n", "x", "x.sql")
