"""source_as_of: completed loads and the data watermark, the older wins; None when never loaded. And
sources_status, the one per-source verdict: which period judges a source, worst first, errors redacted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.ingest.config import parse_sources
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.readmodel.freshness import judging_period, source_as_of, sources_status

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _fake_loads(conn: psycopg.Connection, source: str, loads: list[tuple[datetime, int]]) -> None:
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{source}"')
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{source}"._dlt_loads (load_id text, schema_name text, status bigint, '
        "inserted_at timestamptz, schema_version_hash text)"
    )
    for at, status in loads:
        conn.execute(
            f'INSERT INTO "{source}"._dlt_loads VALUES (%s, %s, %s, %s, %s)',
            (str(at.timestamp()), source, status, at, "h"),
        )


def test_missing_schema_is_none(marts_conn: psycopg.Connection) -> None:
    assert source_as_of(marts_conn, ["nope"]) is None
    assert source_as_of(marts_conn, []) is None


def test_latest_completed_load_at_or_before(marts_conn: psycopg.Connection) -> None:
    _fake_loads(marts_conn, "alpha", [(T0, 0), (T0 + timedelta(hours=1), 0), (T0 + timedelta(hours=2), 1)])
    assert source_as_of(marts_conn, ["alpha"]) == T0 + timedelta(hours=1)
    assert source_as_of(marts_conn, ["alpha"], at=T0 + timedelta(minutes=30)) == T0
    assert source_as_of(marts_conn, ["alpha"], at=T0 - timedelta(minutes=1)) is None


def test_watermark_makes_stopped_data_stale_and_oldest_source_wins(marts_conn: psycopg.Connection) -> None:
    _fake_loads(marts_conn, "alpha", [(T0, 0)])
    _fake_loads(marts_conn, "beta", [(T0 + timedelta(hours=3), 0)])
    assert source_as_of(marts_conn, ["alpha", "beta"]) == T0
    marts_conn.execute(
        "INSERT INTO heartbeat.source_state (source, data_watermark) VALUES ('beta', %s)",
        (T0 - timedelta(days=3),),
    )
    assert source_as_of(marts_conn, ["beta"]) == T0 - timedelta(days=3)
    assert source_as_of(marts_conn, ["alpha", "beta"]) == T0 - timedelta(days=3)
    assert source_as_of(marts_conn, ["alpha", "beta", "never"]) is None


# -- sources_status: one verdict per source, whoever asks -------------------------------------------------

METRIC = """\
-- name: {name}
-- period: {period}
-- unit: count
-- direction: higher_is_better
-- sources: {sources}

-- @value
SELECT 1 AS value
"""

SOURCES_TOML = """\
[sources.daily_src]
kind = "postgres"
connection_env = "HB_TEST_NOPE"
schedule = "daily"
[sources.daily_src.tables.t]

[sources.hourly_src]
kind = "postgres"
connection_env = "HB_TEST_NOPE"
[sources.hourly_src.tables.t]

[sources.cron_daily_src]
kind = "postgres"
connection_env = "HB_TEST_NOPE"
schedule = "0 6 * * *"
[sources.cron_daily_src.tables.t]

[sources.cron_often_src]
kind = "postgres"
connection_env = "HB_TEST_NOPE"
schedule = "*/15 * * * *"
[sources.cron_often_src.tables.t]

