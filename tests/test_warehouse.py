"""Warehouse mode (issue 17): metric SQL transpiled to DuckDB and ClickHouse (chDB), run there read-only and
time-limited, and compute writing the engine's values to the read model as it writes Postgres's."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pytest

from heartbeat_core.compute.binding import Moments, nominal_moments
from heartbeat_core.metrics.definition import DefinitionError, load_directory, parse_metric_text
from heartbeat_core.metrics.gate import Limits
from heartbeat_core.metrics.gate.context import GateContext, to_registry_metric
from heartbeat_core.metrics.gate.warehouse import transpiles
from heartbeat_core.settings import reset_settings
from heartbeat_core.warehouse import current
from heartbeat_core.warehouse.config import WarehouseError, parse_url
from heartbeat_core.warehouse.engines import EngineQueryError, open_engine
from heartbeat_core.warehouse.parity import values_match
from heartbeat_core.warehouse.transpile import TranspileError, bind, for_engine, transpile
from tests.conftest import REPO_ROOT

DEMO_DEFS = REPO_ROOT / "heartbeat_demo" / "project" / "metric_defs"
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)

HEADER = """\
-- name: A metric
-- period: 24h
-- unit: count
-- direction: lower_is_better
-- sources: shop
"""


def _ch(sql: str) -> str:
    return transpile(sql, "clickhouse")


def test_percentile_cont_is_an_exact_clickhouse_quantile() -> None:
    sql = _ch("SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY t.x) FROM s.t t")
    assert "quantileExactInclusive(0.95)(t.x)" in sql
    assert "quantile(" not in sql.replace("quantileExactInclusive(", "")
    assert "QUANTILE_CONT(t.x, 0.5" in transpile(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t.x) FROM s.t t", "duckdb"
    )


def test_epoch_of_a_timestamp_difference_counts_microseconds_on_clickhouse() -> None:
    sql = _ch("SELECT extract(epoch FROM t.b - t.a) FROM s.t t")
    assert "dateDiff('microsecond', t.a, t.b) / 1000000" in sql


def test_decimals_keep_their_digits() -> None:
    duck = transpile("SELECT x::numeric FROM s.t", "duckdb")
    assert "DECIMAL(38, 10)" in duck  # not DuckDB's bare DECIMAL(18,3)
    ch = _ch("SELECT round(100.0 * count(*) / nullif(sum(t.fee) / count(*), 0), 2) FROM s.t t")
    assert "toDecimal128('100.0', 10)" in ch  # Postgres' exact 100.0, not a Float64
    assert "toDecimal128(SUM(t.fee), 10) / COUNT(*)" in ch  # ClickHouse divides at the dividend's scale


def test_bool_or_date_arithmetic_and_month_names_on_clickhouse() -> None:
    sql = _ch(
        "SELECT to_char(t.d, 'Mon YYYY'), t.d::date - t.e FROM s.t t GROUP BY 1, 2 HAVING bool_or(t.ok)"
    )
    assert "MAX(t.ok)" in sql
    assert "dateDiff('day', t.e," in sql
    assert "'%b %Y'" in sql


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT s.n FROM c CROSS JOIN LATERAL (VALUES (1), (2)) AS s(n)", "LATERAL"),
        ("SELECT string_agg(t.a, ', ' ORDER BY t.b) FROM s.t t", "string_agg(... ORDER BY ...)"),
        ("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t.x) FROM s.t t", "percentile_disc"),
    ],
)
def test_a_construct_clickhouse_lacks_names_itself_and_the_override(sql: str, construct: str) -> None:
    with pytest.raises(TranspileError) as info:
        transpile(sql, "clickhouse", "detail")
    assert construct in info.value.construct
    assert info.value.override == "-- @detail[clickhouse]"
    assert "-- @detail[clickhouse]" in str(info.value)


def test_only_one_select_transpiles() -> None:
    with pytest.raises(TranspileError, match="tries to write"):
        transpile("WITH d AS (DELETE FROM s.t RETURNING *) SELECT count(*) FROM d", "duckdb")
    with pytest.raises(TranspileError, match="not one SELECT"):
        transpile("SELECT 1; SELECT 2", "clickhouse")


def test_helpers_bind_to_each_engines_literal_in_the_metric_zone() -> None:
    moments = Moments(NOW, NOW, NOW.date(), {"24h": NOW, "7d": NOW})
    berlin = ZoneInfo("Europe/Berlin")
    sql = "SELECT 1 WHERE a < heartbeat.as_of() AND b >= heartbeat.window_start('7d') - heartbeat.period_interval('24h')"
    assert "toDateTime64('2026-12-02 10:30:15.123456', 6)" in bind(sql, moments, "clickhouse", berlin)
    duck = bind(sql, moments, "duckdb", UTC_ZONE)
    assert "CAST('2026-12-02 09:30:15.123456' AS TIMESTAMP)" in duck
    assert "interval '24 hours'" in duck
    with pytest.raises(TranspileError, match=r"heartbeat\.made_up\(\)"):
        bind("SELECT heartbeat.made_up()", moments, "duckdb", UTC_ZONE)


def test_override_sections_parse_into_engine_sql() -> None:
    text = HEADER + "\n-- @value\nSELECT 1 AS value\n\n-- @value[clickhouse]\nSELECT toUInt8(1) AS value;\n"
    definition = parse_metric_text(text, "m", "metric_defs/m.sql")
    assert definition.value_sql == "SELECT 1 AS value"
    assert definition.engine_sql == {"value[clickhouse]": "SELECT toUInt8(1) AS value"}
    metric = to_registry_metric(definition)
    moments = nominal_moments(NOW, UTC_ZONE, metric.period)
    ready = for_engine(metric, "value", "clickhouse", moments, UTC_ZONE)
    assert ready is not None and ready.override and ready.sql == "SELECT toUInt8(1) AS value"
    duck = for_engine(metric, "value", "duckdb", moments, UTC_ZONE)
    assert duck is not None and not duck.override


def test_an_override_for_an_unknown_engine_names_file_and_line() -> None:
    text = HEADER + "\n-- @value\nSELECT 1 AS value\n\n-- @value[oracle]\nSELECT 1 FROM dual\n"
    with pytest.raises(DefinitionError) as info:
        parse_metric_text(text, "m", "metric_defs/m.sql")
    assert "metric_defs/m.sql:10: unknown engine 'oracle' in @value[oracle]" in str(info.value)


def test_every_demo_metric_carries_over_to_both_engines_with_at_most_three_overrides() -> None:
    loaded = load_directory(DEMO_DEFS)
    assert not loaded.problems
    for definition in loaded.definitions:
        metric = to_registry_metric(definition)
        moments = nominal_moments(NOW, UTC_ZONE, metric.period)
        for engine in ("duckdb", "clickhouse"):
            for section in ("value", "detail", "history", "segments"):
                for_engine(metric, section, engine, moments, UTC_ZONE)  # raises if it does not carry over
    with_override = [d.metric_id for d in loaded.definitions if d.engine_sql]
    assert len(with_override) <= 3, with_override


def _gate_context(tmp_path: Path, text: str) -> GateContext:
    path = tmp_path / "m.sql"
    path.write_text(text)
    definition = parse_metric_text(text, "m", str(path))
    return GateContext(
        path,
        text,
        None,
        Limits(),
        NOW,
        UTC_ZONE,
        tmp_path / "sources.toml",
        definition,
        [],
        [],  # type: ignore[arg-type]
    )


def test_the_gate_fails_a_metric_that_does_not_transpile_only_in_warehouse_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lateral = "SELECT s.n AS value FROM shop.orders o CROSS JOIN LATERAL (VALUES (1)) AS s(n) WHERE o.created_at < heartbeat.as_of()"
    ctx = _gate_context(tmp_path, HEADER + f"\n-- @value\n{lateral}\n")
    monkeypatch.delenv("HEARTBEAT_WAREHOUSE_URL", raising=False)
    reset_settings()
    outcome = transpiles(ctx)
    assert outcome.status == "pass"
    assert "would need an override on clickhouse: @value (a LATERAL join" in outcome.evidence
    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", f"chdb://{tmp_path / 'ch'}")
    reset_settings()
    outcome = transpiles(ctx)
    assert outcome.status == "fail"
    assert "LATERAL" in outcome.evidence
    assert outcome.fix is not None and "-- @value[clickhouse]" in outcome.fix
    reset_settings()


def test_warehouse_urls() -> None:
    assert parse_url("duckdb:///srv/marts.duckdb").path == Path("/srv/marts.duckdb")
    assert parse_url("chdb:///srv/ch").label == "chdb"
    assert parse_url("clickhouse://u@h:8123/marts").engine == "clickhouse"
    with pytest.raises(WarehouseError, match="unknown engine 'oracle'"):
        parse_url("oracle://x")
    with pytest.raises(WarehouseError, match="documented"):
        open_engine(parse_url("bigquery://project/dataset"))


def test_values_match_exactly_for_counts_and_relatively_for_decimals() -> None:
    assert values_match(3.0, 3.0, exact=True) and not values_match(3.0, 3.0000001, exact=True)
    assert values_match(1e6, 1e6 * (1 + 1e-10), exact=False)
    assert not values_match(8.46, 8.45, exact=False)
    assert values_match(None, None, exact=True) and not values_match(None, 0.0, exact=True)


@pytest.fixture(params=["duckdb", "chdb"])
def small_engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = parse_url(
        f"duckdb://{tmp_path / 'w.duckdb'}" if request.param == "duckdb" else f"chdb://{tmp_path / 'ch'}"
    )
    writer = open_engine(config, read_only=False)
    writer.replace_table("s", "t", pa.table({"x": pa.array([1, 2, 3, 4], pa.int64())}))
    writer.close()
    engine = open_engine(config)
    yield engine
    engine.close()


def test_engines_are_read_only_and_time_limited(small_engine) -> None:  # type: ignore[no-untyped-def]
    engine = small_engine
    result = engine.query(
        transpile("SELECT sum(t.x) AS value FROM s.t t", engine.config.engine), timeout_s=5, timezone="UTC"
    )
    assert [float(r[0]) for r in result.rows] == [10.0]
    with pytest.raises(EngineQueryError):
        engine.query("INSERT INTO s.t VALUES (5)", timeout_s=5, timezone="UTC")
    endless = (
        "SELECT count(*) FROM range(100000000000) a"
        if engine.config.engine == "duckdb"
        else "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0"
    )
    with pytest.raises(EngineQueryError) as info:
        engine.query(endless, timeout_s=1, timezone="UTC")
    assert info.value.timed_out


def test_a_key_list_parameter_reads_the_same_on_both_engines(small_engine) -> None:  # type: ignore[no-untyped-def]
    """`x = ANY (ARRAY(SELECT … EXCEPT SELECT …))` (the active-client metrics' late lookup): DuckDB takes it as
    written, ClickHouse as `x IN (SELECT …)` — its own translation `has([SELECT …], x)` does not parse."""
    sql = (
        "WITH wanted AS (SELECT t.x FROM s.t t WHERE t.x > 1), dropped AS (SELECT t.x FROM s.t t WHERE t.x = 4)"
        " SELECT sum(t.x) AS value FROM s.t t"
        " WHERE t.x = ANY (ARRAY(SELECT w.x FROM wanted w EXCEPT SELECT d.x FROM dropped d))"
    )
    engine = small_engine
    ran = transpile(sql, engine.config.engine)
    assert (" IN (SELECT " in ran) == (engine.config.engine == "clickhouse"), ran
    result = engine.query(ran, timeout_s=5, timezone="UTC")
    assert [float(r[0]) for r in result.rows] == [5.0]  # 2 + 3


@pytest.mark.db
def test_compute_in_warehouse_mode_writes_the_engines_values(
    mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mini world landed into DuckDB; compute (value, detail, @history backfill) runs there and writes
    the same values to the read model as the Postgres run did."""
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.metrics.sync import sync_directory
    from heartbeat_core.warehouse.land import land

    defs = tmp_path / "metric_defs"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "mini_defs", defs)
    (defs / "shop_orders_daily.sql").write_text(
        HEADER.replace("period: 24h", "period: 24h\n-- owner: a@example.com")
        + "\n-- @value\nSELECT count(*) AS value FROM shop.orders o\n"
        "WHERE o.created_at >= heartbeat.window_start() AND o.created_at < heartbeat.as_of()\n"
        "\n-- @history\nSELECT (o.created_at - interval '1 second')::date AS as_of_date, count(*) AS value\n"
        "FROM shop.orders o WHERE o.created_at >= heartbeat.history_from() AND o.created_at < heartbeat.as_of()\n"
        "GROUP BY 1\n"
    )
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    reset_settings()
    with psycopg.connect(mini_world, autocommit=True) as conn:
        sync_directory(conn, defs)
    postgres = {o.metric_id: o.value for o in compute_metrics().outcomes}
    url = f"duckdb://{tmp_path / 'marts.duckdb'}"
    with psycopg.connect(mini_world) as conn:
        land(parse_url(url), mini_world, conn, pipelines_dir=tmp_path / "dlt")
    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", url)
    reset_settings()
    try:
        report = compute_metrics(backfill_days=3)
    finally:
        current.release()
    assert report.ok, [(o.metric_id, o.error) for o in report.failed]
    assert {o.metric_id: o.value for o in report.outcomes} == postgres
    with psycopg.connect(mini_world) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM heartbeat.metric_history WHERE metric_id = 'shop_orders_daily' AND error IS NULL"
        ).fetchone()
    assert rows is not None and rows[0] == 4

    # parity's Postgres side stays on Postgres whatever the configured warehouse (here one that cannot open)
    from heartbeat_core.metrics.registry import active_metrics
    from heartbeat_core.warehouse.parity import compare_metric

    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", f"duckdb://{tmp_path / 'absent.duckdb'}")
    reset_settings()
    engine = open_engine(parse_url(url))
    try:
        with psycopg.connect(mini_world) as conn:
            compared = [compare_metric(conn, engine, m, NOW) for m in active_metrics(conn)]
    finally:
        engine.close()
    assert all(r.match for r in compared), [(r.metric_id, r.postgres, r.warehouse, r.error) for r in compared]


