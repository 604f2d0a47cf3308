"""sources.toml validation (errors name the file, the source and the key) and the CLI commands."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from heartbeat_cli.main import app
from heartbeat_core.ingest.config import SourcesConfigError, load_sources, parse_sources, resolved_tables
from heartbeat_core.ingest.connections import libpq_url
from heartbeat_core.redaction import redact
from heartbeat_core.settings import reset_settings

REPO = Path(__file__).resolve().parent.parent


def _err(text: str) -> str:
    with pytest.raises(SourcesConfigError) as info:
        parse_sources(text, Path("/etc/hb/sources.toml"))
    return str(info.value)


def test_repo_sources_toml_is_valid_and_describes_the_demo() -> None:
    sources = load_sources(REPO / "heartbeat_demo" / "project" / "sources.toml")
    assert set(sources) == {"webbank", "aml", "card_management", "currency_rates", "helpdesk"}
    kinds = {name: s.kind for name, s in sources.items()}
    assert (
        kinds["currency_rates"] == "files" and kinds["helpdesk"] == "rest" and kinds["webbank"] == "postgres"
    )
    webbank = {t.name: t for t in resolved_tables(sources["webbank"])}
    assert webbank["payment"].write_disposition == "merge" and webbank["payment"].cursor == "updated_at"
    assert webbank["payment_state"].write_disposition == "replace"
    assert ["id"] in webbank["payment"].indexes


def test_typos_name_file_source_and_key() -> None:
    base = '[sources.shop]\nkind = "postgres"\nconnection_env = "X"\n[sources.shop.tables.orders]\n'
    msg = _err(base + 'cursr = "updated_at"\n')
    assert "/etc/hb/sources.toml" in msg and "'shop'" in msg and "cursr" in msg and "unknown key" in msg
    msg = _err(base.replace('"postgres"', '"postgre"'))
    assert "'shop'" in msg and "unknown kind 'postgre'" in msg
    msg = _err(base + 'write_disposition = "upsert"\n')
    assert "write_disposition" in msg
    msg = _err(base.replace('connection_env = "X"\n', 'conection_env = "X"\n'))
    assert "conection_env" in msg and "connection_env" in msg
    msg = _err(
        '[sources.shop]\nkind = "postgres"\nconnection_env = "X"\nprimary_key = ""\n[sources.shop.tables.t]\ncursor = ""\nwrite_disposition = "merge"\n'
    )
    assert "merge needs a primary_key" in msg
    msg = _err("[sources.shop\n")
    assert "not valid TOML" in msg
    msg = _err('[source.shop]\nkind = "rest"\n')
    assert "'source'" in msg and "unknown key" in msg
    with pytest.raises(SourcesConfigError, match="no such file"):
        load_sources(Path("/nonexistent/sources.toml"))


def test_urls_and_scrubbing() -> None:
    assert (
        libpq_url("postgresql://postgres:@/db?host=/tmp/x")
        == "postgresql://postgres:@localhost:5432/db?host=/tmp/x"
    )
    assert libpq_url("postgresql://u:p@h:6543/db") == "postgresql://u:p@h:6543/db"
    text = "connect postgresql://bob:hunter2@db:5432/x failed; password=hunter2 Authorization: Bearer abc.def"
    clean = redact(text)
    assert "hunter2" not in clean and "abc.def" not in clean and "bob" in clean


def test_cli_ingest_status_and_report(
    create_database: Callable[[str], str], marts_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src = create_database("cli")
    with psycopg.connect(src, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
        conn.execute(
            "CREATE TABLE app.item (id int PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO app.item (id) SELECT generate_series(1, 50)")
        conn.execute("CREATE TABLE app.kind (code text, label text)")
        conn.execute("INSERT INTO app.kind VALUES ('a', 'A')")
    config = tmp_path / "sources.toml"
    config.write_text(
        '[sources.app]\nkind = "postgres"\nconnection_env = "HB_CLI_SRC"\nprimary_key = "id"\ncursor = "updated_at"\n'
        '[sources.app.tables.item]\n[sources.app.tables.kind]\nprimary_key = ""\ncursor = ""\n'
        '[sources.gone]\nkind = "postgres"\nconnection_env = "HB_CLI_MISSING"\n[sources.gone.tables.x]\n'
    )
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(config))
    monkeypatch.setenv("HB_CLI_SRC", src)
    monkeypatch.delenv("HB_CLI_MISSING", raising=False)
    reset_settings()
    runner = CliRunner()

    ok = runner.invoke(app, ["ingest", "--source", "app"])
    assert ok.exit_code == 0, ok.output
    assert "app.item: 50 rows" in ok.output

    failed = runner.invoke(app, ["ingest"])
    assert failed.exit_code == 1
    assert "HB_CLI_MISSING" in failed.output and "1 of 2 sources failed: gone" in failed.output

    unknown = runner.invoke(app, ["ingest", "--source", "nope"])
    assert unknown.exit_code == 1 and "no source 'nope'" in unknown.output

    status = runner.invoke(app, ["sources", "status", "--json"])
    assert status.exit_code == 0, status.output
    rows = {r["source"]: r for r in json.loads(status.output)}
    assert rows["app"]["last_status"] == "ok" and rows["app"]["freshness"] == "fresh"
    assert rows["gone"]["last_status"] == "failed" and rows["gone"]["freshness"] == "red"
    assert "HB_CLI_MISSING" in rows["gone"]["last_error"]
    human = runner.invoke(app, ["sources", "status"])
    assert human.exit_code == 0, human.output
    app_line = next(line for line in human.output.splitlines() if line.startswith("app "))
    assert re.search(r"last load \d\d:\d\d UTC \(\d+ s ago\)", app_line), app_line
    assert not re.search(r"\d{4}-\d\d-\d\dT", human.output), human.output

    report = runner.invoke(app, ["sources", "report", "--json"])
    assert report.exit_code == 0, report.output
    by_table = {(r["source"], r["table"]): r for r in json.loads(report.output)}
    assert by_table[("app", "kind")]["replace"] is True and by_table[("app", "kind")]["bytes"] > 0
    assert by_table[("app", "item")]["replace"] is False
    text = runner.invoke(app, ["sources", "report"])
    assert "REPLACE app.kind" in text.output

    config.write_text(config.read_text() + "tabels = 1\n")
    bad = runner.invoke(app, ["sources", "status"])
    assert bad.exit_code == 1 and str(config) in bad.output and "tabels" in bad.output
