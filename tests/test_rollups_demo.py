"""Every demo metric gives exactly the same value and history through the demo's rollups as the same metric on
raw rows (its file before it read rollups, kept in tests/fixtures/metrics_on_raw_rows), on the demo world at
scale 1 in Europe/Berlin: at mid-day, at the end of past days, after rows of yesterday and of four days ago
arrived late, and after a reversal landed today of an entry booked yesterday."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.compute.engine import Evaluation, compute_metrics, evaluate
from heartbeat_core.metrics.definition import MetricDefinition, load_directory
from heartbeat_core.metrics.registry import RegistryMetric, active_metrics
from heartbeat_core.rollups.read import reads
from heartbeat_core.rollups.refresh import with_reach
from heartbeat_core.settings import get_settings, reset_settings
from heartbeat_core.sync import sync_project
from tests.conftest import DemoWorld

RAW = Path(__file__).parent / "fixtures" / "metrics_on_raw_rows"


def _on_raw(metric: RegistryMetric, raw: dict[str, MetricDefinition]) -> RegistryMetric:
    on_raw = raw[metric.metric_id]
    return replace(
        metric, value_sql=on_raw.value_sql, detail_sql=on_raw.detail_sql,
        segments_sql=on_raw.segments_sql or metric.segments_sql,
    )  # fmt: skip


def _segments(result: Evaluation) -> list[tuple[str, str, float | None, float | None]] | None:
    if result.segments is None:
        return None
    return sorted((r.dimension, r.segment, r.value, r.weight) for r in result.segments.rows)


def _land_late_rows(conn: psycopg.Connection, now: datetime) -> set[date]:
    """Rows that land now for earlier days: ledger entries and payments of yesterday and four days ago (copies
    of real ones with new ids), a reversal, landed a minute ago, of an entry booked yesterday, and the busiest
    client of the month moved to another tier a minute ago; returns the days of that client's entries."""
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
    busiest = conn.execute(
        "SELECT client_profile_id FROM webbank.entry WHERE create_time >= %s - interval '30 days'"
        " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        (now,),
    ).fetchone()
    assert busiest is not None
    conn.execute(
        "UPDATE webbank.client_profile SET tier = CASE WHEN tier = 'standard' THEN 'premium' ELSE 'standard' END,"
        " updated_at = %s WHERE id = %s",
        (now - timedelta(minutes=1), busiest[0]),
    )
    conn.execute("SELECT set_config('TimeZone', %s, true)", (tz.key,))
    days = conn.execute(
        "SELECT DISTINCT create_time::date FROM webbank.entry WHERE client_profile_id = %s", busiest
    ).fetchall()
    return {d for (d,) in days}