def test_a_warehouse_that_cannot_open_is_the_metrics_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.compute.engine import MetricSQLError, evaluate

    metric = to_registry_metric(parse_metric_text(HEADER + "\n-- @value\nSELECT 1 AS value\n", "m", "m.sql"))
    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", f"duckdb://{tmp_path / 'missing.duckdb'}")
    reset_settings()
    try:
        with pytest.raises(
            MetricSQLError, match=r"no DuckDB file at .*missing\.duckdb .*land the marts first"
        ):
            evaluate(None, metric, NOW)  # type: ignore[arg-type]  # fails before any Postgres work
    finally:
        current.release()
        reset_settings()


def test_warehouse_transpile_prints_what_the_engine_runs() -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env["HEARTBEAT_PROJECT"] = str(REPO_ROOT / "heartbeat_demo" / "project")
    heartbeat = str(REPO_ROOT / ".venv" / "bin" / "heartbeat")
    done = subprocess.run(
        [heartbeat, "warehouse", "transpile", "onboarding_funnel_30d", "--engine", "clickhouse"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "-- @value (override)\n" in done.stdout and "toDateTime64(" in done.stdout
    assert "-- @detail (override)" in done.stdout and "ARRAY JOIN" in done.stdout


def test_warehouse_transpile_binds_the_metrics_own_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from heartbeat_cli.main import app
    from heartbeat_core.clock import frozen_clock

    defs = tmp_path / "metric_defs"
    defs.mkdir()
    sql = "SELECT count(*) AS value FROM shop.orders\nWHERE created_at >= heartbeat.window_start() AND created_at < heartbeat.as_of()\n"
    (defs / "orders_30d.sql").write_text(HEADER.replace("24h", "30d") + "\n-- @value\n" + sql)
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "UTC")
    reset_settings()
    try:
        with frozen_clock(NOW):
            done = CliRunner().invoke(app, ["warehouse", "transpile", "orders_30d", "--engine", "duckdb"])
    finally:
        reset_settings()
    assert done.exit_code == 0, done.output
    # the window a 30d metric computes over: 30 days before its as-of, not the 24 h of a plain psql session
    assert "created_at >= CAST('2026-11-02 09:30:15.123456' AS TIMESTAMP)" in done.output, done.output
    assert "created_at < CAST('2026-12-02 09:30:15.123456' AS TIMESTAMP)" in done.output, done.output


def test_landing_keeps_postgres_numeric_precision_and_orders_by_the_time_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heartbeat_core.warehouse.land import _numeric_type, sort_keys

    def field(typmod: int) -> pa.Field:
        meta = {b"POSTGRESQL:type": b"numeric", b"POSTGRESQL:typmod": str(typmod).encode()}
        return pa.field("x", pa.string(), metadata=meta)

    assert _numeric_type(field(((14 << 16) | 2) + 4)) == pa.decimal128(14, 2)  # numeric(14,2)
    assert _numeric_type(field(-1)) == pa.decimal128(38, 10)  # bare numeric
    assert _numeric_type(pa.field("x", pa.int64())) is None
    monkeypatch.setenv("HEARTBEAT_PROJECT", str(REPO_ROOT / "heartbeat_demo" / "project"))
    reset_settings()
    keys = sort_keys(["webbank"])
    reset_settings()
    assert keys[("webbank", "payment")] == ["create_time"]  # not the primary key `id`
    assert keys[("webbank", "payment_state_log")] == ["state_id", "timestamp"]
    assert ("webbank", "payment_state") not in keys  # a lookup table keeps its order


def test_untested_engines_get_the_rewrites_that_were_read() -> None:
    sql = "SELECT extract(epoch FROM t.b - t.a) FROM s.t t"
    assert "TIMESTAMPDIFF(MICROSECOND, t.a, t.b) / 1000000" in transpile(sql, "snowflake")
    assert "TIMESTAMP_DIFF(t.b, t.a, MICROSECOND) / 1000000" in transpile(sql, "bigquery")
    with pytest.raises(TranspileError, match="analytic function"):
        transpile("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t.x) FROM s.t t", "bigquery")
