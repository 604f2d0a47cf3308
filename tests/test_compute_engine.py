"""The compute engine's rules, one by one, on the mini world (tests/mini_world.py) built at a fixed moment:
one failing metric fails alone and keeps its last good value with the error beside it; the statement timeout
and the read-only transaction belong to the metric's own transaction; backfill writes past days point-in-time
(@value replayed at each day's end, or one @history run); detail rows are stored with today's value only;
status and z are recorded with the thresholds and band in force when the row was computed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import DETAIL_ROW_LIMIT, MetricSQLError, compute_metrics, evaluate
from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.settings import reset_settings
from tests.mini_world import MINI_DEFS, build_mini_world

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
TODAY = NOW.date()
BACKFILL = 20  # build_mini_world's default
GOOD_HISTORY = Path(__file__).parent / "fixtures" / "good_metrics" / "shop_orders_history_24h.sql"


@pytest.fixture
def world(marts_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The mini world landed, synced and computed (today plus 20 past days) at NOW."""
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(MINI_DEFS))
    reset_settings()
    build_mini_world(marts_url, NOW, backfill_days=BACKFILL)
    return marts_url


def _row(url: str, metric_id: str, day: Any = TODAY) -> dict[str, Any]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM heartbeat.metric_history WHERE metric_id = %s AND as_of_date = %s",
            (metric_id, day),
        ).fetchone()
    assert row is not None, (metric_id, day)
    return row


def _metric(value_sql: str, detail_sql: str | None = None) -> RegistryMetric:
    return RegistryMetric(
        metric_id="probe", name="probe", period="24h", unit="count", direction="higher_is_better",
        sources=("shop",), value_sql=value_sql, detail_sql=detail_sql, history_sql=None, norm_value=None,
        alert_value=None, target_value=None, typical_method="none", typical_options=TypicalOptions(),
        benchmark_mean=None, benchmark_stddev=None, benchmark_points=None, file_path=None,
    )  # fmt: skip


def test_one_failing_metric_fails_alone_and_keeps_its_last_good_value(world: str) -> None:
    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute("ALTER TABLE fx.rates RENAME TO rates_gone")
    later = NOW + timedelta(hours=1)
    with clock.frozen_clock(later):
        report = compute_metrics()
    errors = {o.metric_id: o.error for o in report.outcomes}
    assert errors.pop("rates_coverage") == '@value: relation "fx.rates" does not exist'
    assert set(errors.values()) == {None} and len(errors) == 4
    assert [o.metric_id for o in report.failed] == ["rates_coverage"]

    kept = _row(world, "rates_coverage")
    assert kept["value"] == 3 and kept["computed_at"] == NOW and kept["status"] == "green"
    assert kept["error"] == '@value: relation "fx.rates" does not exist' and kept["as_of"] == NOW
    assert _row(world, "shop_orders_24h")["computed_at"] == later  # the others moved on
    with psycopg.connect(world) as conn:
        (state,) = readmodel.metric_states(conn, ["rates_coverage"])
    assert state.value == 3 and state.error == kept["error"] and state.display_state != "error"

    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute("ALTER TABLE fx.rates_gone RENAME TO rates")
    with clock.frozen_clock(later + timedelta(hours=1)):
        assert compute_metrics(["rates_coverage"]).ok
    healed = _row(world, "rates_coverage")
    assert healed["error"] is None and healed["computed_at"] == later + timedelta(hours=1)