[sources.never_src]
kind = "postgres"
connection_env = "HB_TEST_NOPE"
[sources.never_src.tables.t]
"""


def _define(conn: psycopg.Connection, directory: Path, metrics: dict[str, tuple[str, str]]) -> None:
    directory.mkdir(exist_ok=True)
    for metric_id, (period, sources) in metrics.items():
        (directory / f"{metric_id}.sql").write_text(
            METRIC.format(name=metric_id, period=period, sources=sources)
        )
    report = sync_directory(conn, directory)
    assert report.ok, report.problems


def test_strictest_reader_period_judges_a_source_like_its_metrics(
    marts_conn: psycopg.Connection, tmp_path: Path
) -> None:
    """alpha is read by a snapshot metric and a 30d one: the snapshot limits (amber after 24 h) judge it, the
    same verdict its snapshot metric gets, whether the MCP (no config) or the CLI (config) asks."""
    _fake_loads(marts_conn, "alpha", [(T0, 0)])
    _define(marts_conn, tmp_path / "defs", {"m_snap": ("snapshot", "alpha"), "m_month": ("30d", "alpha")})
    with clock.frozen_clock(T0 + timedelta(hours=1)):
        assert compute_metrics().ok
    with clock.frozen_clock(T0 + timedelta(hours=30)):
        read_model = sources_status(marts_conn)
        cli = sources_status(
            marts_conn, parse_sources(SOURCES_TOML, tmp_path / "s.toml"), all_configured=True
        )
        states = {s.metric_id: s for s in readmodel.metric_states(marts_conn)}
    alpha = next(s for s in read_model if s.source == "alpha")
    assert (alpha.period, alpha.period_from, alpha.metrics) == ("snapshot", "metrics", ["m_month", "m_snap"])
    assert alpha.freshness == "amber" and alpha.freshness_reason == "data 30 h old (amber after 24 h)"
    assert alpha.source_as_of == T0 and alpha.age_s == 30 * 3600
    assert next(s for s in cli if s.source == "alpha") == alpha
    assert (
        states["m_snap"].freshness == alpha.freshness and states["m_snap"].source_as_of == alpha.source_as_of
    )
    # a metric keeps its own period; the source takes its strictest reader's
    assert states["m_month"].freshness == "fresh"


def test_unread_sources_are_judged_by_their_schedule(marts_conn: psycopg.Connection, tmp_path: Path) -> None:
    """No metric reads them: daily (or a cron a day apart) is judged as 24h, more often as snapshot."""
    config = parse_sources(SOURCES_TOML, tmp_path / "s.toml")
    for name in ("daily_src", "hourly_src", "cron_daily_src", "cron_often_src"):
        _fake_loads(marts_conn, name, [(T0, 0)])
    with clock.frozen_clock(T0 + timedelta(hours=30)):
        listed = {s.source: s for s in sources_status(marts_conn, config, all_configured=True)}
        known_only = [s.source for s in sources_status(marts_conn, config)]
    judged = {name: (s.period, s.period_from, s.freshness) for name, s in listed.items()}
    assert judged == {
        "daily_src": ("24h", "schedule", "fresh"),
        "cron_daily_src": ("24h", "schedule", "fresh"),
        "hourly_src": ("snapshot", "schedule", "amber"),
        "cron_often_src": ("snapshot", "schedule", "amber"),
        "never_src": ("snapshot", "schedule", "red"),
    }
    never = listed["never_src"]
    assert (
        never.last_status is None
        and never.source_as_of is None
        and never.configured
        and never.tables == ["t"]
    )
    assert never.freshness_reason == "no completed load of its sources"
    assert "never_src" not in known_only  # listed only when every configured source is asked for
    assert listed["daily_src"].schedule == "daily" and listed["daily_src"].kind == "postgres"


def test_sources_rank_worst_first_and_errors_are_redacted(marts_conn: psycopg.Connection) -> None:
    _fake_loads(marts_conn, "aaa", [(T0, 0)])
    _fake_loads(marts_conn, "bbb", [(T0 - timedelta(days=5), 0)])
    marts_conn.execute(
        "INSERT INTO heartbeat.source_state (source, kind, last_status, last_error) VALUES"
        " ('ccc', 'postgres', 'failed', 'cannot connect to postgresql://app:hunter2@db/x'),"
        " ('aaa', 'postgres', 'ok', NULL), ('bbb', 'rest', 'ok', NULL)"
    )
    with clock.frozen_clock(T0 + timedelta(hours=1)):
        listed = sources_status(marts_conn, {})
    assert [(s.source, s.freshness) for s in listed] == [("ccc", "red"), ("bbb", "red"), ("aaa", "fresh")]
    assert listed[0].last_error == "cannot connect to postgresql://app:***@db/x"
    assert listed[2].last_load_at == T0 and listed[2].last_status == "ok"


def test_judging_period_rule() -> None:
    assert judging_period(["30d", "24h", "funnel"], "daily", T0) == ("24h", "metrics")
    assert judging_period(["7d", "snapshot"], None, T0) == ("snapshot", "metrics")
    assert judging_period(["unknown"], "daily", T0) == ("24h", "schedule")
    assert judging_period([], None, T0) == ("snapshot", "schedule")
    assert judging_period([], "0 3 * * 1", T0) == ("24h", "schedule")  # weekly: at least a day apart
