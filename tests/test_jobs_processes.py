"""Single-flight across real processes: 50 concurrent callers, kill -9 of a worker, no half-written rows."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core.readmodel.status import resolve_status
from tests.mini_world import MINI_DEFS

pytestmark = [pytest.mark.db, pytest.mark.slow]
CTX = mp.get_context("spawn")
MINI_IDS = [
    "rates_coverage",
    "shop_basket_eur_24h",
    "shop_orders_24h",
    "shop_refund_rate_7d",
    "shop_unpaid_invoices",
]


def _point_at(url: str, home: str) -> None:
    os.environ["HEARTBEAT_DATABASE_URL"] = url
    os.environ["HEARTBEAT_HOME"] = home
    os.environ["HEARTBEAT_METRIC_DEFS"] = str(MINI_DEFS)
    from heartbeat_core.db import reset_pool
    from heartbeat_core.settings import reset_settings

    reset_settings()
    reset_pool()


def _requester(url: str, home: str, threads: int, go: Any, release: Any, out: Any) -> None:
    """One process: `threads` callers that all ask at once; the owner's ingest blocks until `release`."""
    _point_at(url, home)
    from heartbeat_core.ingest import SourceResult
    from heartbeat_core.jobs import ledger, runner

    def ingest(source: str) -> SourceResult:
        assert release.wait(120)
        return SourceResult(source=source, kind="postgres", ok=True, rows=1)

    steps = runner.JobSteps(ingest=ingest)
    tickets: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        go.wait(60)
        ticket = runner.request_recompute(
            ["shop_orders_24h"], trigger=f"pid{os.getpid()}", background=True, steps=steps
        )
        with lock:
            tickets.append(ticket)

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    for t in tickets:
        out.put((os.getpid(), t.job_id, t.coalesced))
    owned = [t for t in tickets if not t.coalesced]
    for t in owned:  # keep the daemon worker thread alive until its job ends
        ledger.wait_for_job(t.job_id, timeout_s=120)


def test_fifty_concurrent_requests_from_three_processes_make_one_job(mini_world: str, tmp_path: Path) -> None:
    go, release, out = CTX.Event(), CTX.Event(), CTX.Queue()
    procs = [
        CTX.Process(target=_requester, args=(mini_world, str(tmp_path / "home"), n, go, release, out))
        for n in (17, 17, 16)
    ]
    for p in procs:
        p.start()
    go.set()
    results = [out.get(timeout=120) for _ in range(50)]
    release.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    job_ids = {r[1] for r in results}
    assert len(job_ids) == 1, results
    assert sum(1 for r in results if not r[2]) == 1  # exactly one caller started it; 49 joined
    assert len({r[0] for r in results}) == 3
    with psycopg.connect(mini_world) as conn:
        rows = conn.execute("SELECT job_id, state FROM heartbeat.recompute_job").fetchall()
    assert rows == [(job_ids.pop(), "succeeded")]


def _blocking_worker(url: str, home: str, defs: str, entered: Any) -> None:
    _point_at(url, home)
    os.environ["HEARTBEAT_METRIC_DEFS"] = defs
    from heartbeat_core.ingest import SourceResult
    from heartbeat_core.jobs import runner

    def ingest(source: str) -> SourceResult:
        entered.set()
        return SourceResult(source=source, kind="postgres", ok=True)

    runner.request_recompute("all", trigger="doomed", background=False, steps=runner.JobSteps(ingest=ingest))


@pytest.fixture
def slow_world(mini_world: str, tmp_path: Path) -> Iterator[str]:
    """The mini world plus `slow_metric`, whose SQL sleeps long enough to be killed mid-compute."""
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    (defs / "slow_metric.sql").write_text(
        "-- name: Slow metric\n-- period: snapshot\n-- unit: count\n-- direction: lower_is_better\n"
        "-- sources: shop\n-- description: Sleeps.\n\n-- @value\nSELECT 1 AS value FROM pg_sleep(20);\n"
    )
    from heartbeat_core.metrics.sync import sync_directory

    with psycopg.connect(mini_world) as conn:
        assert sync_directory(conn, defs).ok
        conn.commit()
    yield str(defs)