def test_a_metric_with_no_good_value_records_no_data_and_the_error(world: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    header = (MINI_DEFS / "shop_orders_24h.sql").read_text().split("-- @value")[0]
    sql = "-- @value\nSELECT count(*) AS value FROM shop.extra\n"
    (defs / "broken.sql").write_text(header.replace("Shop orders in 24h", "Broken") + sql)
    with psycopg.connect(world) as conn:
        conn.execute("CREATE TABLE shop.extra (id int)")
        assert sync_directory(conn, defs).ok
        conn.execute("DROP TABLE shop.extra")
        conn.commit()
    with clock.frozen_clock(NOW):
        report = compute_metrics(["broken", "shop_orders_24h"])
    error = '@value: relation "shop.extra" does not exist'
    assert {o.metric_id: o.error for o in report.outcomes} == {"broken": error, "shop_orders_24h": None}
    broken = _row(world, "broken")
    assert broken["value"] is None and broken["status"] == "no_data"
    assert broken["reason"] == f"no value: {error}" and broken["error"] == error


def test_statement_timeout_and_read_only_belong_to_the_metric_transaction(
    marts_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", "200ms")
    reset_settings()
    with psycopg.connect(marts_url) as conn:
        conn.execute("CREATE SCHEMA shop; CREATE TABLE shop.orders (id int)")
        conn.commit()
        with pytest.raises(
            MetricSQLError, match=r"^@value timed out after 0.2 s \(HEARTBEAT_METRIC_STATEMENT"
        ):
            evaluate(conn, _metric("SELECT count(*) FROM pg_sleep(2)"), NOW)
        with pytest.raises(MetricSQLError, match=r"^@detail timed out after 0.2 s"):
            evaluate(conn, _metric("SELECT 1", "SELECT pg_sleep(2)"), NOW)
        with pytest.raises(MetricSQLError, match="read-only transaction"):
            evaluate(
                conn, _metric("WITH x AS (INSERT INTO shop.orders VALUES (1) RETURNING 1) SELECT 1"), NOW
            )
        # none of it outlives the metric's transaction: the session keeps its own settings
        row = conn.execute(
            "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only'),"
            " coalesce(current_setting('heartbeat.as_of', true), ''), (SELECT count(*) FROM shop.orders)"
        ).fetchone()
        assert row == ("0", "off", "", 0)
        inside = evaluate(conn, _metric("SELECT extract(epoch FROM heartbeat.as_of())"), NOW)
        assert inside.value == NOW.timestamp()


def test_backfill_writes_past_days_point_in_time(world: str) -> None:
    """Refunds run at one in 40 orders before the last 7 days and one in 12 within them: each past day's
    7-day rate is the one that day saw, not today's."""
    with psycopg.connect(world, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT as_of_date, as_of, value, computed_at, source_as_of, detail FROM heartbeat.metric_history"
            " WHERE metric_id = 'shop_refund_rate_7d' ORDER BY as_of_date"
        ).fetchall()
    assert len(rows) == BACKFILL + 1
    assert [r["as_of_date"] for r in rows] == [TODAY - timedelta(days=n) for n in range(BACKFILL, -1, -1)]
    by_day = {r["as_of_date"]: r for r in rows}
    ten_ago = by_day[TODAY - timedelta(days=10)]
    assert ten_ago["value"] == 2.5 and float(by_day[TODAY]["value"]) == pytest.approx(8.33)
    assert ten_ago["as_of"] == clock.end_of_business_day(TODAY - timedelta(days=10), UTC)
    assert by_day[TODAY]["as_of"] == NOW
    # every row computed now; a past day's sources are vouched for up to its own end, today's to the last load
    assert {r["computed_at"] for r in rows} == {NOW}
    assert ten_ago["source_as_of"] == ten_ago["as_of"]
    assert by_day[TODAY]["source_as_of"] == NOW - timedelta(minutes=10)


def test_backfill_from_one_history_run(world: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    shutil.copy(GOOD_HISTORY, defs)
    with psycopg.connect(world) as conn:
        assert sync_directory(conn, defs).ok
    with clock.frozen_clock(NOW):
        (outcome,) = compute_metrics(["shop_orders_history_24h"], backfill_days=5).outcomes
    assert outcome.ok and outcome.days == 6
    for n in range(1, 6):
        past = _row(world, "shop_orders_history_24h", TODAY - timedelta(days=n))
        assert past["value"] == 1440, n  # whole days of one order a minute, from the @history rows
        assert past["as_of"] == clock.end_of_business_day(TODAY - timedelta(days=n), UTC)
    assert _row(world, "shop_orders_history_24h")["value"] == 1440  # today from @value: 24 h back from NOW


def test_detail_rows_are_stored_with_todays_value_only(world: str, marts_url: str) -> None:
    with psycopg.connect(world) as conn:
        detail = readmodel.metric_detail(conn, "shop_unpaid_invoices")
    assert detail == {
        "columns": ["customer", "invoices", "unpaid_since", "amount_eur"],
        "rows": [["ACME Ltd", 3, (NOW - timedelta(days=120)).date().isoformat(), 12400.0]],
        "truncated": False,
        "total": 1,  # every row behind the value: pages past the stored ones say how many remain
    }
    assert _row(world, "shop_unpaid_invoices", TODAY - timedelta(days=1))["detail"] is None
    assert _row(world, "shop_refund_rate_7d")["detail"] is None  # no @detail section, nothing stored

    many = _metric(
        "SELECT 1",
        "SELECT g, g::numeric / 2 AS half, interval '1 hour' * g AS span, date '2026-11-01' + g AS day"
        " FROM generate_series(1, 60) g",
    )
    with psycopg.connect(marts_url) as conn:
        shown = evaluate(conn, many, NOW).detail
    assert shown is not None and shown["truncated"] is True and len(shown["rows"]) == DETAIL_ROW_LIMIT
    assert shown["total"] == 60
    assert shown["rows"][0] == [1, 0.5, 3600.0, "2026-11-02"]  # JSON-ready: numeric, interval, date


def test_status_and_z_are_recorded_with_the_thresholds_in_force(world: str) -> None:
    before = _row(world, "shop_orders_24h")
    assert (before["norm_value"], before["alert_value"], before["target_value"]) == (200, 50, 2000)
    assert before["value"] == 1440 and before["status"] == "green"
    assert before["reason"] == "1,440 above norm line 200"
    with psycopg.connect(world) as conn:
        conn.execute(
            "UPDATE heartbeat.metric_registry SET norm_value = 2500, alert_value = 2000"
            " WHERE metric_id = 'shop_orders_24h'"
        )
        conn.execute(
            "UPDATE heartbeat.metric_registry SET benchmark_mean = 45, benchmark_stddev = 2, benchmark_points = 14"
            " WHERE metric_id = 'shop_basket_eur_24h'"
        )
        conn.commit()
    with clock.frozen_clock(NOW + timedelta(hours=1)):
        assert compute_metrics(["shop_orders_24h", "shop_basket_eur_24h"]).ok
    after = _row(world, "shop_orders_24h")
    assert (after["norm_value"], after["alert_value"]) == (2500, 2000)
    assert after["value"] == 1380 and after["status"] == "red"
    assert after["reason"] == "1,380 ≤ alert line 2,000"
    yesterday = _row(world, "shop_orders_24h", TODAY - timedelta(days=1))
    assert (yesterday["alert_value"], yesterday["status"]) == (50, "green")  # computed under the old lines

    basket = _row(world, "shop_basket_eur_24h")
    value = float(basket["value"])
    assert (basket["typical_mean"], basket["typical_stddev"]) == (45, 2)
    assert float(basket["z"]) == pytest.approx((value - 45) / 2)
    assert basket["reason"].startswith("z = +") and "14-day typical EUR 45 ± EUR 2" in basket["reason"]
    assert basket["status"] == "green"  # a good surprise for a higher-is-better metric