def _land_today_unrefreshed(conn: psycopg.Connection, now: datetime) -> list[int]:
    """Entries landed after the last refresh, a minute before `now`: one of a client active on the windows'
    whole days but not yet today nor on a window's cut first day, one of a client quiet for 40+ days (copies of
    their own rows, new ids)."""
    tz = get_settings().tz
    today_start = clock.end_of_business_day(clock.business_day(now, tz) - timedelta(days=1), tz)
    clients = conn.execute(
        """(SELECT client_profile_id FROM webbank.entry
            WHERE create_time >= %(start)s - interval '5 days' AND create_time < %(start)s
            EXCEPT SELECT client_profile_id FROM webbank.entry
            WHERE create_time >= %(start)s  -- not yet today, nor on a 7- or 30-day window's cut first day
               OR create_time >= %(start)s - interval '9 days' AND create_time < %(start)s - interval '6 days'
               OR create_time >= %(start)s - interval '32 days' AND create_time < %(start)s - interval '29 days'
            ORDER BY 1 LIMIT 1)
           UNION ALL
           (SELECT client_profile_id FROM webbank.entry GROUP BY 1
            HAVING max(create_time) < %(start)s - interval '40 days' ORDER BY 1 LIMIT 1)""",
        {"start": today_start},
    ).fetchall()
    assert len(clients) == 2, clients
    conn.execute(
        "CREATE TEMP TABLE fresh ON COMMIT DROP AS SELECT DISTINCT ON (client_profile_id) * FROM webbank.entry"
        " WHERE client_profile_id = ANY(%s) ORDER BY client_profile_id, id",
        ([c[0] for c in clients],),
    )
    dlt = conn.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = 'fresh'::regclass AND attname = '_dlt_id'"
    )
    conn.execute(
        "UPDATE fresh SET id = id + 950000000, create_time = %(at)s, updated_at = %(at)s"
        + (", _dlt_id = md5(id::text || 'fresh')" if dlt.fetchone() else ""),
        {"at": now - timedelta(minutes=1)},
    )
    ids = [
        r[0] for r in conn.execute("INSERT INTO webbank.entry SELECT * FROM fresh RETURNING id").fetchall()
    ]
    conn.execute("DROP TABLE fresh")
    conn.commit()
    return ids


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
        moved_days = _land_late_rows(conn, now)
        conn.commit()
        with clock.frozen_clock(now):
            report = compute_metrics(sorted(raw), backfill_days=6)
        assert report.ok, report.failed
        # yesterday (late rows and the reversal) and four days ago; the rollups with a reach of 31 days also
        # the days after those, up to today: their rows look back at the touched days; the rollups that read
        # the tier (`watch`) also every day of the client whose tier changed
        today = clock.business_day(now, tz)
        late = {today - timedelta(days=1), today - timedelta(days=4)}
        assert {k: r.days_rebuilt for k, r in report.rollups.items()} == {
            "entry_day": 2, "entry_currency_day": 2, "entry_client_prev_day": 5, "payment_state_day": 0,
            "entry_top_client_day": len(late | moved_days), "entry_tier_day": len(late | moved_days),
            "entry_gap_day": len(with_reach(sorted(late | moved_days), 31, today)),
        }  # fmt: skip
        assert len(moved_days) > 20  # the busiest client: most of its days, not the whole table
        metrics = [m for m in active_metrics(conn, None) if m.metric_id in raw]
        conn.commit()
        assert sorted(m.metric_id for m in metrics) == sorted(raw)
        assert all(
            reads(m.value_sql) or reads(m.segments_sql)
            for m in metrics
            if m.metric_id != "onboarding_funnel_30d"
        )
        moments = [
            now,  # mid-day: the open day and the window's cut day from raw rows
            clock.end_of_business_day(today - timedelta(days=1), tz),  # late rows and the reversal
            clock.end_of_business_day(today - timedelta(days=4), tz),  # late rows
            now - timedelta(days=9, hours=5, minutes=13),
        ]
        for metric in metrics:
            for as_of in moments:
                via = evaluate(conn, metric, as_of, with_segments=True)
                on_raw = evaluate(conn, _on_raw(metric, raw), as_of, with_segments=True)
                assert (via.value, via.detail) == (on_raw.value, on_raw.detail), (metric.metric_id, as_of)
                assert _segments(via) == _segments(on_raw), (metric.metric_id, as_of, "segments")
                assert via.segment_error is None and on_raw.segment_error is None
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
        # today's entries landed after the last refresh (no stored row for today yet): read through the
        # rollups, a client already active on a whole day is not counted twice and a long-quiet one counts
        active = next(m for m in metrics if m.metric_id == "active_clients_30d")
        counted = evaluate(conn, _on_raw(active, raw), now, with_detail=False).value
        conn.commit()
        added = _land_today_unrefreshed(conn, now)
        try:
            after: dict[str, float | None] = {}
            for metric in metrics:
                through = evaluate(conn, metric, now, with_detail=False).value
                after[metric.metric_id] = evaluate(conn, _on_raw(metric, raw), now, with_detail=False).value
                assert through == after[metric.metric_id], (
                    metric.metric_id,
                    "landed since the refresh",
                    through,
                )
            assert after["active_clients_30d"] == (counted or 0) + 1  # the long-quiet client is back, once
        finally:
            conn.rollback()
            conn.execute("DELETE FROM webbank.entry WHERE id = ANY(%s)", (added,))
            conn.commit()


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
