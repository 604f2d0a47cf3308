"""The `heartbeat` command as an operator runs it: real subprocesses, real database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg

from heartbeat_demo import PROJECT_DIR
from tests.mini_world import MINI_DEFS, build_mini_sources

HEARTBEAT = str(Path(sys.executable).parent / "heartbeat")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HEARTBEAT, *args], env=env, capture_output=True, text=True, timeout=180)


def cli_env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTBEAT_")}
    env.update(
        HEARTBEAT_DATABASE_URL=url,
        HEARTBEAT_HOME=str(tmp_path / "home"),
        HEARTBEAT_METRIC_DEFS=str(MINI_DEFS),
        HEARTBEAT_PROJECT=str(PROJECT_DIR),  # its audit cuts and sources; the mini world's metric files
    )
    return env


def test_sync_compute_backfill_status_json(marts_url: str, tmp_path: Path) -> None:
    from heartbeat_core import clock

    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, clock.now())
    env = cli_env(marts_url, tmp_path)
    synced = run("sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert "5 added" in synced.stdout
    computed = run("compute", "--backfill", "30", env=env)
    assert computed.returncode == 0, computed.stderr
    status = run("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    model = json.loads(status.stdout)
    assert set(model) >= {"generated_at", "last_job", "metrics"}
    metrics = model["metrics"]
    assert [m["status"] for m in metrics][:2] == ["red", "amber"]
    for metric in metrics:
        assert {"metric_id", "name", "status", "reason", "value", "unit", "period", "norm_value", "alert_value",
                "target_value", "target_hit", "typical_mean", "typical_stddev", "z", "freshness", "source_as_of",
                "computed_at", "error", "owner", "verification_state", "sparkline"} <= set(metric)  # fmt: skip
        assert len(metric["sparkline"]) == 30
        assert metric["reason"]
    table = run("status", env=env)
    assert table.returncode == 0
    assert "shop_unpaid_invoices" in table.stdout and "1 red, 1 amber" in table.stdout
    # the title's moment as people read it (`Heartbeat — 06:12 UTC`), never an ISO date
    assert re.search(r"Heartbeat — \d{2}:\d{2} [A-Z]+", table.stdout), table.stdout[:200]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", table.stdout)
    shown = run("metric", "show", "shop_unpaid_invoices", env=env)
    assert shown.returncode == 0 and "ACME Ltd" in shown.stdout


def test_a_broken_audit_cut_fails_sync_and_loses_nothing(marts_url: str, tmp_path: Path) -> None:
    """A cut file that does not import fails `heartbeat sync` (exit 1, its file and line named, in --json too),
    while every metric and every other cut is still synced."""
    import shutil

    cuts = tmp_path / "audit_cuts"
    shutil.copytree(PROJECT_DIR / "audit_cuts", cuts, ignore=shutil.ignore_patterns("__pycache__"))
    (cuts / "broken_cut.py").write_text("from heartbeat_core.audit import cut\n\n\ndef oops(:\n    pass\n")
    env = {**cli_env(marts_url, tmp_path), "HEARTBEAT_AUDIT_CUTS": str(cuts)}
    synced = run("sync", env=env)
    assert synced.returncode == 1, synced.stdout
    assert "5 added" in synced.stdout and "broken_cut.py: line 4: syntax error" in synced.stderr
    as_json = run("sync", "--json", env=env)
    assert as_json.returncode == 1 and "broken_cut.py" in json.dumps(json.loads(as_json.stdout))
    from heartbeat_core.audit.discovery import discover

    with psycopg.connect(marts_url) as conn:
        rows = conn.execute(
            "SELECT cut_id FROM heartbeat.audit_cut_registry WHERE retired_at IS NULL"
        ).fetchall()
    assert {r[0] for r in rows} == {c.cut_id for c in discover(PROJECT_DIR / "audit_cuts").cuts}


def test_unknown_metric_suggests_the_closest(marts_url: str, tmp_path: Path) -> None:
    env = cli_env(marts_url, tmp_path)
    with psycopg.connect(marts_url) as conn:
        from heartbeat_core import clock

        build_mini_sources(conn, clock.now())
    assert run("sync", env=env).returncode == 0
    result = run("compute", "shop_unpaid_invoice", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "heartbeat: unknown metric 'shop_unpaid_invoice' (did you mean shop_unpaid_invoices?)"
    )


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = cli_env("postgresql://nobody:secret@127.0.0.1:1/marts", tmp_path)
    result = run("status", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "heartbeat: cannot reach the database at postgresql://nobody:***@127.0.0.1:1/marts"
    )
    assert "secret" not in result.stderr


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    env = cli_env("postgresql://x@127.0.0.1:1/m", tmp_path)
    env["HEARTBEAT_TIMEZONE"] = "Mars/Olympus"
    result = run("status", env=env)
    assert result.returncode == 2
    assert "HEARTBEAT_TIMEZONE='Mars/Olympus'" in result.stderr
