"""The job over the real ingest engine: one source lands, one is down; every metric is computed on landed data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.jobs import ledger, runner
from heartbeat_core.settings import reset_settings

pytestmark = [pytest.mark.db, pytest.mark.slow]

SOURCES = """
[sources.ledger]
kind = "postgres"
connection_env = "HB_TEST_LEDGER_URL"
primary_key = "id"
cursor = "updated_at"

[sources.ledger.tables.entries]

[sources.fx]
kind = "postgres"
connection_env = "HB_TEST_FX_URL"
primary_key = "id"
cursor = "updated_at"

[sources.fx.tables.rates]
"""

METRIC = """-- name: {name}
-- period: snapshot
-- unit: count
-- direction: higher_is_better
-- sources: {source}
-- description: Rows landed.

-- @value
SELECT count(*) AS value FROM {table};
"""


def test_a_source_that_is_down_fails_alone(
    marts_url: str,
    create_database: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = create_database("ledger_src")
    with psycopg.connect(source) as conn:
        conn.execute(
            "CREATE SCHEMA ledger; CREATE TABLE ledger.entries (id bigint PRIMARY KEY, amount numeric,"
            " updated_at timestamptz NOT NULL DEFAULT now());"
            " INSERT INTO ledger.entries (id, amount) VALUES (1, 10), (2, 20), (3, 30);"
        )
    with psycopg.connect(marts_url) as conn:  # fx landed yesterday; its source is down today
        conn.execute(
            "CREATE SCHEMA fx; CREATE TABLE fx.rates (id bigint PRIMARY KEY, rate numeric, updated_at timestamptz);"
            " INSERT INTO fx.rates VALUES (1, 1.1, now()), (2, 0.9, now());"
        )
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "ledger_entries.sql").write_text(
        METRIC.format(name="Ledger entries", source="ledger", table="ledger.entries")
    )
    (defs / "fx_rates.sql").write_text(METRIC.format(name="FX rates", source="fx", table="fx.rates"))
    (tmp_path / "sources.toml").write_text(SOURCES)
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(tmp_path / "sources.toml"))
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    monkeypatch.setenv("HB_TEST_LEDGER_URL", source)
    monkeypatch.setenv("HB_TEST_FX_URL", "postgresql://heartbeat@127.0.0.1:1/gone?connect_timeout=2")
    reset_settings()
    from heartbeat_core.metrics.sync import sync_directory

    with psycopg.connect(marts_url) as conn:
        assert sync_directory(conn, defs).ok
        conn.commit()

    ticket = runner.request_recompute(trigger="cron", background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "partial" == ticket.state
    by_source = {s.source: s for s in view.sources}
    assert by_source["ledger"].state == "succeeded" and by_source["ledger"].rows == 3
    assert by_source["fx"].state == "failed" and by_source["fx"].error
    metrics = {m.metric_id: m for m in view.metrics}
    assert metrics["ledger_entries"].state == "succeeded" and metrics["fx_rates"].state == "succeeded"
    with psycopg.connect(marts_url) as conn:
        values = dict(
            conn.execute(
                "SELECT metric_id, value FROM heartbeat.metric_history WHERE job_id = %s", (ticket.job_id,)
            )
        )
    assert values == {"ledger_entries": 3, "fx_rates": 2}
