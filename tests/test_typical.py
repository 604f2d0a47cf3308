"""Typical bands: the pure baseline function and the registry refresh / history re-scoring."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.metrics.registry import Band, active_metrics, band_in_force
from heartbeat_core.readmodel import typical

DAY = date(2026, 3, 2)  # a Monday


def _series(values: list[float], end: date = DAY) -> list[tuple[date, float | None]]:
    """values[-1] is `end`, values[-2] the day before, ..."""
    return [(end - timedelta(days=len(values) - 1 - i), v) for i, v in enumerate(values)]


def test_scored_day_is_excluded_and_window_is_bounded() -> None:
    opts = TypicalOptions(window_days=7, min_points=3)
    series = _series([1000.0, 10.0, 12.0, 14.0, 10.0, 12.0, 14.0, 12.0, 9999.0])
    band = typical.baseline(series, DAY, opts)
    assert band is not None
    assert band.points == 7
    assert band.mean == pytest.approx(12.0)
    assert band.stddev == pytest.approx(statistics.stdev([10, 12, 14, 10, 12, 14, 12]))
    assert band.usable(opts)
    # Later days never leak into an earlier day's band.
    assert typical.baseline([*series, (DAY + timedelta(days=1), 1e9)], DAY, opts) == band


def test_weekday_seasonality_compares_mondays_with_mondays() -> None:
    opts = TypicalOptions(window_days=28, min_points=3, seasonality="weekday")
    series: list[tuple[date, float | None]] = [
        (d, 100.0 if d.weekday() == 0 else 10.0) for d in (DAY - timedelta(days=n) for n in range(1, 29))
    ]
    series.append((DAY, 5.0))
    band = typical.baseline(series, DAY, opts)
    assert band is not None and band.points == 4 and band.mean == pytest.approx(100.0)


def test_robust_band_shrugs_off_one_incident() -> None:
    values = [10.0, 11.0, 9.0, 10.0, 12.0, 8.0, 10.0, 11.0, 9.0, 500.0, 10.0, 10.0, 11.0, 9.0]
    series = _series([*values, 0.0])
    plain = typical.baseline(series, DAY, TypicalOptions(window_days=28, min_points=7))
    robust = typical.baseline(series, DAY, TypicalOptions(window_days=28, min_points=7, robust=True))
    assert plain is not None and robust is not None
    assert robust.mean == pytest.approx(10.0)
    mad = statistics.median(abs(v - 10.0) for v in values)
    assert robust.stddev == pytest.approx(mad * 1.4826)
    assert plain.stddev > 100 > robust.stddev


def test_too_little_history_or_flat_history_is_not_usable() -> None:
    opts = TypicalOptions(window_days=28, min_points=14)
    short = typical.baseline(_series([float(i) for i in range(10)] + [0.0]), DAY, opts)
    assert short is not None and not short.usable(opts)
    flat = typical.baseline(_series([5.0] * 20 + [0.0]), DAY, opts)
    assert flat is not None and flat.stddev == 0 and not flat.usable(opts)
    assert typical.baseline([], DAY, opts) is None
    fields = typical.score(
        100.0, direction="higher_is_better", unit="count", options=opts, band=short, norm=None, alert=None
    )
    assert fields["status"] == "green" and fields["z"] is None


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=40),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.booleans(),
)
def test_the_scored_point_never_moves_its_own_band(values: list[float], today: float, robust: bool) -> None:
    opts = TypicalOptions(window_days=60, min_points=2, robust=robust)
    a = typical.baseline(_series([*values, today]), DAY, opts)
    b = typical.baseline(_series([*values, 0.0]), DAY, opts)
    assert a == b


@pytest.mark.db
def test_refresh_writes_the_registry_and_rescore_keeps_rows_consistent(mini_world: str) -> None:
    from tests.test_jobs_processes import assert_history_consistent

    with psycopg.connect(mini_world) as conn:
        assert typical.typical_due(conn)
        report = typical.refresh_typical(conn)
        conn.commit()
        assert not typical.typical_due(conn)
        assert typical.typical_due(conn, now=clock.now() + timedelta(days=1))
        band = report.refreshed["shop_basket_eur_24h"]
        assert band is not None and band.points >= 7
        row = conn.execute(
            "SELECT benchmark_mean, benchmark_stddev, benchmark_points, benchmark_computed_at"
            " FROM heartbeat.metric_registry WHERE metric_id = 'shop_basket_eur_24h'"
        ).fetchone()
        assert row is not None
        assert row[0] == pytest.approx(band.mean) and row[2] == band.points and row[3] is not None
        # Only rolling_stat metrics get a band.
        assert set(report.refreshed) == {"shop_basket_eur_24h"}
        count = typical.rescore_history(conn)
        conn.commit()
        assert count >= 20
        z_rows = conn.execute(
            "SELECT count(*) FROM heartbeat.metric_history WHERE metric_id = 'shop_basket_eur_24h'"
            " AND z IS NOT NULL"
        ).fetchone()
        assert z_rows is not None and z_rows[0] > 0  # later days score against the days before them
    assert_history_consistent(mini_world)


def test_band_in_force_is_one_rule() -> None:
    """rolling_stat, σ > 0 and at least min_points days: anything less and no band is in force."""
    opts = TypicalOptions(window_days=14, min_points=7)
    assert band_in_force("rolling_stat", 10.0, 2.0, 7, opts) == Band(10.0, 2.0, 7)
    assert band_in_force("none", 10.0, 2.0, 30, opts) is None
    assert band_in_force("rolling_stat", 10.0, 0.0, 30, opts) is None  # σ = 0: no z-score, no band shown
    assert band_in_force("rolling_stat", 10.0, 2.0, 6, opts) is None
    assert band_in_force("rolling_stat", None, 2.0, 30, opts) is None
    assert band_in_force("rolling_stat", 10.0, None, 30, opts) is None
    assert band_in_force("rolling_stat", 10.0, 2.0, None, opts) is None
    baseline = typical.Baseline(10.0, 2.0, 7)
    assert baseline.usable(opts) and baseline.in_force(opts) == Band(10.0, 2.0, 7)
    fields = typical.score(
        15.0, direction="higher_is_better", unit="count", options=opts, band=baseline, norm=None, alert=None
    )
    assert fields == {
        "status": "green",
        "reason": "z = +2.5 vs 14-day typical 10 ± 2",
        "z": 2.5,
        "typical_mean": 10.0,
        "typical_stddev": 2.0,
    }


@pytest.mark.db
@pytest.mark.parametrize(
    ("stddev", "points", "in_force"),
    [(4.0, 7, True), (0.0, 20, False), (4.0, 6, False)],
)
def test_the_band_shown_is_the_band_that_coloured(
    mini_world: str, stddev: float, points: int, in_force: bool
) -> None:
    """Snapshot, compute's history row and the registry view agree: a band is shown (and recorded) exactly
    when it gave the z-score. σ = 0 used to show a band that coloured nothing."""
    metric_id = "shop_basket_eur_24h"  # rolling_stat, typical_min_points 7
    with psycopg.connect(mini_world) as conn:
        conn.execute(
            "UPDATE heartbeat.metric_registry SET benchmark_mean = 40, benchmark_stddev = %s,"
            " benchmark_points = %s WHERE metric_id = %s",
            (stddev, points, metric_id),
        )
        conn.commit()
        (metric,) = active_metrics(conn, [metric_id])
        assert (metric.band is not None) is in_force
    assert compute_metrics([metric_id]).ok
    with psycopg.connect(mini_world) as conn:
        (state,) = readmodel.metric_states(conn, [metric_id])
        (stored,) = readmodel.metric_history(conn, metric_id, days=1)
    shown = (state.typical_mean, state.typical_stddev)
    assert shown == ((40.0, stddev) if in_force else (None, None))
    assert (state.z is not None) is in_force and state.reason.startswith("z = ") is in_force
    assert (stored.typical_mean, stored.typical_stddev) == shown and stored.z == state.z
    assert stored.status == state.status and stored.reason == state.reason
