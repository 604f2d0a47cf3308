"""Data tests as the recompute job runs them (issue 18): wrong declarations fail `heartbeat sync`, row-volume
tests against the typical band, incremental runs that look only at rows landed since, and `test_passed` when a
told failure ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core import alerts
from heartbeat_core.datatests import run_source_tests
from heartbeat_core.settings import reset_settings
from heartbeat_demo import PROJECT_DIR
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)
from tests.test_datatests import DUPLICATE_LEDGER

pytestmark = [pytest.mark.db]

NEW_LOAD = "9999999999.000001"


def _by_key(results: list[Any]) -> dict[str, Any]:
    return {f"{r.spec.table}/{r.spec.key}": r for r in results}


def _bad_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's sources.toml with three wrong tests on the ledger."""
    text = (PROJECT_DIR / "sources.toml").read_text()
    anchor = '  { unique = ["payment_id"] },\n'
    assert anchor in text
    bad = (
        '  { uniq = ["id"] },\n  { not_null = ["no_such_column"] },\n'
        '  { relationships = "payment_id", to = "invoice.id" },\n'
    )
    path = tmp_path / "sources.toml"
    path.write_text(text.replace(anchor, anchor + bad))
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(path))
    reset_settings()
    return path


def test_wrong_declarations_fail_sync_naming_file_source_table_and_key(
    demo_world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_cli.metrics_cmd import run_sync

    path = _bad_sources(tmp_path, monkeypatch)
    report = run_sync(quiet=True)
    assert not report.ok
    problems = [str(p) for p in report.problems]
    where = f"{path}: source 'webbank', table 'entry', tests["
    assert len(problems) == 3, problems
    assert all(p.startswith(where) for p in problems), problems
    assert "unknown test 'uniq'" in problems[0]
    assert "key 'not_null': column 'no_such_column' does not exist in webbank.entry" in problems[1]
    assert "key 'to': table webbank.invoice is not declared in sources.toml" in problems[2]
    assert report.unchanged or report.updated  # the metrics still synced
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        results = run_source_tests(conn)
    wrong = [r for r in results if r.status == "error"]
    assert [r.message for r in wrong] == problems
    assert {r.spec.source for r in results if r.status == "pass"} >= {"aml", "card_management", "webbank"}


@pytest.mark.e2e
def test_wrong_declarations_stop_no_source_from_landing_in_the_job(
    demo_world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.jobs import ledger, runner

    _bad_sources(tmp_path, monkeypatch)
    ticket = runner.request_recompute(["revenue_24h", "aml_review_backlog"], trigger="test", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None
    assert {s.source: s.state for s in view.sources} == {"aml": "succeeded", "webbank": "succeeded"}
    assert not [m for m in view.metrics if m.state != "succeeded"]
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        row = conn.execute("SELECT sources FROM heartbeat.recompute_job WHERE job_id = %s", (ticket.job_id,))
        tests = {s["source"]: s["tests"] for s in (row.fetchone() or [[]])[0]}
    assert tests["webbank"]["errors"] == 3 and tests["aml"]["errors"] == 0, tests


def test_rows_per_day_fails_on_a_duplicated_load_either_way_of_typical(demo_world: Any) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        first = _by_key(run_source_tests(conn, "webbank"))
        for key in ("entry/rows_per_day:create_time", "payment/rows_per_day:create_time"):
            assert first[key].status == "pass", first[key].message
            assert "vs typical" in (first[key].message or ""), first[key].message
        conn.execute(DUPLICATE_LEDGER)
        volume = _by_key(run_source_tests(conn, "webbank"))["entry/rows_per_day:create_time"]
    assert volume.status == "fail", volume.message
    assert volume.failing_rows and volume.failing_rows > 0
    row = volume.sample[0]
    assert row["rows"] > row["high"] and row["z"] > 8
    assert "rows so far today" in (volume.message or "")


def _new_load(conn: psycopg.Connection[Any], load_id: str) -> None:
    conn.execute(
        "INSERT INTO webbank._dlt_loads (load_id, schema_name, status, inserted_at, schema_version_hash)"
        " SELECT %s, schema_name, 0, now(), schema_version_hash FROM webbank._dlt_loads"
        " ORDER BY inserted_at DESC LIMIT 1",
        (load_id,),
    )


def test_rows_per_load_fails_when_a_replaced_lookup_comes_back_short(demo_world: Any) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        states = conn.execute("SELECT count(*) FROM webbank.payment_state").fetchone()
        assert states and states[0] >= 4
        run_source_tests(conn, "webbank", landed={"payment_state": states[0]})  # as the job counts a load
        conn.execute(
            "INSERT INTO heartbeat.load_volume (source, table_name, load_id, rows, landed_at)"
            " SELECT 'webbank', 'payment_state', 'past' || n, %s, now() - n * interval '1 hour'"
            " FROM generate_series(1, 10) n",
            (states[0],),
        )
        ok = _by_key(run_source_tests(conn, "webbank"))["payment_state/rows_per_load:"]
        assert ok.status == "pass" and "vs typical" in (ok.message or ""), ok.message
        _new_load(conn, NEW_LOAD)  # a load that replaced the lookup with only two of its rows
        conn.execute(
            "DELETE FROM webbank.payment_state WHERE id NOT IN (SELECT id FROM webbank.payment_state"
            " ORDER BY id LIMIT 2)"
        )
        short = _by_key(run_source_tests(conn, "webbank", landed={"payment_state": 2}))
    volume = short["payment_state/rows_per_load:"]
    assert volume.status == "fail", volume.message
    assert volume.sample[0]["load_id"] == NEW_LOAD and volume.sample[0]["rows"] == 2
    assert volume.failing_rows == states[0] - 2


def test_incremental_runs_check_only_the_rows_landed_since(demo_world: Any) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        total = conn.execute("SELECT count(*) FROM webbank.entry").fetchone()
        first = _by_key(run_source_tests(conn, "webbank", landed={}))  # no verdict yet: in full
        nulls = first["entry/not_null:fee,amount,create_time"]
        assert (nulls.status, nulls.mode, nulls.rows_checked) == ("pass", "full", total[0] if total else -1)

        conn.execute("ALTER TABLE webbank.entry ALTER COLUMN fee DROP NOT NULL")
        conn.execute("UPDATE webbank.entry SET fee = NULL WHERE id IN (SELECT id FROM webbank.entry LIMIT 3)")
        quiet = _by_key(run_source_tests(conn, "webbank", landed={}))  # nothing landed since (by cursor)
        assert {k: (r.mode, r.rows_checked) for k, r in quiet.items() if r.mode == "incremental"} == {
            "entry/unique:id": ("incremental", 0),
            "entry/unique:payment_id": ("incremental", 0),
            "entry/not_null:fee,amount,create_time": ("incremental", 0),
            "entry/accepted_values:product": ("incremental", 0),
            "client_profile/unique:id": ("incremental", 0),
            "client_profile/not_null:created_at,tier,state": ("incremental", 0),
            "client_profile/accepted_values:state": ("incremental", 0),
            "client_profile_state_log/accepted_values:profile_state": ("incremental", 0),
            "payment/unique:id": ("incremental", 0),
            "payment/not_null:create_time,amount,currency,state_id": ("incremental", 0),
            "payment/accepted_values:direction": ("incremental", 0),
            "entry/relationships:payment_id": ("incremental", 0),
            "client_profile_state_log/relationships:client_profile_id": ("incremental", 0),
            "payment_state_log/relationships:state_id": ("incremental", 0),
        }
        assert quiet["entry/not_null:fee,amount,create_time"].status == "pass"
        assert quiet["payment_state/unique:id"].mode == "full"  # replaced whole: no cursor

        # a load brings two entries: one with no fee, one a second entry for a booked payment
        conn.execute("ALTER TABLE webbank.entry ALTER COLUMN payment_id DROP NOT NULL")
        for offset, payment, fee in (
            (2000000000, "NULL", "NULL"),
            (2000000001, "payment_id", "coalesce(fee, 0.5)"),
        ):
            conn.execute(
                f"""INSERT INTO webbank.entry (id, payment_id, client_profile_id, entry_state_id, amount, fee,
                       product, create_time, updated_at)
                    SELECT id + {offset}, {payment}, client_profile_id, entry_state_id, amount, {fee}, product,
                       create_time, (SELECT max(updated_at) FROM webbank.entry) + interval '1 minute'
                    FROM webbank.entry ORDER BY id LIMIT 1"""
            )
        new = _by_key(run_source_tests(conn, "webbank", landed={"entry": 2}))
        full = _by_key(run_source_tests(conn, "webbank"))
    fee = new["entry/not_null:fee,amount,create_time"]
    assert (fee.mode, fee.rows_checked, fee.status, fee.failing_rows) == ("incremental", 2, "fail", 1)
    dup = new["entry/unique:payment_id"]
    assert (dup.mode, dup.rows_checked, dup.status, dup.failing_rows) == ("incremental", 2, "fail", 2)
    assert full["entry/not_null:fee,amount,create_time"].failing_rows == 4  # the 3 old rows too
    assert full["entry/not_null:fee,amount,create_time"].mode == "full"


def _texts(slack: SlackReceiver, start: int) -> list[str]:
    return [
        "\n".join(b["text"]["text"] for b in r.json["blocks"] if "text" in b) for r in slack.accepted[start:]
    ]


def test_a_told_failure_that_ends_is_told_once_as_passed(demo_world: Any, slack: SlackReceiver) -> None:
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        run_source_tests(conn, "webbank")
        alerts.evaluate_and_deliver(conn)
        start = len(slack.accepted)
        conn.execute(DUPLICATE_LEDGER)
        run_source_tests(conn, "webbank")
        alerts.evaluate_and_deliver(conn)
        failed = _texts(slack, start)
        assert len(failed) == 1 and "DATA TEST FAILED: webbank.entry unique(payment_id)" in failed[0]
        assert "owner data-platform@example.com" in failed[0]
        conn.execute("DELETE FROM webbank.entry WHERE id >= 1000000000")  # the broken load undone
        run_source_tests(conn, "webbank")
        alerts.evaluate_and_deliver(conn)
        passed = _texts(slack, start + 1)
        alerts.evaluate_and_deliver(conn)
        again = _texts(slack, start + 1)
        keys = conn.execute(
            "SELECT kind, idempotency_key FROM heartbeat.alert_notification WHERE subject_type = 'source_test'"
            " AND subject_id = 'webbank.entry:unique:payment_id' ORDER BY id"
        ).fetchall()
    assert len(passed) == 1, passed
    assert "DATA TEST PASSES AGAIN: webbank.entry unique(payment_id)" in passed[0]
    assert "owner data-platform@example.com" in passed[0]
    assert again == passed  # told once
    assert [k for k, _ in keys] == ["test_failed", "test_passed"]
    assert keys[0][1].rsplit(":", 1)[1] == keys[1][1].rsplit(":", 1)[1]  # the same streak's moment


@pytest.mark.e2e
def test_a_renamed_column_and_nulls_upstream_are_caught_by_the_job_before_metrics_read_them(
    demo_world: Any,
) -> None:
    """Through the real job: the rename is reported as drift in the same job that lands it (before compute
    reads the NULLs the old column now holds), NULLs in a not-null column fail their test, both make their
    readers suspect, and every metric still computes."""
    from heartbeat_core import readmodel
    from heartbeat_core.jobs import ledger, runner

    metrics = ["aml_review_backlog", "revenue_24h", "payments_24h"]
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        run_source_tests(conn)  # what the first job after setup does: the accepted catalogue, first verdicts
        # the ledger's fee is nullable in the marts, as dlt lands a column a source declares nullable
        conn.execute("ALTER TABLE webbank.entry ALTER COLUMN fee DROP NOT NULL")
    with psycopg.connect(demo_world.source_url, autocommit=True) as source:
        source.execute("ALTER TABLE aml.aml_retrospective RENAME COLUMN reviewed_at TO reviewed_on")
        source.execute("UPDATE aml.aml_retrospective SET updated_at = now() WHERE id IN (SELECT id FROM"
                       " aml.aml_retrospective ORDER BY id DESC LIMIT 5)")  # fmt: skip
        source.execute("ALTER TABLE webbank.entry ALTER COLUMN fee DROP NOT NULL")
        source.execute("UPDATE webbank.entry SET fee = NULL, updated_at = now() WHERE id IN (SELECT id FROM"
                       " webbank.entry ORDER BY id DESC LIMIT 4)")  # fmt: skip
    ticket = runner.request_recompute(metrics, trigger="test", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and {s.state for s in view.sources} == {"succeeded"}, view.sources
    assert [(m.metric_id, m.state) for m in view.metrics if m.state != "succeeded"] == []
    with psycopg.connect(demo_world.marts_url, autocommit=True) as conn:
        failing = conn.execute(
            "SELECT source, table_name, test_key, failing_rows, message, job_id FROM heartbeat.source_test"
            " WHERE status = 'fail' ORDER BY source, table_name, test_key"
        ).fetchall()
        states = {s.metric_id: s for s in readmodel.metric_states(conn, metrics)}
    assert [(f[0], f[1], f[2]) for f in failing] == [
        ("aml", "aml_retrospective", "schema:"),
        ("webbank", "entry", "not_null:fee,amount,create_time"),
    ]
    assert failing[0][4] == "renamed reviewed_at → reviewed_on?" and failing[0][5] == ticket.job_id
    assert failing[1][3] == 4  # only the rows landed since: the incremental run after the load found them
    backlog = [f.reason for f in states["aml_review_backlog"].flags if f.kind == "suspect"]
    assert backlog and "schema changed: renamed reviewed_at → reviewed_on?" in backlog[0]
    revenue = [f.reason for f in states["revenue_24h"].flags if f.kind == "suspect"]
    assert revenue and "webbank.entry not_null(fee, amount, create_time): 4 failing rows" in revenue[0]
    assert not [f for f in states["payments_24h"].flags if f.kind == "suspect"]
