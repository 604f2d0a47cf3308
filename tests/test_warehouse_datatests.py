"""Data tests in warehouse mode (issue 17): the declared tests run on the engine (DuckDB, chDB) through
transpiled SQL and give the verdicts they give on the Postgres marts over the same rows; schema drift of a
non-Postgres source says it was not run, never passes silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from heartbeat_core import clock
from heartbeat_core.datatests import run as on_postgres
from heartbeat_core.datatests.spec import declared_tests
from heartbeat_core.ingest.config import parse_sources
from heartbeat_core.settings import reset_settings
from heartbeat_core.warehouse import current
from heartbeat_core.warehouse import datatests as on_engine
from heartbeat_core.warehouse.config import parse_url
from heartbeat_core.warehouse.engines import open_engine

pytestmark = pytest.mark.db

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
SOURCES = """
[sources.s]
kind = "postgres"
connection_env = "HB_NO_SUCH_URL"
[sources.s.tables.orders]
tests = [
  { unique = ["id"] },
  { not_null = ["customer_id"] },
  { accepted_values = "state", values = ["open", "paid"] },
  { relationships = "customer_id", to = "customers.id" },
  { rows_per_day = "created_at" },
  { rows_per_load = true },
  { not_null = ["no_such_column"] },
]
[sources.s.tables.customers]
tests = [{ unique = ["id"] }]
"""
# two rows share id 3, one has no customer, one a state not accepted, one a customer that does not exist
ORDERS = [
    (1, 1, "open"), (2, 2, "paid"), (3, 2, "paid"), (3, 3, "open"), (4, None, "open"), (5, 4, "lost"),
    (6, 9, "paid"), (7, 5, "open"),
]  # fmt: skip


def _orders() -> pa.Table:
    created = [NOW - timedelta(hours=3 * n) for n in range(len(ORDERS))]
    return pa.table({
        "id": pa.array([o[0] for o in ORDERS], pa.int64()),
        "customer_id": pa.array([o[1] for o in ORDERS], pa.int64()),
        "state": pa.array([o[2] for o in ORDERS], pa.string()),
        "created_at": pa.array(created, pa.timestamp("us", "UTC")),
    })  # fmt: skip


def _loads() -> pa.Table:
    return pa.table({
        "load_id": ["1", "2"], "schema_name": ["s", "s"], "status": pa.array([0, 0], pa.int64()),
        "inserted_at": pa.array([NOW - timedelta(days=1), NOW], pa.timestamp("us", "UTC")),
    })  # fmt: skip


def _into_postgres(conn: psycopg.Connection[Any]) -> None:
    conn.execute("CREATE SCHEMA s")
    conn.execute("CREATE TABLE s.customers (id bigint)")
    conn.execute("INSERT INTO s.customers SELECT generate_series(1, 5)")
    conn.execute("CREATE TABLE s.orders (id bigint, customer_id bigint, state text, created_at timestamptz)")
    with conn.cursor() as cur:
        rows = [tuple(r.values()) for r in _orders().to_pylist()]
        cur.executemany("INSERT INTO s.orders VALUES (%s, %s, %s, %s)", rows)
    conn.execute(
        "CREATE TABLE s._dlt_loads (load_id text, schema_name text, status bigint, inserted_at timestamptz)"
    )
    with conn.cursor() as cur:
        loads = [tuple(r.values()) for r in _loads().to_pylist()]
        cur.executemany("INSERT INTO s._dlt_loads VALUES (%s, %s, %s, %s)", loads)


@pytest.mark.parametrize("engine_name", ["duckdb", "chdb"])
def test_declared_tests_give_postgres_verdicts_on_the_engine(
    marts_url: str, tmp_path: Path, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_url(
        f"duckdb://{tmp_path / 'w.duckdb'}" if engine_name == "duckdb" else f"chdb://{tmp_path / 'ch'}"
    )
    writer = open_engine(config, read_only=False)
    writer.replace_table("s", "orders", _orders(), ["created_at"])
    writer.replace_table("s", "customers", pa.table({"id": pa.array(range(1, 6), pa.int64())}))
    writer.replace_table("s", "_dlt_loads", _loads())
    writer.close()
    toml = tmp_path / "sources.toml"
    toml.write_text(SOURCES)
    specs = declared_tests(parse_sources(SOURCES, toml), str(toml))
    engine = open_engine(config)
    with clock.frozen_clock(NOW), psycopg.connect(marts_url, autocommit=True) as conn:
        _into_postgres(conn)
        expected = [on_postgres.run_one_test(conn, s) for s in specs]
        got = [on_engine.run_one_test(engine, conn, s) for s in specs]
    engine.close()

    def verdict(r: Any) -> tuple[Any, ...]:
        ids = [row.get("id") for row in r.sample]
        return (r.spec.test, r.status, r.failing_rows, ids, r.message and r.message.split(" (no such")[0])

    assert [verdict(r) for r in got] == [verdict(r) for r in expected]
    by_test = {(r.spec.table, r.spec.test, r.spec.columns): r for r in got}
    assert by_test[("orders", "unique", ("id",))].failing_rows == 2
    assert [r.status for r in got].count("fail") == 4  # unique, not_null, accepted_values, relationships
    assert by_test[("orders", "relationships", ("customer_id",))].sample[0]["customer_id"] == 9
    assert "column 'no_such_column' does not exist in s.orders" in (
        by_test[("orders", "not_null", ("no_such_column",))].message or ""
    )
    assert all(r.mode == "full" for r in got)

    # `sources test` in warehouse mode: the marts in Postgres are gone, the engine answers
    with psycopg.connect(marts_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA s CASCADE")
    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", config.url)
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(toml))
    reset_settings()
    try:
        with clock.frozen_clock(NOW), psycopg.connect(marts_url) as conn:
            stored = on_postgres.run_source_tests(conn, "s")
    finally:
        current.release()
        reset_settings()
    assert [verdict(r) for r in stored if r.spec.test != "schema"] == [verdict(r) for r in expected]


def test_schema_drift_of_a_non_postgres_source_is_said_not_run() -> None:
    text = '[sources.rates]\nkind = "files"\npath = "/tmp/x"\n[sources.rates.tables.rates]\nglob = "*.csv"\n'
    sources = parse_sources(text, Path("sources.toml"))
    results = on_postgres._drift_not_run(sources["rates"], "sources.toml")
    assert [r.status for r in results] == ["error"]
    assert "not run in warehouse mode: schema drift" in (results[0].message or "")
    assert "source 'rates', table 'rates'" in (results[0].message or "")


def test_audit_cuts_and_the_gates_explain_say_they_do_not_run_in_warehouse_mode(
    marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the CLI (`heartbeat audit refresh`, `metric validate`) and MCP (the cut's `error`) show."""
    from heartbeat_core.audit.read import registry_view
    from heartbeat_core.audit.refresh import refresh_cuts
    from heartbeat_core.metrics.gate.plan import explain
    from heartbeat_demo import PROJECT_DIR

    monkeypatch.setenv("HEARTBEAT_WAREHOUSE_URL", f"chdb://{tmp_path / 'ch'}")
    reset_settings()
    try:
        report = refresh_cuts(directory=PROJECT_DIR / "audit_cuts")
        outcome = explain(None)  # type: ignore[arg-type]  # decided before it reads anything
    finally:
        reset_settings()
    assert report.outcomes and all(
        (o.error or "").startswith("not run in warehouse mode: audit cuts are Python over the Postgres marts")
        and "(chdb)" in (o.error or "")
        for o in report.outcomes
    )
    with psycopg.connect(marts_url) as conn:
        shown = registry_view(conn)
    assert shown and all("not run in warehouse mode" in str(cut) for cut in shown)
    assert outcome.status == "skip" and "warehouse mode: the value runs on the engine" in outcome.evidence
