"""Postgres sources through the real engine: connectorx + parquet, first load, incremental merge,
indexes, watermark, state, and the failures (database down, wrong role, a vanished table)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.ingest import run_all, run_one
from heartbeat_core.ingest.config import parse_sources
from heartbeat_core.readmodel.freshness import source_as_of

N = 5000

SOURCES = """
[sources.shop]
kind = "postgres"
connection_env = "HB_TEST_SHOP_URL"
schema = "core"
primary_key = "id"
cursor = "updated_at"
chunk_size = 1000

[sources.shop.tables.orders]
indexes = ["client_id, created_at"]

[sources.shop.tables.client]

[sources.shop.tables.currency]
primary_key = "code"
cursor = ""
write_disposition = "replace"

[sources.shop.tables.audit_log]
cursor = "id"
write_disposition = "append"

[sources.other]
kind = "postgres"
connection_env = "HB_TEST_OTHER_URL"
schema = "core"
primary_key = "id"
cursor = "updated_at"

[sources.other.tables.client]
"""


def _build_source(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA core")
        conn.execute(
            "CREATE TABLE core.orders (id bigint PRIMARY KEY, client_id int NOT NULL, amount numeric(12,2), "
            "state text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO core.orders SELECT g, g % 97, g / 10.0, 'new', "
            "timestamptz '2026-11-01' + g * interval '1 minute', timestamptz '2026-11-01' + g * interval '1 minute' "
            f"FROM generate_series(1, {N}) g"
        )
        conn.execute(
            "CREATE TABLE core.client (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "INSERT INTO core.client SELECT g, 'client ' || g, timestamptz '2026-11-02' FROM generate_series(0, 96) g"
        )
        conn.execute("CREATE TABLE core.audit_log (id bigint PRIMARY KEY, what text)")
        conn.execute("INSERT INTO core.audit_log SELECT g, 'event ' || g FROM generate_series(1, 300) g")
        conn.execute("CREATE TABLE core.currency (code char(3) PRIMARY KEY, name text)")
        conn.execute("INSERT INTO core.currency VALUES ('EUR', 'Euro'), ('USD', 'US dollar')")


@pytest.fixture
def shop(create_database: Callable[[str], str], marts_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = create_database("shop")
    _build_source(url)
    other = create_database("other")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA core")
        conn.execute("CREATE TABLE core.client (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
        conn.execute("INSERT INTO core.client VALUES (1, '2026-11-03')")
    monkeypatch.setenv("HB_TEST_SHOP_URL", url)
    monkeypatch.setenv("HB_TEST_OTHER_URL", other)
    return url


def _config():  # type: ignore[no-untyped-def]
    return parse_sources(SOURCES, Path("sources.toml"))


def _state(marts_url: str, source: str) -> dict:
    with psycopg.connect(marts_url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        row = conn.execute("SELECT * FROM heartbeat.source_state WHERE source = %s", (source,)).fetchone()
        return dict(row) if row else {}


def test_first_load_incremental_merge_and_no_change(shop: str, marts_url: str) -> None:
    result = run_one("shop", sources=_config())
    assert result.ok, result.error
    by_table = {t.name: t for t in result.tables}
    assert by_table["orders"].rows == N
    assert by_table["orders"].mode == "append"  # first load: nothing to merge with
    assert by_table["client"].rows == 97
    assert by_table["currency"].rows == 2
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM shop.orders").fetchone() == (N, N)
        types = dict(
            m.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'shop' AND table_name = 'orders'"
            ).fetchall()
        )
        assert types["amount"] == "numeric"
        assert types["created_at"] == "timestamp with time zone"
        indexes = {
            r[0] for r in m.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'shop'").fetchall()
        }
        assert any("(client_id, created_at)" in i for i in indexes), (indexes, result.warnings)
        assert any("hb_orders_id" in i for i in indexes)
        loads = m.execute("SELECT count(*) FROM shop._dlt_loads WHERE status = 0").fetchone()[0]
        assert loads >= 1
    state = _state(marts_url, "shop")
    assert state["last_status"] == "ok" and state["last_rows"] == N + 97 + 2 + 300
    assert (
        state["data_watermark"].isoformat().startswith("2026-11-04")
    )  # newest orders.updated_at (N minutes in)

    # change 1% of the rows and add a few: only those land, merged, no duplicates
    with psycopg.connect(shop, autocommit=True) as s:
        s.execute("UPDATE core.orders SET state = 'paid', updated_at = now() WHERE id % 100 = 7")
        s.execute(
            "INSERT INTO core.orders SELECT g, 1, 1, 'new', now(), now() FROM generate_series(10001, 10010) g"
        )
    second = run_one("shop", sources=_config())
    assert second.ok, second.error
    orders = {t.name: t for t in second.tables}["orders"]
    assert orders.mode == "merge"
    assert orders.rows == N // 100 + 10
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM shop.orders").fetchone() == (
            N + 10,
            N + 10,
        )
        assert m.execute("SELECT count(*) FROM shop.orders WHERE state = 'paid'").fetchone()[0] == N // 100
        assert m.execute("SELECT count(*) FROM shop.currency").fetchone()[0] == 2  # replace, not doubled
        as_of = source_as_of(m, ["shop"])
    assert as_of is not None

    third = run_one("shop", sources=_config())
    assert third.ok
    assert {t.name: t.rows for t in third.tables}["orders"] == 0
    # nothing new: no table is even extracted and dlt is not run (cheap checks on the source); freshness
    # rests on the watermark, which no quiet run could move
    assert {t.name: t.mode for t in third.tables} == {
        "orders": "unchanged",
        "client": "unchanged",
        "currency": "unchanged",
        "audit_log": "unchanged",
    }
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*) FROM shop.heartbeat_ingest_run").fetchone()[0] == 2
        assert source_as_of(m, ["shop"]) == as_of

    with psycopg.connect(shop, autocommit=True) as s:
        s.execute("UPDATE core.currency SET name = 'Euro (EUR)' WHERE code = 'EUR'")
    fourth = run_one("shop", sources=_config())
    assert {t.name: (t.mode, t.rows) for t in fourth.tables}["currency"] == ("replace", 2)
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT name FROM shop.currency WHERE code = 'EUR'").fetchone()[0] == "Euro (EUR)"
        assert m.execute("SELECT count(*) FROM shop.currency").fetchone()[0] == 2


def test_vanished_table_fails_alone(shop: str, marts_url: str) -> None:
    assert run_one("shop", sources=_config()).ok
    with psycopg.connect(shop, autocommit=True) as s:
        s.execute("DROP TABLE core.client")
        s.execute("UPDATE core.orders SET state = 'x', updated_at = now() WHERE id = 1")
    result = run_one("shop", sources=_config())
    assert not result.ok
    assert "'client'" in (result.error or "") and "does not exist" in (result.error or "")
    orders = {t.name: t for t in result.tables}["orders"]
    assert orders.error is None and orders.rows == 1  # the other tables of the source still land
    state = _state(marts_url, "shop")
    assert state["last_status"] == "failed" and "client" in state["last_error"]


def test_database_down_and_wrong_role_are_recorded_without_secrets(
    shop: str, marts_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HB_TEST_SHOP_URL", f"postgresql://bob:s3cretpw@localhost:1/nope?host={tmp_path}")
    results = run_all(sources=_config())
    shop_result, other_result = results
    assert not shop_result.ok
    assert "shop" in (shop_result.error or "") and "cannot connect" in (shop_result.error or "")
    assert "s3cretpw" not in (shop_result.error or "")
    assert other_result.ok  # other sources still land
    state = _state(marts_url, "shop")
    assert state["last_status"] == "failed" and "s3cretpw" not in state["last_error"]
    assert state["last_success_at"] is None
    with psycopg.connect(marts_url) as m:
        assert source_as_of(m, ["shop"]) is None
        assert source_as_of(m, ["other"]) is not None

    base = shop.split("?")[0].rsplit("/", 1)[0]
    query = shop.split("?", 1)[1] if "?" in shop else ""
    wrong = base.replace("postgres:@", "no_such_role:hunter22@").replace(
        "postgres@", "no_such_role:hunter22@"
    )
    monkeypatch.setenv("HB_TEST_SHOP_URL", f"{wrong}/{shop.split('?')[0].rsplit('/', 1)[1]}?{query}")
    bad = run_one("shop", sources=_config())
    assert not bad.ok and "hunter22" not in (bad.error or "")
    assert "no_such_role" in (bad.error or "")


def test_lost_working_folder_neither_duplicates_nor_misses(shop: str, marts_url: str, tmp_path: Path) -> None:
    """Marts is the truth: with HEARTBEAT_HOME/dlt gone (a new container), the next run lands what is new."""
    import shutil

    from heartbeat_core.settings import get_settings

    assert run_one("shop", sources=_config()).ok
    shutil.rmtree(get_settings().home / "dlt")
    with psycopg.connect(shop, autocommit=True) as s:
        s.execute("INSERT INTO core.audit_log VALUES (301, 'late'), (302, 'later')")
        s.execute("UPDATE core.orders SET state = 'lost', updated_at = now() WHERE id <= 3")
    again = run_one("shop", sources=_config())
    assert again.ok, again.error
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM shop.audit_log").fetchone() == (302, 302)
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM shop.orders").fetchone() == (N, N)
        assert m.execute("SELECT count(*) FROM shop.orders WHERE state = 'lost'").fetchone()[0] == 3
