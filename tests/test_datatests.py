"""Data tests on landed tables (issue 18): declared in `sources.toml`, run read-only, kept with first failing /
last passing times; a bad declaration is an error naming file, source, table and key, and stops nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core.datatests import declared_tests, run_source_tests
from heartbeat_core.ingest.config import parse_sources

pytestmark = [pytest.mark.db]

DUPLICATE_LEDGER = """
INSERT INTO webbank.entry (id, payment_id, client_profile_id, entry_state_id, amount, fee, product, create_time,
    updated_at)
SELECT id + 1000000000, payment_id, client_profile_id, entry_state_id, amount, fee, product, create_time,
    updated_at
FROM webbank.entry WHERE create_time >= (SELECT max(create_time) FROM webbank.entry) - interval '20 hours'
"""


def _by_key(results: list[Any]) -> dict[str, Any]:
    return {f"{r.spec.table}/{r.spec.key}": r for r in results}


def test_demo_tests_pass_then_a_duplicated_load_fails_uniqueness(demo_world: Any) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        first = _by_key(run_source_tests(conn, "webbank"))
        assert first, "the demo declares tests on webbank"
        assert {k: r.status for k, r in first.items() if r.status != "pass"} == {}
        conn.execute(DUPLICATE_LEDGER)
        second = _by_key(run_source_tests(conn, "webbank"))
        dup = second["entry/unique:payment_id"]
        assert dup.status == "fail" and dup.failing_rows and dup.failing_rows > 0
        assert 0 < len(dup.sample) <= 5
        assert len({row["payment_id"] for row in dup.sample}) < len(dup.sample) or len(dup.sample) == 1
        assert second["entry/unique:id"].status == "pass"
        row = conn.execute(
            "SELECT status, failing_rows, first_failing_at, last_passing_at, jsonb_array_length(sample)"
            " FROM heartbeat.source_test WHERE source = 'webbank' AND test_key = 'unique:payment_id'"
        ).fetchone()
        assert row is not None and row[0] == "fail" and row[1] == dup.failing_rows
        assert row[2] is not None and row[3] is not None and row[4] == len(dup.sample)
        conn.execute(
            "ALTER TABLE webbank.entry ALTER COLUMN fee DROP NOT NULL"
        )  # as an upstream change lands
        conn.execute("UPDATE webbank.entry SET fee = NULL WHERE id IN (SELECT id FROM webbank.entry LIMIT 3)")
        nulls = _by_key(run_source_tests(conn, "webbank"))["entry/not_null:fee,amount,create_time"]
        assert (nulls.status, nulls.failing_rows) == ("fail", 3)


def test_bad_declarations_are_errors_naming_file_source_table_and_key(
    demo_world: Any, tmp_path: Path
) -> None:
    toml = tmp_path / "sources.toml"
    toml.write_text(
        """
[sources.webbank]
kind = "postgres"
connection_env = "X"
[sources.webbank.tables.entry]
tests = [
  { uniq = ["id"] },
  { not_null = ["no_such_column"] },
  { relationships = "payment_id", to = "invoice.id" },
  { unique = ["id"] },
]
"""
    )
    sources = parse_sources(toml.read_text(), toml)
    specs = declared_tests(sources, str(toml))
    assert "unknown test 'uniq'" in (specs[0].problem or "")
    assert f"{toml}: source 'webbank', table 'entry', tests[0]" in (specs[0].problem or "")
    assert "table webbank.invoice is not declared" in (specs[2].problem or "")
    monkey_sources = str(toml)
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        from heartbeat_core.datatests import run_one_test

        results = [run_one_test(conn, s) for s in specs]
    assert [r.status for r in results] == ["error", "error", "error", "pass"]
    assert "column 'no_such_column' does not exist in webbank.entry" in (results[1].message or "")
    assert monkey_sources in (results[1].message or "")


def test_sources_test_command_json_and_exit_code(demo_world: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    heartbeat = str(Path(sys.executable).with_name("heartbeat"))

    def run() -> subprocess.CompletedProcess[str]:
        args = [heartbeat, "sources", "test", "webbank", "--json"]
        return subprocess.run(args, env=dict(os.environ), capture_output=True, text=True, timeout=180)

    ok = run()
    assert ok.returncode == 0, ok.stderr
    tests = json.loads(ok.stdout)["tests"]
    assert tests and set(tests[0]) >= {
        "source",
        "table",
        "test",
        "columns",
        "status",
        "failing_rows",
        "sample",
    }
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        conn.execute(DUPLICATE_LEDGER)
    failed = run()
    assert failed.returncode == 1, failed.stderr
    bad = [t for t in json.loads(failed.stdout)["tests"] if t["status"] != "pass"]
    assert [(t["table"], t["test"], t["columns"]) for t in bad] == [
        ("entry", "unique", ["payment_id"]),
        ("entry", "rows_per_day", ["create_time"]),  # 20 hours of entries twice: far above a day's band
    ]
    assert bad[0]["sample"] and bad[0]["failing_rows"] > 0


def test_a_renamed_source_column_is_schema_drift_and_makes_its_readers_suspect(demo_world: Any) -> None:
    from heartbeat_core.readmodel.suspect import suspects_by_metric

    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        assert {r.status for r in run_source_tests(conn, "aml")} == {
            "pass"
        }  # first sight: the accepted schema
        with psycopg.connect(demo_world.source_url, autocommit=True) as source:
            source.execute("ALTER TABLE aml.aml_retrospective RENAME COLUMN reviewed_at TO reviewed_on")
        drift = _by_key(run_source_tests(conn, "aml"))["aml_retrospective/schema:"]
        assert drift.status == "fail" and drift.message == "renamed reviewed_at → reviewed_on?"
        suspects = suspects_by_metric(conn, ["aml_review_backlog", "revenue_24h"])
        assert list(suspects) == ["aml_review_backlog"]
        assert suspects["aml_review_backlog"][0].line.endswith(
            "schema changed: renamed reviewed_at → reviewed_on?"
        )
        accepted = run_source_tests(conn, "aml", accept_schema=True)
        assert {r.status for r in accepted} == {"pass"}