def _ledger(url: str, job_id: int | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT job_id, trigger, state, phase, jsonb_array_length(metrics), error FROM heartbeat.recompute_job"
            " ORDER BY job_id"
        ).fetchall()


def _wait_until(predicate: Any, timeout_s: float = 60) -> None:
    """Poll an external condition that has no notification (another process's progress, a dead backend)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _lock_free(url: str) -> bool:
    from heartbeat_core.jobs.ledger import job_lock_held

    with psycopg.connect(url) as conn:
        return not job_lock_held(conn)


def assert_history_consistent(url: str) -> None:
    """Every (metric, day) row is whole: its status is what the contract gives for the value, lines and band
    stored in that same row (failed rows keep their last good value and carry the error)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT h.metric_id, h.as_of_date, h.value, h.status, h.norm_value, h.alert_value, h.typical_mean,
                      h.typical_stddev, h.error, h.computed_at, r.direction, r.typical_options
               FROM heartbeat.metric_history h JOIN heartbeat.metric_registry r USING (metric_id)"""
        ).fetchall()
    assert rows
    for mid, day, value, status, norm, alert, mean, std, _error, computed_at, direction, opts in rows:
        assert computed_at is not None, (mid, day)
        if value is None:
            assert status == "no_data", (mid, day, status)
            continue
        expected = resolve_status(
            float(value),
            direction,
            norm=None if norm is None else float(norm),
            alert=None if alert is None else float(alert),
            typical_mean=mean,
            typical_stddev=std,
            z_amber=(opts or {}).get("z_amber", 1.0),
            z_red=(opts or {}).get("z_red", 2.0),
        )
        assert expected.status == status, (mid, day, value, status, expected)


def test_kill_9_mid_job_releases_the_lock_and_the_next_request_abandons_it(
    slow_world: str, mini_world: str, tmp_path: Path
) -> None:
    entered = CTX.Event()
    proc = CTX.Process(
        target=_blocking_worker, args=(mini_world, str(tmp_path / "home"), slow_world, entered)
    )
    proc.start()
    assert entered.wait(60)
    # Mid-compute: the five quick metrics are written, slow_metric sleeps inside its read-only transaction.
    _wait_until(lambda: (_ledger(mini_world)[-1][3], _ledger(mini_world)[-1][4]) == ("compute", 5))
    doomed = _ledger(mini_world)[-1]
    assert doomed[2] == "running"
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    _wait_until(lambda: _lock_free(mini_world), timeout_s=30)

    os.environ["HEARTBEAT_METRIC_DEFS"] = slow_world
    from heartbeat_core.jobs import ledger, runner

    ticket = runner.request_recompute(MINI_IDS, trigger="next", ingest=False, background=False)
    assert not ticket.coalesced and ticket.job_id > doomed[0]
    assert ticket.state == "succeeded"
    rows = {row[0]: row for row in _ledger(mini_world)}
    assert rows[doomed[0]][2] == "abandoned"
    assert "died" in (rows[doomed[0]][5] or "")
    assert rows[ticket.job_id][2] == "succeeded"
    assert ledger.active_job() is None
    with psycopg.connect(mini_world) as conn:
        slow_rows = conn.execute(
            "SELECT count(*) FROM heartbeat.metric_history WHERE metric_id = 'slow_metric'"
        ).fetchone()
    assert slow_rows == (0,)  # killed before it wrote anything: no half row
    assert_history_consistent(mini_world)


def test_waiter_sees_a_dead_worker_as_abandoned(slow_world: str, mini_world: str, tmp_path: Path) -> None:
    entered = CTX.Event()
    proc = CTX.Process(
        target=_blocking_worker, args=(mini_world, str(tmp_path / "home"), slow_world, entered)
    )
    proc.start()
    assert entered.wait(60)
    _wait_until(lambda: _ledger(mini_world)[-1][3] == "compute")
    job_id = _ledger(mini_world)[-1][0]
    from heartbeat_core.jobs import ledger

    killer = threading.Timer(0.2, lambda: os.kill(proc.pid or 0, signal.SIGKILL))
    killer.start()
    view = ledger.wait_for_job(job_id, timeout_s=60)
    proc.join(30)
    assert view.state == "abandoned"
    assert ledger.get_job(job_id).state == "abandoned"  # type: ignore[union-attr]
