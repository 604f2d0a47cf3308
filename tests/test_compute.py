"""The compute engine: point-in-time, read-only, timeouts, one failure never stops the others."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock, readmodel
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.settings import reset_settings

HEADER = """\
-- name: {name}
-- period: 24h
-- unit: count
-- direction: higher_is_better
-- sources: shop

-- @value
"""

BAD = {
    "zero_rows": ("SELECT 1 WHERE false", "@value returned no rows (expected exactly one)"),
    "two_rows": ("SELECT 1 UNION ALL SELECT 2", "@value returned more than one row (expected exactly one)"),
    "two_columns": ("SELECT 1, 2", "@value returned 2 columns (expected one numeric column)"),
    "not_a_number": ("SELECT 'abc'::text", "@value returned str 'abc' (expected a number)"),
    "writes": (
        "WITH gone AS (DELETE FROM shop.orders RETURNING 1) SELECT count(*) FROM gone",
        "@value tries to write: metric SQL runs in a read-only transaction",
    ),
    "slow": (
        "SELECT count(*) FROM pg_sleep(3)",
        "@value timed out after 0.5 s (HEARTBEAT_METRIC_STATEMENT_TIMEOUT)",
    ),
}


@pytest.fixture
def shop(marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with psycopg.connect(marts_url) as conn:
        conn.execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.orders (id int, created_at timestamptz);"
            "INSERT INTO shop.orders SELECT g, timestamptz '2026-11-25 12:00Z' - g * interval '1 hour'"
            " FROM generate_series(1, 24 * 10) g"
        )
    monkeypatch.setenv("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", "500ms")
    reset_settings()
    defs = tmp_path / "defs"
    defs.mkdir()
    return defs


def define(defs: Path, metric_id: str, sql: str) -> None:
    (defs / f"{metric_id}.sql").write_text(HEADER.format(name=metric_id) + sql + "\n")


def test_each_bad_value_sql_fails_alone_with_a_clear_error(marts_url: str, shop: Path) -> None:
    define(shop, "good", "SELECT count(*) FROM shop.orders WHERE created_at >= heartbeat.window_start()"
           " AND created_at < heartbeat.as_of()")  # fmt: skip
    for metric_id, (sql, _) in BAD.items():
        define(shop, metric_id, sql)
    with psycopg.connect(marts_url) as conn:
        assert sync_directory(conn, shop).ok
    with clock.frozen_clock(datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)):
        report = compute_metrics()
    errors = {o.metric_id: o.error for o in report.outcomes}
    assert errors.pop("good") is None
    assert errors == {metric_id: message for metric_id, (_, message) in BAD.items()}
    with psycopg.connect(marts_url) as conn:
        assert conn.execute("SELECT count(*) FROM shop.orders").fetchone() == (240,)
        states = {s.metric_id: s for s in readmodel.metric_states(conn)}
    assert states["good"].value == 23 and states["good"].status == "green"
    assert states["slow"].status == "no_data" and "timed out" in (states["slow"].error or "")


def test_backfill_replays_the_value_sql_at_past_moments(marts_url: str, shop: Path) -> None:
    define(shop, "orders", "SELECT count(*) FROM shop.orders WHERE created_at >= heartbeat.window_start()"
           " AND created_at < heartbeat.as_of()")  # fmt: skip
    with psycopg.connect(marts_url) as conn:
        sync_directory(conn, shop)
    with clock.frozen_clock(datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)):
        report = compute_metrics(backfill_days=12)
    assert report.outcomes[0].days == 13
    with psycopg.connect(marts_url) as conn:
        history = readmodel.metric_history(conn, "orders", days=30)
    values = {p.as_of_date.isoformat(): p.value for p in history}
    # Orders run hourly back to 2026-11-15 12:00: full days hold 24, the first one 12, older ones none.
    assert values["2026-11-24"] == 24
    assert values["2026-11-16"] == 24
    assert values["2026-11-15"] == 12
    assert values["2026-11-14"] == 0
    assert values["2026-11-25"] == 23  # 24 h before 12:00:30 starts after the 12:00 order


def test_failed_compute_keeps_the_last_good_value_beside_the_error(marts_url: str, shop: Path) -> None:
    define(shop, "orders", "SELECT count(*) FROM shop.orders")
    with psycopg.connect(marts_url) as conn:
        sync_directory(conn, shop)
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with clock.frozen_clock(at):
        compute_metrics()
    with psycopg.connect(marts_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE shop.orders RENAME TO orders_gone")
    with clock.frozen_clock(at.replace(hour=13)):
        report = compute_metrics()
    assert "does not exist" in (report.outcomes[0].error or "")
    with psycopg.connect(marts_url) as conn:
        state = readmodel.metric_states(conn)[0]
    assert state.value == 240
    assert state.status == "green"
    assert "does not exist" in (state.error or "")
