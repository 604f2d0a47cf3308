"""`heartbeat sources add postgres`: read-only introspection, the plan, starter metrics that pass the gate,
and bad input as one clear line with nothing half-written."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from heartbeat_core.ingest.config import PostgresSource, load_sources
from heartbeat_core.ingest.introspect import IntrospectError
from heartbeat_core.ingest.source_add import plan_postgres_source, write_plan
from heartbeat_core.project import PROJECT_ENV
from heartbeat_core.settings import reset_settings
from tests.shop_db import build_shop


@pytest.fixture(scope="module")
def shop_url(create_database: Callable[[str], str]) -> str:
    url = create_database("shop")
    build_shop(url)
    return url


@pytest.fixture
def shop_env(shop_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SHOP_URL", shop_url)
    return shop_url


def test_the_plan_reads_keys_cursors_sizes_and_patterns(shop_env: str) -> None:
    plan = plan_postgres_source("shop", "SHOP_URL", "shop", "ops@example.com")
    tables = {t.name: t for t in plan.schema.tables}
    assert set(tables) == {"customers", "orders"}
    orders = tables["orders"]
    assert (
        orders.primary_key == ["id"] and orders.cursor == "updated_at" and orders.write_disposition == "merge"
    )
    assert orders.business_time == "created_at" and orders.rows > 1000 and orders.size_bytes > 0
    assert orders.status_column == "status" and orders.amount_column == "amount"
    assert orders.indexes == ["created_at", "customer_id", "updated_at"]
    ids = {m.metric_id for m in plan.metrics}
    assert ids == {
        "shop_customers_24h",
        "shop_customers_newest_age_hours",
        "shop_orders_24h",
        "shop_orders_newest_age_hours",
        "shop_orders_cancelled_share_7d",
        "shop_orders_amount_24h",
    }
    rows_per_day = next(m.text for m in plan.metrics if m.metric_id == "shop_orders_24h")
    assert "typical_seasonality: weekday" in rows_per_day and "heartbeat.as_of()" in rows_per_day
    assert "-- owner: ops@example.com" in rows_per_day


def test_written_block_lands_and_every_starter_metric_passes_validate(
    shop_env: str, marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.ingest import run_one
    from heartbeat_core.metrics.gate.checks import validate_file

    project = tmp_path / "p"
    project.mkdir()
    (project / "heartbeat.toml").write_text("")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    reset_settings()
    plan = plan_postgres_source("shop", "SHOP_URL", "shop", "ops@example.com")
    written = write_plan(plan, project / "sources.toml", project / "metric_defs")
    assert len(written) == 7
    source = load_sources()["shop"]
    assert isinstance(source, PostgresSource) and source.connection_env == "SHOP_URL"
    assert run_one("shop").ok
    with psycopg.connect(marts_url) as conn:
        for path in sorted((project / "metric_defs").glob("*.sql")):
            report = validate_file(path, conn)
            assert report.ok, (path.name, report.as_json())
    again = (project / "sources.toml").read_text()
    with pytest.raises(IntrospectError, match="already exists"):
        write_plan(plan, project / "sources.toml", project / "metric_defs")
    assert (project / "sources.toml").read_text() == again


def _expect(match: str, *args: str, **kw: tuple[str, ...]) -> None:
    with pytest.raises(IntrospectError, match=match) as caught:
        plan_postgres_source(*args, None, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_bad_input_is_one_clear_line(shop_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _expect(r"\$NOPE_URL is not set", "shop", "NOPE_URL", "shop")
    monkeypatch.setenv("BAD_URL", "postgresql://nobody:hunter2secret@127.0.0.1:1/shop")
    with pytest.raises(IntrospectError, match=r"cannot connect with \$BAD_URL") as caught:
        plan_postgres_source("shop", "BAD_URL", "shop", None)
    assert "hunter2secret" not in str(caught.value)
    _expect(
        r"schema 'shopx' does not exist in database .* \(schemas there: .*shop", "shop", "SHOP_URL", "shopx"
    )
    _expect("source name 'Shop'", "Shop", "SHOP_URL", "shop")


def test_a_table_without_cursor_and_a_role_without_select(shop_env: str, pg_admin_url: str) -> None:
    with psycopg.connect(shop_env, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS shop.order_status (code text PRIMARY KEY, label text)")
    try:
        _expect(
            r"table shop.order_status has no updated_at-like timestamp .* --replace order_status",
            "shop",
            "SHOP_URL",
            "shop",
        )
        plan = plan_postgres_source("shop", "SHOP_URL", "shop", None, replace=("order_status",))
        lookup = next(t for t in plan.schema.tables if t.name == "order_status")
        assert lookup.write_disposition == "replace" and 'cursor = ""' in plan.toml_block
        assert (
            'tests = [{ unique = ["code"] }]' in plan.toml_block
        )  # proposed from the primary key (issue 18)
        assert plan_postgres_source("shop", "SHOP_URL", "shop", None, exclude=("order_status",)).schema.tables
    finally:
        with psycopg.connect(shop_env, autocommit=True) as conn:
            conn.execute("DROP TABLE shop.order_status")
    role = f"hbt_ro_{secrets.token_hex(3)}"
    with psycopg.connect(shop_env, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA shop TO {role}")
        conn.execute(f"GRANT SELECT ON shop.customers TO {role}")
    try:
        role_url = make_conninfo(shop_env, user=role)
        os.environ["RO_URL"] = role_url
        _expect(
            rf"role {role} lacks SELECT on shop.orders: GRANT SELECT ON ALL TABLES IN SCHEMA shop TO {role}",
            "shop",
            "RO_URL",
            "shop",
        )
    finally:
        os.environ.pop("RO_URL", None)
        with psycopg.connect(shop_env, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_command_shows_the_plan_and_writes_nothing_when_declined(
    shop_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from heartbeat_cli.main import app

    project = tmp_path / "p"
    project.mkdir()
    (project / "heartbeat.toml").write_text("")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    reset_settings()
    args = ["sources", "add", "postgres", "shop", "--url-env", "SHOP_URL", "--schema", "shop"]
    declined = CliRunner().invoke(app, args, input="n\n")
    assert declined.exit_code == 1
    assert "orders: ≈" in declined.output and "[sources.shop.tables.orders]" in declined.output
    assert not (project / "sources.toml").exists() and not (project / "metric_defs").exists()
    accepted = CliRunner().invoke(app, [*args, "--owner", "ops@example.com"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "[sources.shop]" in (project / "sources.toml").read_text()
    assert len(list((project / "metric_defs").glob("*.sql"))) == 6


def test_files_source_from_a_folder_of_csv_lands_and_its_starters_pass_validate(
    marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.ingest import run_one
    from heartbeat_core.ingest.config import FilesSource
    from heartbeat_core.ingest.source_add import plan_files_source
    from heartbeat_core.metrics.gate.checks import validate_file
    from heartbeat_core.project_init import sample_orders_csv

    project = tmp_path / "p"
    drops = project / "drops"
    drops.mkdir(parents=True)
    (project / "heartbeat.toml").write_text("")
    text = sample_orders_csv(days=20)
    lines = text.splitlines()
    (drops / "orders_20261201.csv").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    (drops / "orders_20261202.csv").write_text("\n".join([lines[0], *lines[len(lines) // 2 :]]) + "\n")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    reset_settings()
    with pytest.raises(IntrospectError, match="does not exist"):
        plan_files_source("drops", project / "nope", "*.csv", None, project)
    with pytest.raises(IntrospectError, match=r"no files match \*.jsonl"):
        plan_files_source("drops", drops, "*.jsonl", None, project)
    plan = plan_files_source("drops", drops, "*.csv", "ops@example.com", project)
    orders = plan.schema.tables[0]
    assert orders.name == "orders" and orders.primary_key == ["id"] and orders.write_disposition == "merge"
    assert (
        orders.business_time == "created_at"
        and orders.status_column == "status"
        and orders.amount_column == "amount"
    )
    assert 'glob = "orders[_-][0-9]*.csv"' in plan.toml_block and 'path = "drops"' in plan.toml_block
    write_plan(plan, project / "sources.toml", project / "metric_defs")
    source = load_sources()["drops"]
    assert isinstance(source, FilesSource) and source.folder == drops
    assert run_one("drops").ok
    with psycopg.connect(marts_url) as conn:
        for path in sorted((project / "metric_defs").glob("*.sql")):
            report = validate_file(path, conn)
            assert report.ok, (path.name, report.as_json())


class _Api:
    """A paginated JSON API on loopback (`{"items": [...], "next_page": N | null}`) that wants a bearer token."""

    def __init__(self, records: list[dict[str, object]], token: str) -> None:
        import http.server
        import json
        import threading
        from urllib.parse import parse_qs, urlsplit

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                if url.path != "/v1/orders":
                    self.send_response(404)
                    self.end_headers()
                    return
                query = parse_qs(url.query)
                page, size = int(query.get("page", ["1"])[0]), int(query.get("per_page", ["50"])[0])
                chunk = records[(page - 1) * size : page * size]
                more = page * size < len(records)
                body = json.dumps({"items": chunk, "next_page": page + 1 if more else None}).encode()
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.requests = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_rest_source_from_a_json_api_lands_and_its_starters_pass_validate(
    marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv
    import io

    from heartbeat_core.ingest import run_one
    from heartbeat_core.ingest.config import RestSource
    from heartbeat_core.ingest.source_add import plan_rest_source
    from heartbeat_core.metrics.gate.checks import validate_file
    from heartbeat_core.project_init import sample_orders_csv

    records: list[dict[str, object]] = [
        {**row, "id": int(row["id"]), "amount": float(row["amount"]), "meta": {"channel": "web"}}
        for row in csv.DictReader(io.StringIO(sample_orders_csv(days=20)))
    ]
    api = _Api(records, token="api-secret-123")
    project = tmp_path / "p"
    project.mkdir()
    (project / "heartbeat.toml").write_text("")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    monkeypatch.setenv("SHOP_API", api.url)
    monkeypatch.setenv("SHOP_API_TOKEN", "api-secret-123")
    reset_settings()
    try:
        with pytest.raises(IntrospectError, match=r"\$NOPE_URL is not set"):
            plan_rest_source("shopapi", "NOPE_URL", ["/v1/orders"], None, None, None)
        with pytest.raises(IntrospectError, match="401 — check the token variable"):
            plan_rest_source("shopapi", "SHOP_API", ["/v1/orders"], None, None, None)
        with pytest.raises(IntrospectError, match="HTTP 404"):
            plan_rest_source("shopapi", "SHOP_API", ["/v1/nothing"], "SHOP_API_TOKEN", None, None)
        plan = plan_rest_source(
            "shopapi", "SHOP_API", ["/v1/orders"], "SHOP_API_TOKEN", None, "ops@example.com"
        )
        orders = plan.schema.tables[0]
        assert (orders.name, orders.primary_key, orders.write_disposition) == ("orders", ["id"], "merge")
        assert (orders.business_time, orders.status_column, orders.amount_column) == (
            "created_at", "status", "amount",
        )  # fmt: skip
        assert "api-secret-123" not in plan.toml_block and 'token_env = "SHOP_API_TOKEN"' in plan.toml_block
        write_plan(plan, project / "sources.toml", project / "metric_defs")
        assert isinstance(load_sources()["shopapi"], RestSource)
        assert run_one("shopapi").ok
        with psycopg.connect(marts_url) as conn:
            assert conn.execute("SELECT count(*) FROM shopapi.orders").fetchone() == (len(records),)
            for path in sorted((project / "metric_defs").glob("*.sql")):
                report = validate_file(path, conn)
                assert report.ok, (path.name, report.as_json())
    finally:
        api.close()
