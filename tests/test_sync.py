"""`heartbeat sync`: the guarded path, operator columns kept, retirement, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from heartbeat_core.metrics import operator
from heartbeat_core.metrics.sync import sync_directory

METRIC = """\
-- name: Orders in 24h
-- period: 24h
-- unit: count
-- direction: higher_is_better
-- sources: shop
-- norm: {norm}
-- alert: 10

-- @value
SELECT count(*) AS value FROM shop.orders WHERE created_at >= heartbeat.window_start()
"""


def write(path: Path, name: str, text: str) -> None:
    path.mkdir(exist_ok=True)
    (path / f"{name}.sql").write_text(text)


def test_operator_threshold_change_survives_resync(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    write(defs, "orders_24h", METRIC.format(norm=50))
    with psycopg.connect(marts_url) as conn:
        assert sync_directory(conn, defs).added == ["orders_24h"]
        operator.set_thresholds(conn, "orders_24h", changes={"norm": 70}, actor="ops@example.com")
        write(defs, "orders_24h", METRIC.format(norm=60) + "\n-- a comment changes the hash\n")
        report = sync_directory(conn, defs)
        assert report.updated == ["orders_24h"]
        row = conn.execute(
            "SELECT norm_value, initial_norm, thresholds_updated_by FROM heartbeat.metric_registry"
        ).fetchone()
    assert row == (70, 60, "ops@example.com")


def test_untuned_lines_follow_the_file(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    write(defs, "orders_24h", METRIC.format(norm=50))
    with psycopg.connect(marts_url) as conn:
        sync_directory(conn, defs)
        write(defs, "orders_24h", METRIC.format(norm=60))
        sync_directory(conn, defs)
        assert conn.execute("SELECT norm_value FROM heartbeat.metric_registry").fetchone() == (60,)


def test_guard_refuses_hand_edits_of_config_but_not_operator_columns(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    write(defs, "orders_24h", METRIC.format(norm=50))
    with psycopg.connect(marts_url, autocommit=True) as conn:
        sync_directory(conn, defs)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="value_sql of orders_24h is config"):
            conn.execute("UPDATE heartbeat.metric_registry SET value_sql = 'SELECT 1'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="created only by heartbeat sync"):
            conn.execute(
                "INSERT INTO heartbeat.metric_registry (metric_id, name, period, unit, direction, value_sql)"
                " VALUES ('x', 'x', '24h', 'count', 'higher_is_better', 'SELECT 1')"
            )
        conn.execute("UPDATE heartbeat.metric_registry SET owner = 'a@b.co', norm_value = 1")
        assert conn.execute(
            "SELECT value_sql LIKE 'SELECT count%' FROM heartbeat.metric_registry"
        ).fetchone() == (True,)


def test_removed_file_retires_broken_file_keeps_previous_version(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    write(defs, "orders_24h", METRIC.format(norm=50))
    write(defs, "other", METRIC.format(norm=20))
    with psycopg.connect(marts_url) as conn:
        sync_directory(conn, defs)
        (defs / "other.sql").unlink()
        write(defs, "orders_24h", METRIC.format(norm=50).replace("period: 24h", "period: fortnight"))
        report = sync_directory(conn, defs)
        rows = dict(
            conn.execute("SELECT metric_id, retired_at IS NOT NULL FROM heartbeat.metric_registry").fetchall()
        )
        period = conn.execute(
            "SELECT period FROM heartbeat.metric_registry WHERE metric_id='orders_24h'"
        ).fetchone()
    assert report.retired == ["other"]
    assert rows == {"orders_24h": False, "other": True}
    assert period == ("24h",)
    assert [str(p) for p in report.problems] == [
        "defs/orders_24h.sql:2: unknown period 'fortnight' (expected one of snapshot, 24h, 7d, 30d, funnel)"
    ]


def test_sql_syntax_error_names_the_file_line(marts_url: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    broken = METRIC.format(norm=50).replace(
        "SELECT count(*) AS value FROM shop.orders WHERE created_at >= heartbeat.window_start()",
        "SELECT count(*) AS value\nFROM shop.orders\nWHERE created_at >= AND 1",
    )
    write(defs, "orders_24h", broken)
    write(defs, "fine", METRIC.format(norm=50))
    with psycopg.connect(marts_url) as conn:
        report = sync_directory(conn, defs)
    assert report.added == ["fine"]
    assert len(report.problems) == 1
    assert str(report.problems[0]).startswith("defs/orders_24h.sql:12: SQL syntax error in @value")
