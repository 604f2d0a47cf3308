"""Segments on the mini world (real Postgres): stored per day through backfill, drivers found against each
segment's own typical, and a failing @segments that never blocks the metric's value."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.readmodel import metric_states
from heartbeat_core.readmodel.drivers import latest_segment_days, segment_error
from heartbeat_core.settings import reset_settings
from tests.mini_world import MINI_DEFS, build_mini_sources

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
TODAY = NOW.date()
METRIC = "shop_orders_24h"
SEGMENTS = """
-- @segments
SELECT 'customer' AS dimension, customer AS segment, count(*) AS value, count(*) AS weight FROM shop.orders
WHERE created_at >= heartbeat.window_start() AND created_at < heartbeat.as_of()
GROUP BY customer
"""


@pytest.fixture
def world(marts_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    defs = tmp_path / "metric_defs"
    shutil.copytree(MINI_DEFS, defs)
    path = defs / f"{METRIC}.sql"
    path.write_text(path.read_text() + SEGMENTS)
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    reset_settings()
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, NOW)
        conn.commit()
        assert sync_directory(conn, defs).ok
    with clock.frozen_clock(NOW):
        assert compute_metrics([METRIC], backfill_days=10).ok
    return marts_url


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, (METRIC,)).fetchall()  # type: ignore[arg-type]  # fixed test SQL


def test_segments_are_stored_per_day_through_the_backfill(world: str) -> None:
    per_day = _rows(
        world,
        "SELECT as_of_date, count(*), sum(weight) FROM heartbeat.segment_value WHERE metric_id = %s"
        " GROUP BY 1 ORDER BY 1",
    )
    assert [d for d, _, _ in per_day] == [TODAY - timedelta(days=n) for n in range(10, -1, -1)]
    assert all(count == 7 for _, count, _ in per_day)  # customer 0 … customer 6
    values = dict(_rows(world, "SELECT as_of_date, value FROM heartbeat.metric_history WHERE metric_id = %s"))
    assert all(float(values[d]) == total for d, _, total in per_day)  # the segments add up to the value
    ran = _rows(world, "SELECT count(*) FROM heartbeat.segment_day WHERE metric_id = %s AND error IS NULL")
    assert ran == [(11,)]


def test_one_customer_stopping_is_the_driver(world: str) -> None:
    with psycopg.connect(world) as conn:
        conn.execute(
            "DELETE FROM shop.orders WHERE customer = 'customer 3' AND created_at > %s",
            (NOW - timedelta(days=1),),
        )
    with clock.frozen_clock(NOW):
        assert compute_metrics([METRIC]).ok
    with psycopg.connect(world) as conn:
        day, drivers, error = latest_segment_days(conn, [METRIC])[METRIC]
    assert day == TODAY and error is None
    assert [(d.dimension, d.segment) for d in drivers] == [("customer", "customer 3")]
    assert drivers[0].share == pytest.approx(1.0, abs=0.02)
    assert drivers[0].value is None or drivers[0].value == 0  # absent today: nothing
    assert drivers[0].typical == pytest.approx(1440 / 7, rel=0.05)


@pytest.mark.parametrize(
    ("segments_sql", "expected"),
    [
        (
            "SELECT 'c' AS dimension, 'x' AS segment, 1 / 0 AS value, 1 AS weight",
            "@segments: division by zero",
        ),
        (
            "SELECT 'c' AS dimension, 'x' AS segment, 1 AS total",
            "@segments returned columns dimension, segment",
        ),
        ("SELECT * FROM shop.no_such_table", 'relation "shop.no_such_table" does not exist'),
    ],
)
def test_a_failing_segment_query_leaves_the_value_computed(
    world: str, segments_sql: str, expected: str
) -> None:
    with psycopg.connect(world) as conn:
        conn.execute(
            "UPDATE heartbeat.metric_registry SET segments_sql = %s WHERE metric_id = %s",
            (segments_sql, METRIC),
        )
    later = NOW + timedelta(minutes=5)
    with clock.frozen_clock(later):
        report = compute_metrics([METRIC])
    assert report.ok, [o.error for o in report.failed]  # the metric's own compute did not fail
    value, error, as_of = _rows(
        world,
        "SELECT value, error, as_of FROM heartbeat.metric_history WHERE metric_id = %s ORDER BY as_of_date DESC LIMIT 1",
    )[0]
    assert value is not None and float(value) > 1000 and error is None and as_of == later  # type: ignore[arg-type]
    with psycopg.connect(world) as conn:
        found = segment_error(conn, METRIC)
        state = metric_states(conn, [METRIC], now=later)[0]
    assert found is not None and expected in found
    assert state.value is not None and state.drivers is None
    assert any(
        f.kind == "error" and expected in f.reason and "the value stands" in f.reason for f in state.flags
    )
