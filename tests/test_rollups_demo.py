"""Every demo metric gives exactly the same value and history through the demo's rollups as the same metric on
raw rows (its file before it read rollups, kept in tests/fixtures/metrics_on_raw_rows), on the demo world at
scale 1 in Europe/Berlin: at mid-day, at the end of past days, after rows of yesterday and of four days ago
arrived late, and after a reversal landed today of an entry booked yesterday."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.compute.engine import compute_metrics, evaluate
from heartbeat_core.metrics.definition import MetricDefinition, load_directory
from heartbeat_core.metrics.registry import RegistryMetric, active_metrics
from heartbeat_core.rollups.read import reads
from heartbeat_core.settings import get_settings, reset_settings
from heartbeat_core.sync import sync_project
from tests.conftest import DemoWorld

RAW = Path(__file__).parent / "fixtures" / "metrics_on_raw_rows"


def _on_raw(metric: RegistryMetric, raw: dict[str, MetricDefinition]) -> RegistryMetric:
    return replace(
        metric, value_sql=raw[metric.metric_id].value_sql, detail_sql=raw[metric.metric_id].detail_sql
    )


def _land_late_rows(conn: psycopg.Connection, now: datetime) -> None:
    """Rows that land now for earlier days: ledger entries and payments of yesterday and four days ago (copies
    of real ones with new ids), and a reversal, landed a minute ago, of an entry booked yesterday."""
    tz = get_settings().tz
    today = clock.business_day(now, tz)
    for days_back in (1, 4):
        start = clock.end_of_business_day(today - timedelta(days=days_back + 1), tz)
        for table in ("webbank.entry", "webbank.payment"):
            conn.execute(
                f"CREATE TEMP TABLE late ON COMMIT DROP AS SELECT * FROM {table}"
                " WHERE create_time >= %(start)s AND create_time < %(start)s + interval '20 hours' LIMIT 40",
                {"start": start},
            )
            dlt = conn.execute(
                "SELECT 1 FROM pg_attribute WHERE attrelid = 'late'::regclass AND attname = '_dlt_id'"
            )
            conn.execute(
                "UPDATE late SET id = id + 900000000, create_time = create_time + interval '1 hour',"
                " updated_at = %(now)s" + (", _dlt_id = md5(id::text || 'late')" if dlt.fetchone() else ""),
                {"now": now},
            )
            conn.execute(f"INSERT INTO {table} SELECT * FROM late")
            conn.execute("DROP TABLE late")
    yesterday = clock.end_of_business_day(today - timedelta(days=2), tz)
    conn.execute(
        "UPDATE webbank.entry SET entry_state_id = 3, updated_at = %(at)s WHERE id IN (SELECT id FROM webbank.entry"
        " WHERE entry_state_id = 2 AND fee > 0 AND create_time >= %(start)s AND create_time < %(start)s"
        " + interval '1 day' ORDER BY id LIMIT 3)",
        {"at": now - timedelta(minutes=1), "start": yesterday},
    )


@pytest.mark.slow
def test_every_demo_metric_reads_the_same_through_rollups_as_raw_rows(
    demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "Europe/Berlin")  # day boundaries that are not UTC's
    reset_settings()
    sync_project()
    raw = {d.metric_id: d for d in load_directory(RAW).definitions}
    tz = get_settings().tz
    with psycopg.connect(demo_world.marts_url) as conn:
        landed = conn.execute("SELECT max(create_time) FROM webbank.entry").fetchone()
        assert landed is not None
        now = landed[0].replace(microsecond=0) + timedelta(minutes=5)
        with clock.frozen_clock(now):
            first = compute_metrics()
        assert first.ok, first.failed
        assert all(r.full for r in first.rollups.values())  # another zone: rebuilt in full
        _land_late_rows(conn, now)
        conn.commit()
        with clock.frozen_clock(now):
            report = compute_metrics(sorted(raw), backfill_days=6)
        assert report.ok, report.failed
        # yesterday (late rows and the reversal) and four days ago; the rollups with a reach of 31 days also
        # the days after those, up to today: their rows look back at the touched days
        assert {k: r.days_rebuilt for k, r in report.rollups.items()} == {
            "entry_client_day": 2, "entry_day": 2, "entry_gap_day": 5, "entry_client_prev_day": 5,
        }  # fmt: skip
        metrics = [m for m in active_metrics(conn, None) if m.metric_id in raw]
        conn.commit()
        assert sorted(m.metric_id for m in metrics) == sorted(raw)
        assert all(reads(m.value_sql) for m in metrics if m.metric_id != "onboarding_funnel_30d")
        today = clock.business_day(now, tz)
        moments = [
            now,  # mid-day: the open day and the window's cut day from raw rows
            clock.end_of_business_day(today - timedelta(days=1), tz),  # late rows and the reversal
            clock.end_of_business_day(today - timedelta(days=4), tz),  # late rows
            now - timedelta(days=9, hours=5, minutes=13),
        ]
        for metric in metrics:
            for as_of in moments:
                via = evaluate(conn, metric, as_of)
                on_raw = evaluate(conn, _on_raw(metric, raw), as_of)
                assert (via.value, via.detail) == (on_raw.value, on_raw.detail), (metric.metric_id, as_of)
            history = conn.execute(
                "SELECT as_of_date, value FROM heartbeat.metric_history WHERE metric_id = %s"
                " AND as_of_date < %s ORDER BY 1 DESC LIMIT 6",
                (metric.metric_id, today),
            ).fetchall()
            assert len(history) == 6
            for day, value in history:
                as_of = clock.end_of_business_day(day, tz)
                alone = evaluate(conn, _on_raw(metric, raw), as_of, with_detail=False).value
                assert (None if value is None else float(value)) == alone, (metric.metric_id, day)


@pytest.mark.slow
def test_a_backfill_in_one_statement_per_metric_gives_the_history_of_day_by_day_replays(
    demo_world: DemoWorld,
) -> None:
    """Every demo metric backfills its past days in one statement (compute.backfill; the rollup readers over
    whole days of the rollup tables); each day's value equals the metric evaluated alone at that day's end, as
    the replay per day computed it."""
    tz = get_settings().tz
    with psycopg.connect(demo_world.marts_url) as conn:
        landed = conn.execute("SELECT max(create_time) FROM webbank.entry").fetchone()
        assert landed is not None
        now = landed[0].replace(microsecond=0) + timedelta(minutes=5)
        conn.execute("DELETE FROM heartbeat.metric_history")
        conn.commit()
        with clock.frozen_clock(now):
            report = compute_metrics(backfill_days=9)
        assert report.ok, report.failed
        assert all(o.days == 10 for o in report.outcomes)
        today = clock.business_day(now, tz)
        for metric in active_metrics(conn, None):
            conn.commit()
            stored = dict(
                conn.execute(
                    "SELECT as_of_date, value FROM heartbeat.metric_history WHERE metric_id = %s AND as_of_date < %s",
                    (metric.metric_id, today),
                ).fetchall()
            )
            assert len(stored) == 9, metric.metric_id
            for day, value in stored.items():
                alone = evaluate(conn, metric, clock.end_of_business_day(day, tz), with_detail=False).value
                assert (None if value is None else float(value)) == alone, (metric.metric_id, day)
