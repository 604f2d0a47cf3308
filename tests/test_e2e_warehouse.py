"""End to end: `heartbeat warehouse parity` on the demo world, through the installed command.

Lands the scale-1 demo marts into DuckDB (through dlt's duckdb destination) and into ClickHouse (chDB), computes
all 38 metrics there and in Postgres at the same moment, and expects every value to match with at most three
metrics carrying an engine-specific section (issue 17); the metrics that read rollups read the engine's
own rollup tables, which parity refreshes there. Marker `e2e` (`make test-e2e`, run by `.ci/run`).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from heartbeat_core.metrics.definition import load_directory
from heartbeat_core.rollups.read import reads
from tests.conftest import REPO_ROOT, DemoWorld

pytestmark = [pytest.mark.e2e, pytest.mark.db]
HEARTBEAT = str(REPO_ROOT / ".venv" / "bin" / "heartbeat")
ROLLUP_READERS = sum(  # from the parsed sections: a fragment (shared_sql/) may hold the rollup reference
    any(reads(sql) for sql in (d.value_sql, d.detail_sql, d.history_sql, d.segments_sql))
    for d in load_directory(REPO_ROOT / "heartbeat_demo" / "project" / "metric_defs").definitions
)


def test_parity_matches_every_demo_metric_on_duckdb_and_clickhouse(demo_world: DemoWorld) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")} | demo_world.env()
    done = subprocess.run(
        [HEARTBEAT, "warehouse", "parity", "--json"], env=env, capture_output=True, text=True, timeout=900
    )
    payload = json.loads(done.stdout)
    rows = payload["metrics"]
    assert {r["engine"] for r in rows} == {"duckdb", "chdb"}
    for engine in ("duckdb", "chdb"):
        mine = [r for r in rows if r["engine"] == engine]
        assert len(mine) == 38
        mismatched = [
            (r["metric_id"], r["postgres"], r["warehouse"], r.get("error")) for r in mine if not r["match"]
        ]
        assert not mismatched, (engine, mismatched, done.stderr[-2000:])
        assert len({r["metric_id"] for r in mine if r["override"]}) <= 3
        # every rollup-reading metric reads the engine's own rollup tables, refreshed there by parity
        on_rollups = {r["metric_id"]: r.get("rollups") for r in mine if r.get("rollups")}
        assert len(on_rollups) == ROLLUP_READERS and set(on_rollups.values()) == {"table"}, (
            engine,
            on_rollups,
        )
        assert set(mine[0]) >= {"metric_id", "engine", "postgres", "warehouse", "match", "override"}
    assert done.returncode == 0, done.stderr[-2000:]


def test_compute_in_warehouse_mode_on_the_demo_world(demo_world: DemoWorld) -> None:
    """Ingest lands each source straight into chDB (dlt's filesystem staging, then MergeTree tables); compute reads
    only the engine, and every metric computes but the helpdesk's, whose API is not running here: those fail
    saying the source is not landed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")} | demo_world.env()
    env["HEARTBEAT_WAREHOUSE_URL"] = f"chdb://{demo_world.home / 'warehouse' / 'chdb'}"
    ingest = subprocess.run(
        [HEARTBEAT, "ingest", "-s", "webbank", "-s", "aml", "-s", "card_management", "-s", "currency_rates"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert "into chdb" in ingest.stdout + ingest.stderr, ingest.stderr[-2000:]
    compute = subprocess.run(
        [HEARTBEAT, "compute", "--json"], env=env, capture_output=True, text=True, timeout=900
    )
    outcomes = json.loads(compute.stdout)["metrics"]
    failed = {o["metric_id"]: o["error"] for o in outcomes if o["error"]}
    # the helpdesk source is not landed here (its API is not running): only its metrics may fail, saying so
    assert all(m.startswith("helpdesk_") for m in failed), failed
    assert all("heartbeat ingest" in e for e in failed.values()), failed
