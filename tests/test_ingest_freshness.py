"""source_as_of: completed loads and the data watermark, the older wins; None when never loaded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from heartbeat_core.readmodel.freshness import source_as_of

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
