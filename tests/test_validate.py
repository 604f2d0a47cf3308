"""`heartbeat metric validate` on real Postgres: good metrics pass, each bad fixture fails its named check."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.db.connection import reset_pool
from heartbeat_core.db.migrate import migrate
from heartbeat_core.metrics.gate import (
    CHECKS,
    Limits,
    analyze_plan,
    correlated_subqueries,
    validate_file,
)
from heartbeat_core.settings import reset_settings
from tests import conftest
from tests.conftest import REPO_ROOT
from tests.mini_world import MINI_DEFS, build_mini_world

BAD = Path(__file__).parent / "fixtures" / "bad_metrics"
HEARTBEAT = str(REPO_ROOT / ".venv" / "bin" / "heartbeat")

# fixture file → the check that must fail
EXPECTED_FAILURE = {
    "correlated_subquery": "no_correlated_subqueries",
    "seq_scan_large_table": "explain",
    "slow_query": "timing",
    "write_delete_cte": "read_only",
    "write_insert_cte": "read_only",
    "wall_clock": "point_in_time",
    "lines_against_direction": "lines_consistent",
    "header_incomplete": "header_complete",
    "unknown_source": "sources_exist",
    "many_rows": "value_one_numeric_row",
    "detail_without_rows": "detail_rows",
    "does_not_parse": "parses",
    "history_mismatch": "history_matches",
    "entity_missing_column": "entity_keys",
    "entity_duplicate_key": "entity_keys",
    "entity_weight_not_numeric": "entity_keys",
    "entity_owner_missing_column": "entity_keys",
    "segments_wrong_columns": "segment_rows",
    "segments_too_many": "segment_rows",
    "segments_entity_dimension": "segment_rows",
    "segments_slow": "segment_rows",
}
SMALL = Limits(time_limit_s=1.0, large_table_bytes=1024 * 1024)
FAST = Limits(time_limit_s=1.0)


@pytest.fixture(scope="module")
def world(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One mini world for the whole module (building it per test would dominate the run time)."""
    url = create_database("validate")
    with psycopg.connect(url) as conn:
        migrate(conn)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEARTBEAT_DATABASE_URL", url)
        mp.setenv("HEARTBEAT_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("HEARTBEAT_METRIC_DEFS", str(MINI_DEFS))
        reset_settings()
        reset_pool()
        build_mini_world(url, clock.now(), backfill_days=2)
        yield url
    reset_pool()
    reset_settings()


def _validate(path: Path, url: str, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    with psycopg.connect(url, autocommit=True) as conn:
        return validate_file(path, conn, limits=limits)


@pytest.mark.parametrize("metric_id", sorted(p.stem for p in MINI_DEFS.glob("*.sql")))
def test_good_metrics_pass_every_check(world: str, metric_id: str) -> None:
    report = _validate(MINI_DEFS / f"{metric_id}.sql", world)
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.ok, [c.as_json() for c in report.failed]
    assert "@value took" in report.check("timing").evidence
    assert report.check("value_one_numeric_row").evidence.count(":") == 4  # now and three past moments


def test_every_bad_fixture_has_an_expected_failure() -> None:
    assert sorted(p.stem for p in BAD.glob("*.sql")) == sorted(EXPECTED_FAILURE)


@pytest.mark.parametrize("metric_id", sorted(EXPECTED_FAILURE))
def test_bad_fixture_fails_its_named_check(world: str, metric_id: str) -> None:
    # only the fixture under test gets a small limit: a loaded machine must not fail other checks
    limits = {
        "seq_scan_large_table": Limits(large_table_bytes=1024 * 1024),
        "slow_query": FAST,
        "segments_slow": FAST,
    }.get(metric_id, Limits())
    report = _validate(BAD / f"{metric_id}.sql", world, limits)
    expected = EXPECTED_FAILURE[metric_id]
    assert not report.ok
    assert expected in [c.name for c in report.failed], [c.as_json() for c in report.checks]
    # the failure is precise: no unrelated check fails alongside it
    assert [c.name for c in report.failed] == [expected], [c.as_json() for c in report.failed]


@pytest.mark.parametrize(
    ("metric_id", "expected"),
    [
        (
            "entity_missing_column",
            "key column 'client_id' is not in the @detail rows (expected one of: customer, amount)",
        ),
        ("entity_duplicate_key", "key column 'customer' is not unique per @detail row: ACME Ltd (3 rows)"),
        ("entity_weight_not_numeric", "weight column 'note' is not numeric"),
    ],
)
def test_entity_failures_name_file_line_and_expectation(world: str, metric_id: str, expected: str) -> None:
    check = _validate(BAD / f"{metric_id}.sql", world).check("entity_keys")
    assert check.status == "fail"
    assert f"{metric_id}.sql:7: " in check.evidence  # the `-- entity:` header line
    assert expected in check.evidence


@pytest.mark.parametrize(
    ("metric_id", "expected"),
    [
        (
            "segments_wrong_columns",
            "segments_wrong_columns.sql:15: @segments returned columns dimension, segment, n (expected"
            " dimension, segment, value plus numerator, denominator (a rate or share) or weight",
        ),
        (
            "segments_too_many",
            "segments_too_many.sql:15: @segments dimension bucket has 60 segments (at most 50)",
        ),
    ],
)
def test_segment_failures_name_file_line_and_expectation(world: str, metric_id: str, expected: str) -> None:
    check = _validate(BAD / f"{metric_id}.sql", world).check("segment_rows")
    assert check.status == "fail"
    assert expected in check.evidence


def test_correlated_subquery_evidence_names_the_outer_alias(world: str) -> None:
    report = _validate(BAD / "correlated_subquery.sql", world, SMALL)
    assert "o.customer" in report.check("no_correlated_subqueries").evidence


def test_seq_scan_names_table_index_and_sources_toml_line(world: str) -> None:
    report = _validate(BAD / "seq_scan_large_table.sql", world, SMALL)
    check = report.check("explain")
    assert "Seq Scan on shop.orders" in check.evidence
    assert "(customer, created_at)" in check.evidence
    assert check.fix is not None
    assert '[sources.shop.tables.orders]\nindexes = ["customer, created_at"]' in check.fix
    # under the default 200 MB limit the same small table is fine
    assert _validate(BAD / "seq_scan_large_table.sql", world).ok


def test_seq_scan_despite_an_index_says_so(create_database: Callable[[str], str]) -> None:
    """A Seq Scan the existing index cannot prevent is named as such, with no index to add."""
    url = create_database("seqidx")
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "CREATE SCHEMA s; CREATE TABLE s.t AS SELECT g AS id, g % 2 AS flag FROM generate_series(1, 50000) g"
        )
        conn.execute("CREATE INDEX t_flag ON s.t (flag); ANALYZE s.t")
        row = conn.execute(
            "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) SELECT count(*) FROM s.t WHERE flag >= 0"
        ).fetchone()
        assert row is not None
        findings, _ = analyze_plan(conn, row[0][0]["Plan"], Limits(large_table_bytes=1024), None)
    assert len(findings) == 1 and findings[0].table == "s.t"
    assert "index t_flag (flag) exists" in findings[0].detail
    assert findings[0].toml is None


def test_write_is_refused_and_rows_survive(world: str) -> None:
    with psycopg.connect(world) as conn:
        before = conn.execute("SELECT count(*) FROM shop.orders").fetchone()
    report = _validate(BAD / "write_insert_cte.sql", world)
    assert "tries to write" in report.check("read_only").evidence
    with psycopg.connect(world) as conn:
        assert conn.execute("SELECT count(*) FROM shop.orders").fetchone() == before


def test_statement_timeout_fails_timing(world: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", "300ms")
    reset_settings()
    try:
        report = _validate(BAD / "slow_query.sql", world)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert [c.name for c in report.failed] == ["timing"]
    assert "timed out" in report.check("timing").evidence


def test_lines_problem_does_not_hide_other_checks(world: str) -> None:
    report = _validate(BAD / "lines_against_direction.sql", world)
    assert "norm 10 is above alert 5" in report.check("lines_consistent").evidence
    assert report.check("value_one_numeric_row").status == "pass"


def test_nested_loop_over_a_large_outer_set_is_flagged(world: str) -> None:
    query = (
        "SELECT count(*) FROM shop.orders o JOIN shop.invoices i ON i.customer = o.customer"
        " AND i.amount > o.amount"
    )
    with psycopg.connect(world, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL enable_hashjoin = off")
            conn.execute("SET LOCAL enable_mergejoin = off")
            row = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) {query}").fetchone()
        assert row is not None
        plan = row[0][0]["Plan"]
        findings, _ = analyze_plan(conn, plan, Limits(nested_loop_outer_rows=1000), None)
    loops = [f for f in findings if f.kind == "Nested Loop"]
    assert loops, findings
    assert loops[0].table == "shop.invoices"
    assert loops[0].index_columns[0] == "customer"
    assert loops[0].toml and loops[0].toml.startswith("[sources.shop.tables.invoices]")


def test_correlated_subqueries_parser() -> None:
    assert correlated_subqueries("SELECT count(*) FROM a x WHERE EXISTS (SELECT 1 FROM b y WHERE y.k = x.k)")
    assert correlated_subqueries(
        "SELECT count(*) FROM a x JOIN LATERAL (SELECT max(y.v) m FROM b y WHERE y.k = x.k) l ON true"
    )
    # a plain subquery, a CTE and a derived table are not correlated
    assert not correlated_subqueries(
        "WITH c AS (SELECT k FROM b) SELECT count(*) FROM a x WHERE x.k IN (SELECT k FROM c)"
        " AND x.v > (SELECT avg(v) FROM a)"
    )
    assert not correlated_subqueries("SELECT sum(t.v) FROM (SELECT k, v FROM a) t JOIN b y ON y.k = t.k")


def _cli(*args: str, env_url: str, defs: Path, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {
        **os.environ,
        "HEARTBEAT_DATABASE_URL": env_url,
        "HEARTBEAT_METRIC_DEFS": str(defs),
        "HEARTBEAT_HOME": str(home),
    }
    return subprocess.run([HEARTBEAT, *args], capture_output=True, text=True, env=env, timeout=120)


def test_cli_by_id_and_path_with_json(world: str, tmp_path: Path) -> None:
    ok = _cli("metric", "validate", "shop_unpaid_invoices", env_url=world, defs=MINI_DEFS, home=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS  timing" in ok.stdout and "OK: all" in ok.stdout
    bad = _cli(
        "metric", "validate", str(BAD / "correlated_subquery.sql"), "--json",
        env_url=world, defs=MINI_DEFS, home=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 1
    payload = json.loads(bad.stdout)
    assert payload["ok"] is False and payload["failed"] == ["no_correlated_subqueries"]
    assert {c["name"] for c in payload["checks"]} == set(CHECKS)
    unknown = _cli("metric", "validate", "shop_unpaid_invoice", env_url=world, defs=MINI_DEFS, home=tmp_path)
    assert unknown.returncode == 1
    assert "did you mean shop_unpaid_invoices" in unknown.stderr


def test_cli_small_limits_flag_the_seq_scan(world: str, tmp_path: Path) -> None:
    result = _cli(
        "metric", "validate", str(BAD / "seq_scan_large_table.sql"), "--large-table-mb", "1",
        env_url=world, defs=MINI_DEFS, home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "FAIL  explain" in result.stdout
    assert 'indexes = ["customer, created_at"]' in result.stdout


def test_scaffold_fails_until_todos_are_resolved(world: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    made = _cli(
        "metric", "new", "shop_big_orders_24h", "--source", "shop", "--table", "orders",
        env_url=world, defs=defs, home=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    text = (defs / "shop_big_orders_24h.sql").read_text()
    assert "-- sources: shop" in text and "-- period: 24h" in text
    assert "created_at >= heartbeat.window_start() AND created_at < heartbeat.as_of()" in text
    failing = _validate(defs / "shop_big_orders_24h.sql", world)
    assert "no_todo" in [c.name for c in failing.failed]
    assert "header_complete" in [c.name for c in failing.failed]
    # the author resolves the TODOs
    finished = "\n".join(
        line.split("  -- TODO")[0]
        for line in text.splitlines()
        if not line.startswith("-- TODO") and not line.startswith("--       ")
    )
    finished = (
        finished.replace("-- description: TODO: one sentence: what is counted, over which window.",
                         "-- description: Orders over EUR 60 in the last 24 hours.")
        .replace("-- how_to_read: TODO: when is the value bad, and what should someone do about it.",
                 "-- how_to_read: A drop means big baskets stopped.\n-- owner: sales@example.com")
        .replace("-- methodology: TODO: the exact rule (filters, joins, edge cases).",
                 "-- methodology: Orders with amount > 60.")
        .replace("SELECT count(*) AS value", "SELECT count(*) FILTER (WHERE amount > 60) AS value")
    )  # fmt: skip
    finished = "\n".join(line for line in finished.splitlines() if "-- owner: maint" not in line)
    (defs / "shop_big_orders_24h.sql").write_text(finished)
    report = _validate(defs / "shop_big_orders_24h.sql", world)
    assert report.ok, [c.as_json() for c in report.failed]


def test_new_refuses_taken_and_bad_ids(world: str, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    taken = _cli(
        "metric", "new", "shop_orders_24h", "--source", "shop", env_url=world, defs=defs, home=tmp_path
    )
    assert taken.returncode == 1 and "exists already" in taken.stderr
    bad = _cli("metric", "new", "Shop-Orders", "--source", "shop", env_url=world, defs=defs, home=tmp_path)
    assert bad.returncode == 1 and "not a metric id" in bad.stderr
    nowhere = _cli("metric", "new", "x_count", "--source", "nowhere", env_url=world, defs=defs, home=tmp_path)
    assert nowhere.returncode == 1 and "no landed source 'nowhere'" in nowhere.stderr
    assert "shop" in nowhere.stderr
    no_table = _cli(
        "metric", "new", "x_count", "--source", "shop", "--table", "nope",
        env_url=world, defs=defs, home=tmp_path,
    )  # fmt: skip
    assert no_table.returncode == 1 and "no table shop.nope" in no_table.stderr
    assert not (defs / "x_count.sql").exists()


def test_cli_defaults_match_the_gate() -> None:
    from heartbeat_cli import metric_gate_cmd
    from heartbeat_core.metrics import gate

    assert metric_gate_cmd.DEFAULT_TIME_LIMIT_S == gate.DEFAULT_TIME_LIMIT_S
    assert metric_gate_cmd.DEFAULT_LARGE_TABLE_MB * 1048576 == gate.DEFAULT_LARGE_TABLE_BYTES
    assert metric_gate_cmd.DEFAULT_NESTED_LOOP_OUTER_ROWS == gate.DEFAULT_NESTED_LOOP_OUTER_ROWS
    assert metric_gate_cmd.DEFAULT_RUN_ROWS == gate.DEFAULT_RUN_ROWS


# Acceptance: every metric in metric_defs/ passes the gate on the demo world at scale 1. Defined when
# tests/conftest.py offers the demo world (it reads the session's template; validation only reads).
if hasattr(conftest, "demo_world_template"):
    METRIC_DEFS = REPO_ROOT / "heartbeat_demo" / "project" / "metric_defs"

    @pytest.mark.slow
    @pytest.mark.parametrize("metric_id", sorted(p.stem for p in METRIC_DEFS.glob("*.sql")))
    def test_every_metric_passes_on_the_demo_world(
        demo_world_template: Any, monkeypatch: pytest.MonkeyPatch, metric_id: str
    ) -> None:
        for key, value in demo_world_template.env().items():
            monkeypatch.setenv(key, value)
        reset_settings()
        try:
            report = _validate(METRIC_DEFS / f"{metric_id}.sql", demo_world_template.marts_url)
        finally:
            monkeypatch.undo()
            reset_settings()
        assert report.ok, [c.as_json() for c in report.failed]

    @pytest.mark.slow
    def test_validate_all_cli_passes_on_the_demo_world(demo_world_template: Any, tmp_path: Path) -> None:
        """The command CI and agents run: `heartbeat metric validate --all`."""
        import os

        env = {**os.environ, **demo_world_template.env()}
        result = subprocess.run(
            [HEARTBEAT, "metric", "validate", "--all", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        payload = json.loads(result.stdout)
        failed = {m["metric_id"]: m["failed"] for m in payload["metrics"] if not m["ok"]}
        assert result.returncode == 0 and not failed, failed
        assert len(payload["metrics"]) == len(list(METRIC_DEFS.glob("*.sql"))) >= 30


def test_scaffold_without_a_timestamp_column_fails_point_in_time(world: str, tmp_path: Path) -> None:
    from heartbeat_core.metrics.scaffold import scaffold_metric

    with psycopg.connect(world, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS lookup; CREATE TABLE IF NOT EXISTS lookup.currencies (code text);"
            " CREATE TABLE IF NOT EXISTS lookup._dlt_loads (load_id text, schema_name text, status bigint,"
            " inserted_at timestamptz, schema_version_hash text)"
        )
        made = scaffold_metric(conn, "lookup_currencies", "lookup", tmp_path, owner="fx@example.com")
    assert made.table == "currencies" and made.time_column is None and made.period == "snapshot"
    report = _validate(made.path, world)
    failed = {c.name for c in report.failed}
    assert {"no_todo", "header_complete", "point_in_time"} <= failed
    assert "parses" not in failed and "sources_exist" not in failed


def test_scaffold_guesses() -> None:
    from heartbeat_core.metrics.scaffold import guess_period, pick_time_column

    columns = [
        ("id", "bigint"),
        ("updated_at", "timestamp with time zone"),
        ("create_time", "timestamp without time zone"),
    ]
    assert pick_time_column(columns) == "create_time"
    assert pick_time_column([("id", "bigint")]) is None
    assert guess_period("payments_7d", "create_time") == "7d"
    assert guess_period("open_tickets", "created_at") == "24h"
    assert guess_period("open_tickets", None) == "snapshot"
    from heartbeat_core.metrics.scaffold import _quote

    assert _quote("created_at", {"timestamp"}) == "created_at"
    assert _quote("timestamp", {"timestamp"}) == '"timestamp"'
    assert _quote("CreatedAt", set()) == '"CreatedAt"'


def test_sources_toml_line_extends_an_existing_section(tmp_path: Path) -> None:
    import tomllib

    from heartbeat_core.metrics.gate import sources_toml_line

    toml = tmp_path / "sources.toml"
    toml.write_text(
        '[sources.webbank]\nkind = "postgres"\n\n[sources.webbank.tables.payment]\nindexes = ["create_time"]\n'
    )
    line = sources_toml_line("webbank", "payment", ["type_id", "create_time"], toml)
    assert line.endswith('indexes = ["create_time", "type_id, create_time"]')
    assert "replace its indexes line" in line
    fresh = sources_toml_line("webbank", "entry", ["create_time"], toml)
    assert fresh == '[sources.webbank.tables.entry]\nindexes = ["create_time"]'
    assert (
        tomllib.loads(line)["sources"]["webbank"]["tables"]["payment"]["indexes"][-1]
        == "type_id, create_time"
    )


def test_cli_all_validates_every_file(world: str, tmp_path: Path) -> None:
    good = _cli("metric", "validate", "--all", env_url=world, defs=MINI_DEFS, home=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "5 of 5 metrics pass" in good.stdout
    bad = _cli(
        "metric", "validate", "--all", "--json", "--time-limit", "1", env_url=world, defs=BAD, home=tmp_path
    )
    assert bad.returncode == 1
    payload = json.loads(bad.stdout)
    assert payload["ok"] is False
    assert (
        "no_correlated_subqueries"
        in {m["metric_id"]: m["failed"] for m in payload["metrics"]}["correlated_subquery"]
    )
    neither = _cli("metric", "validate", env_url=world, defs=MINI_DEFS, home=tmp_path)
    assert neither.returncode == 1 and "or --all" in neither.stderr


def test_wall_clock_functions_are_recognised() -> None:
    from heartbeat_core.metrics.gate import function_names

    used, wall = function_names(
        "SELECT count(*) FROM t WHERE a < now() OR b < current_date OR c < localtimestamp"
        " OR d < clock_timestamp() OR e < heartbeat.as_of() OR f >= heartbeat.window_start('7d')"
    )
    assert used == {"heartbeat.as_of()", "heartbeat.window_start()"}
    assert wall == {"now() / current_timestamp", "current_date", "localtimestamp", "clock_timestamp()"}
    assert function_names("SELECT 1 WHERE x < heartbeat.as_of()")[1] == set()


def test_a_correct_history_section_passes(world: str) -> None:
    report = _validate(
        Path(__file__).parent / "fixtures" / "good_metrics" / "shop_orders_history_24h.sql", world
    )
    assert report.ok, [c.as_json() for c in report.failed]
    assert "@history rows" in report.check("history_matches").evidence


def test_a_wrong_history_section_names_the_days(world: str) -> None:
    report = _validate(BAD / "history_mismatch.sql", world)
    assert "≠ @value" in report.check("history_matches").evidence


def test_a_query_that_times_out_still_gets_its_index_named(
    world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_METRIC_STATEMENT_TIMEOUT", "300ms")
    reset_settings()
    try:
        report = _validate(BAD / "slow_query.sql", world, SMALL)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert [c.name for c in report.failed] == ["timing", "explain"]
    explain = report.check("explain")
    assert explain.data["analyzed"] is False  # the estimated plan: the query is not run again
    assert "Seq Scan on shop.orders" in explain.evidence and "(created_at)" in explain.evidence


def test_a_subplan_run_once_per_row_is_flagged_from_the_plan(world: str) -> None:
    """The executor's side of the correlated-subquery rule: a SubPlan looping once per outer row."""
    query = (
        "SELECT count(*) FROM shop.orders o WHERE o.amount > "
        "(SELECT count(*) FROM shop.invoices i WHERE i.customer = o.customer)"
    )
    with psycopg.connect(world, autocommit=True) as conn:
        row = conn.execute(f"EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) {query}").fetchone()
        assert row is not None
        findings, _ = analyze_plan(conn, row[0][0]["Plan"], Limits(nested_loop_outer_rows=1000), None)
    subplans = [f for f in findings if f.kind == "SubPlan"]
    assert subplans and "once per outer row" in subplans[0].detail
    assert subplans[0].describe().startswith("SubPlan 1 runs ")
