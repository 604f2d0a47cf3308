"""`heartbeat recompute` and `heartbeat typical refresh` in real subprocesses against the mini world."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.mini_world import MINI_DEFS

pytestmark = pytest.mark.db
REPO = Path(__file__).resolve().parent.parent


def _run(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HEARTBEAT_DATABASE_URL": url,
        "HEARTBEAT_HOME": str(tmp_path / "home"),
        "HEARTBEAT_METRIC_DEFS": str(MINI_DEFS),
    }
    return subprocess.run(
        [sys.executable, "-m", "heartbeat_cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_recompute_json_no_ingest(mini_world: str, tmp_path: Path) -> None:
    done = _run(mini_world, tmp_path, "recompute", "--no-ingest", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["coalesced"] is False and payload["state"] == "succeeded"
    with psycopg.connect(mini_world) as conn:
        row = conn.execute(
            "SELECT trigger, state, jsonb_array_length(metrics) FROM heartbeat.recompute_job WHERE job_id = %s",
            (payload["job_id"],),
        ).fetchone()
    assert row == ("cli", "succeeded", 5)


def test_recompute_plain_lines_and_partial_exit_code(mini_world: str, tmp_path: Path) -> None:
    # Ingest of the mini world's sources cannot succeed (they are not in sources.toml, or ingest is absent):
    # the job still computes every metric; the exit code says whether it was clean.
    done = _run(mini_world, tmp_path, "recompute", "--metrics", "shop_orders_24h,rates_coverage")
    assert "job " in done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert "2/2 metrics computed" in last
    with psycopg.connect(mini_world) as conn:
        state = conn.execute(
            "SELECT state FROM heartbeat.recompute_job ORDER BY job_id DESC LIMIT 1"
        ).fetchone()
    assert state is not None
    assert done.returncode == (0 if state[0] == "succeeded" else 1)


def test_recompute_unknown_metric_is_one_line(mini_world: str, tmp_path: Path) -> None:
    done = _run(mini_world, tmp_path, "recompute", "--metrics", "shop_orderz_24h", "--json")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("heartbeat: unknown metric 'shop_orderz_24h'")
    assert "shop_orders_24h" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_typical_refresh(mini_world: str, tmp_path: Path) -> None:
    done = _run(mini_world, tmp_path, "typical", "refresh", "--rescore-history", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["state"] == "succeeded" and payload["rescored_rows"] > 0
    with psycopg.connect(mini_world) as conn:
        row = conn.execute(
            "SELECT benchmark_points, benchmark_computed_at IS NOT NULL FROM heartbeat.metric_registry"
            " WHERE metric_id = 'shop_basket_eur_24h'"
        ).fetchone()
    assert row is not None and row[0] >= 7 and row[1]


def test_recompute_on_a_terminal_draws_a_progress_bar(mini_world: str, tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    env = {
        **os.environ,
        "HEARTBEAT_DATABASE_URL": mini_world,
        "HEARTBEAT_HOME": str(tmp_path / "home"),
        "HEARTBEAT_METRIC_DEFS": str(MINI_DEFS),
        "COLUMNS": "100",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "heartbeat_cli.main", "recompute", "--no-ingest"],
        env=env,
        cwd=REPO,
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(120)
    os.close(leader)
    out = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert "succeeded" in out and "5/5 metrics computed" in out
