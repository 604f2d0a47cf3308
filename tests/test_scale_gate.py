"""`plan_at_scale` on real Postgres: the planner's row estimates × a factor judge a metric without a larger copy.

One small table of events over 100 days (an index on its time column) and an unindexed copy of it: a metric
joining the events on an inequality (a nested loop whose both sides grow) and one counting a window of the
unindexed copy (a whole-table scan kept to a window) fail with their reason and fix; the same window on the
indexed table passes; above `run_rows` estimated rows the value is not run, only its plan judged.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import typer

from heartbeat_cli import metric_gate_cmd
from heartbeat_core.metrics.gate import Limits, ValidationReport, validate_file
from tests.conftest import REPO_ROOT

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
HEARTBEAT = str(REPO_ROOT / ".venv" / "bin" / "heartbeat")
HEADER = """-- name: {name}
-- period: {period}
-- unit: count
-- direction: higher_is_better
-- sources: ev
-- owner: ops@example.com
-- team: ops
-- description: A test metric for the scale gate.
-- how_to_read: Only the gate reads it.

-- @value
"""
METRICS = {
    # every event of the last day against every event of any day with a larger amount: both sides grow
    "pairs_24h": (
        "24h",
        "SELECT count(*) AS value FROM ev.events a JOIN ev.events b ON b.amount > a.amount"
        " WHERE a.at >= heartbeat.window_start() AND a.at < heartbeat.as_of() AND b.at < heartbeat.as_of();",
    ),
    "unindexed_7d": (
        "7d",
        "SELECT count(*) AS value FROM ev.log WHERE at >= heartbeat.window_start() AND at < heartbeat.as_of();",
    ),
    "indexed_7d": (
        "7d",
        "SELECT count(*) AS value FROM ev.events"
        " WHERE at >= heartbeat.window_start() AND at < heartbeat.as_of();",
    ),
}


@pytest.fixture
def defs(marts_url: str, tmp_path: Path) -> Iterator[Path]:
    """5,000 events over 100 days (indexed on `at`) and an unindexed copy; one file per metric."""
    with psycopg.connect(marts_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA ev; CREATE TABLE ev._dlt_loads (load_id text)")
        conn.execute(
            "CREATE TABLE ev.events AS SELECT g AS id,"
            " %s::timestamptz - g * interval '1728 seconds' AS at, (g * 7919) %% 1000 AS amount"
            " FROM generate_series(1, 5000) g",
            (NOW,),
        )
        conn.execute("CREATE INDEX events_at ON ev.events (at); CREATE TABLE ev.log AS TABLE ev.events")
        conn.execute("ANALYZE ev.events; ANALYZE ev.log")
    folder = tmp_path / "defs"
    folder.mkdir()
    for metric_id, (period, sql) in METRICS.items():
        (folder / f"{metric_id}.sql").write_text(HEADER.format(name=metric_id, period=period) + sql + "\n")
    yield folder


def _validate(url: str, path: Path, limits: Limits) -> ValidationReport:
    with psycopg.connect(url, autocommit=True) as conn:
        return validate_file(path, conn, limits=limits, now=NOW)


def test_a_nested_loop_whose_both_sides_grow_is_flagged_at_scale(marts_url: str, defs: Path) -> None:
    at_hand = _validate(marts_url, defs / "pairs_24h.sql", Limits()).check("plan_at_scale")
    assert at_hand.status == "pass" and at_hand.evidence.startswith("not projected: no --scale-factor")
    check = _validate(marts_url, defs / "pairs_24h.sql", Limits(scale_factor=50)).check("plan_at_scale")
    assert check.status == "fail", check.evidence
    assert check.evidence.startswith("at ×50 the data its scans read ~")
    assert "Nested Loop:" in check.evidence and "grows with the square of the data" in check.evidence
    assert "join filter (b.amount > a.amount)" in check.evidence
    assert check.fix and "join on an equality key" in check.fix
    assert "quadratic" in [f["kind"] for f in check.data["findings"]]


def test_a_whole_table_scan_kept_to_a_window_is_flagged_with_its_index(marts_url: str, defs: Path) -> None:
    limits = Limits(scale_factor=50, large_table_bytes=4 * 1024 * 1024)  # 50 × the ~1 MB table passes it
    report = _validate(marts_url, defs / "unindexed_7d.sql", limits)
    check = report.check("plan_at_scale")
    assert check.status == "fail", check.evidence
    assert "Seq Scan on ev.log reads all 250,000 rows" in check.evidence
    assert "the scan grows with the history the table holds, not with the window" in check.evidence
    assert check.fix and '[sources.ev.tables.log]\nindexes = ["at"]' in check.fix
    # the same window of the indexed table reads only the window: it passes, at scale and at hand
    indexed = _validate(marts_url, defs / "indexed_7d.sql", limits)
    assert indexed.check("plan_at_scale").status == "pass", indexed.check("plan_at_scale").evidence
    assert indexed.check("value_one_numeric_row").evidence.startswith("now: 350")


def test_above_run_rows_the_value_is_not_run_only_its_plan_judged(marts_url: str, defs: Path) -> None:
    report = _validate(marts_url, defs / "pairs_24h.sql", Limits(run_rows=1000))
    assert report.value is None  # not run
    value = report.check("value_one_numeric_row")
    assert value.status == "skip" and value.evidence.startswith(
        "not run: the planner estimates its scans read"
    )
    assert "> 1,000 (--run-rows)" in value.evidence
    assert report.check("read_only").evidence == "not run (too large); its plan writes nothing"
    assert report.check("timing").status == "skip"
    assert "not run: too large" in report.check("explain").evidence
    judged = report.check("plan_at_scale")
    assert judged.status == "pass" and "on the data at hand" in judged.evidence
    assert "ms per 1,000 cost units (not run here)" in judged.evidence


def _cli(url: str, defs: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {
        **os.environ,
        "HEARTBEAT_DATABASE_URL": url,
        "HEARTBEAT_METRIC_DEFS": str(defs),
        "HEARTBEAT_HOME": str(home),
        "COLUMNS": "200",  # typer's error box on one line
    }
    return subprocess.run([HEARTBEAT, "metric", "validate", *args], capture_output=True, text=True, env=env)


def test_cli_scale_factor_and_its_errors_name_the_flag(
    marts_url: str, defs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _cli(marts_url, defs, tmp_path, "pairs_24h", "--scale-factor", "fifty")
    assert bad.returncode == 2 and "Invalid value for '--scale-factor'" in bad.stderr
    low = _cli(marts_url, defs, tmp_path, "pairs_24h", "--scale-factor", "0.5")
    assert low.returncode == 1
    assert "heartbeat: --scale-factor 0.5: expected a number ≥ 1" in low.stderr
    with pytest.raises(typer.Exit):  # the same one-line path as above, without another process
        metric_gate_cmd._check_scale_options(None, -3)
    assert "heartbeat: --run-rows -3: expected 0 (always run) or a positive number" in capsys.readouterr().err
    flagged = _cli(marts_url, defs, tmp_path, "pairs_24h", "--scale-factor", "50")
    assert flagged.returncode == 1
    assert "FAIL  plan_at_scale" in flagged.stdout and "fix: join on an equality key" in flagged.stdout
