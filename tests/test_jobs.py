"""Recompute jobs: single-flight, ledger, phases, failure isolation (real Postgres, mini world)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.ingest import SourceResult
from heartbeat_core.jobs import ledger, runner
from heartbeat_core.metrics.registry import UnknownMetric

pytestmark = pytest.mark.db


def landed(rows: int) -> Callable[[str], SourceResult]:
    """An ingest step whose every source lands `rows` rows (the real one needs a reachable source)."""
    return lambda source: SourceResult(source=source, kind="postgres", ok=True, rows=rows)


def test_foreground_job_computes_every_metric(mini_world: str) -> None:
    ticket = runner.request_recompute(
        trigger="cli", background=False, steps=runner.JobSteps(ingest=landed(7))
    )
    assert not ticket.coalesced
    assert ticket.state == "succeeded"
    view = ledger.get_job(ticket.job_id)
    assert view is not None
    assert view.state == "succeeded" and view.phase == "done"
    assert sorted(s.source for s in view.sources) == ["fx", "shop"]
    assert all(s.state == "succeeded" and s.rows == 7 for s in view.sources)
    assert len(view.metrics) == 5 and all(m.state == "succeeded" for m in view.metrics)
    assert view.done == view.total == 7
    assert view.finished_at is not None and view.seconds is not None
    assert ledger.active_job() is None
    with psycopg.connect(mini_world) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM heartbeat.metric_history WHERE job_id = %s", (ticket.job_id,)
        ).fetchone()
        assert rows is not None and rows[0] == 5


def test_unknown_metric_raises_before_any_job(mini_world: str) -> None:
    with pytest.raises(UnknownMetric, match="shop_orders_24h"):
        runner.request_recompute(["shop_orderz_24h"], background=False)
    with psycopg.connect(mini_world) as conn:
        assert conn.execute("SELECT count(*) FROM heartbeat.recompute_job").fetchone() == (0,)


def test_a_source_missing_from_sources_toml_fails_alone(mini_world: str) -> None:
    ticket = runner.request_recompute(["shop_orders_24h"], background=False)  # the real ingest step
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "partial"
    assert [(s.source, s.state) for s in view.sources] == [("shop", "failed")]
    assert "no source 'shop' in sources.toml" in (view.sources[0].error or "")
    assert view.metrics[0].state == "succeeded"


def test_failed_source_keeps_computing_landed_data(mini_world: str) -> None:
    def ingest(source: str) -> SourceResult:
        if source == "fx":
            raise ConnectionError("fx API is down")
        return SourceResult(source=source, kind="postgres", ok=True, rows=3)

    ticket = runner.request_recompute(trigger="cron", background=False, steps=runner.JobSteps(ingest=ingest))
    assert ticket.state == "partial"
    view = ledger.get_job(ticket.job_id)
    assert view is not None
    by_source = {s.source: s for s in view.sources}
    assert by_source["fx"].state == "failed" and "fx API is down" in (by_source["fx"].error or "")
    assert by_source["shop"].state == "succeeded"
    assert len(view.metrics) == 5 and all(m.state == "succeeded" for m in view.metrics)
    assert "fx" in (view.error or "")


def test_background_job_and_coalescing(mini_world: str) -> None:
    release = threading.Event()
    entered = threading.Event()

    def ingest(source: str) -> SourceResult:
        entered.set()
        assert release.wait(30)
        return SourceResult(source=source, kind="postgres", ok=True, rows=1)

    first = runner.request_recompute(trigger="web", steps=runner.JobSteps(ingest=ingest))
    assert not first.coalesced
    assert entered.wait(30)
    active = ledger.active_job()
    assert active is not None and active.job_id == first.job_id and active.phase == "ingest"
    second = runner.request_recompute(["shop_orders_24h"], trigger="mcp")
    assert second.coalesced and second.job_id == first.job_id
    assert second.as_json() == {"job_id": first.job_id, "coalesced": True, "state": "running"}
    seen: list[str] = []
    release.set()
    final = ledger.wait_for_job(first.job_id, on_progress=lambda v: seen.append(v.phase), timeout_s=60)
    assert final.state == "succeeded"
    assert seen and seen[-1] == "done"
    third = runner.request_recompute(["shop_orders_24h"], ingest=False, background=False)
    assert not third.coalesced and third.job_id > first.job_id


def test_the_alert_phase_runs_and_its_failure_is_recorded(mini_world: str) -> None:
    calls: list[int] = []

    def good(conn: psycopg.Connection, job_id: int) -> None:
        conn.execute("SELECT 1")
        calls.append(job_id)

    def bad(conn: psycopg.Connection, job_id: int) -> None:
        raise RuntimeError("slack exploded")

    ticket = runner.request_recompute(ingest=False, background=False, steps=runner.JobSteps(alerts=good))
    assert calls == [ticket.job_id]
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded"
    assert [(h.name.rsplit(".", 1)[-1], h.state) for h in view.hooks] == [("good", "succeeded")]

    ticket = runner.request_recompute(ingest=False, background=False, steps=runner.JobSteps(alerts=bad))
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "partial" and "1 alert hook failed" in (view.error or "")
    (hook,) = view.hooks
    assert hook.name.endswith("bad") and hook.state == "failed" and "slack exploded" in (hook.error or "")
    assert all(m.state == "succeeded" for m in view.metrics)


def test_by_default_the_alert_phase_is_evaluate_and_deliver(mini_world: str) -> None:
    ticket = runner.request_recompute(ingest=False, background=False)
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded"
    assert [(h.name, h.state) for h in view.hooks] == [
        ("heartbeat_core.alerts.evaluate_and_deliver", "succeeded")
    ]
    with psycopg.connect(mini_world) as conn:
        assert conn.execute(
            "SELECT count(*) FROM heartbeat.alert_evaluation WHERE job_id = %s", (ticket.job_id,)
        ).fetchone() == (1,)


def test_the_runner_writes_only_known_phases() -> None:
    from heartbeat_core.jobs.ledger import JOB_PHASES
    from heartbeat_core.jobs.runner import checked_phase

    assert [checked_phase(p) for p in JOB_PHASES] == list(JOB_PHASES)
    with pytest.raises(ValueError, match="unknown job phase 'deliver'"):
        checked_phase("deliver")


def test_coalesced_wait_returns_the_running_jobs_outcome(mini_world: str) -> None:
    release = threading.Event()
    entered = threading.Event()

    def ingest(source: str) -> SourceResult:
        entered.set()
        assert release.wait(30)
        return SourceResult(source=source, kind="postgres", ok=True, rows=1)

    first = runner.request_recompute(["shop_orders_24h"], trigger="web", steps=runner.JobSteps(ingest=ingest))
    assert entered.wait(30)
    answers: list[runner.JobTicket] = []
    waiter = threading.Thread(
        target=lambda: answers.append(runner.request_recompute(trigger="cli", wait=True))
    )
    waiter.start()
    release.set()
    waiter.join(60)
    assert answers == [runner.JobTicket(first.job_id, True, "succeeded")]


def test_typical_refresh_job_refreshes_bands_and_skips_ingest_and_compute(mini_world: str) -> None:
    ticket = runner.request_typical_refresh(trigger="schedule")
    assert ticket.state == "succeeded"
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.sources == [] and view.metrics == [] and view.total == 0
    with psycopg.connect(mini_world) as conn:
        row = conn.execute(
            "SELECT benchmark_computed_at IS NOT NULL FROM heartbeat.metric_registry"
            " WHERE metric_id = 'shop_basket_eur_24h'"
        ).fetchone()
    assert row == (True,)


def test_orphaned_row_is_abandoned_by_the_next_request(mini_world: str) -> None:
    with psycopg.connect(mini_world, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO heartbeat.recompute_job (trigger, state, phase, pid, host)"
            " VALUES ('ghost', 'running', 'compute', 1, 'gone')"
        )
    assert ledger.active_job() is None  # the lock is free: the row is reaped, not reported
    with psycopg.connect(mini_world) as conn:
        assert conn.execute(
            "SELECT state FROM heartbeat.recompute_job WHERE trigger = 'ghost'"
        ).fetchone() == ("abandoned",)
    ticket = runner.request_recompute(ingest=False, background=False)
    assert not ticket.coalesced and ticket.state == "succeeded"


def test_job_view_has_the_documented_shape(mini_world: str) -> None:
    ticket = runner.request_recompute(
        ["shop_orders_24h"], ingest=False, requested_by="ops@example.com", wait=True
    )
    assert ticket.state == "succeeded" and not ticket.coalesced
    view = ledger.get_job(ticket.job_id)
    assert view is not None
    data = view.model_dump(mode="json")
    for key in (
        "job_id", "trigger", "requested_by", "request", "state", "phase", "done", "total", "current_step",
        "sources", "metrics", "started_at", "finished_at", "heartbeat_at", "error", "seconds",
    ):  # fmt: skip
        assert key in data, key
    assert data["request"]["ids"] == ["shop_orders_24h"] and data["request"]["ingest"] is False
    assert data["requested_by"] == "ops@example.com" and data["trigger"] == "api"
    assert data["metrics"] == [
        {"metric_id": "shop_orders_24h", "state": "succeeded", "status": "green", "error": None}
    ]
    assert ledger.get_job(10**9) is None
    with pytest.raises(LookupError):
        ledger.wait_for_job(10**9, timeout_s=1)
    assert ledger.recent_jobs(5)[0].job_id == ticket.job_id


def test_source_due_by_schedule() -> None:
    from datetime import UTC, datetime

    from heartbeat_core.jobs.runner import source_due

    now = datetime(2026, 3, 2, 5, 17, tzinfo=UTC)
    tz = UTC
    assert source_due("hourly", now, now, tz)
    assert source_due("daily", None, now, tz)
    assert not source_due("daily", datetime(2026, 3, 2, 0, 17, tzinfo=UTC), now, tz)
    assert source_due("daily", datetime(2026, 3, 1, 23, 17, tzinfo=UTC), now, tz)
    assert not source_due("0 6 * * *", datetime(2026, 3, 1, 6, 17, tzinfo=UTC), now, tz)
    assert source_due("0 6 * * *", datetime(2026, 3, 1, 5, 17, tzinfo=UTC), now, tz)


def test_a_skipped_sources_note_names_when_it_landed_as_people_read_it() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from heartbeat_core.jobs.runner import not_due_note

    now = datetime(2026, 3, 2, 5, 17, tzinfo=UTC)
    landed = datetime(2026, 3, 2, 1, 12, tzinfo=UTC)
    assert not_due_note("daily", landed, now, UTC) == "not due: schedule daily, landed 01:12 UTC"
    berlin = not_due_note("daily", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), now, ZoneInfo("Europe/Berlin"))
    assert berlin == "not due: schedule daily, landed 00:30 CET"  # the office's day and clock
    assert not_due_note("daily", None, now, UTC) is None and not_due_note("hourly", landed, now, UTC) is None


def test_scheduled_job_skips_sources_that_are_not_due(
    mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core import clock
    from heartbeat_core.settings import reset_settings

    (tmp_path / "sources.toml").write_text(
        '[sources.shop]\nkind = "webhook"\nschedule = "daily"\n\n[sources.fx]\nkind = "webhook"\n'
    )
    monkeypatch.setenv("HEARTBEAT_SOURCES", str(tmp_path / "sources.toml"))
    reset_settings()
    landed: list[str] = []

    def ingest(source: str) -> SourceResult:
        landed.append(source)
        return SourceResult(source=source, kind="webhook", ok=True, rows=1)

    steps = runner.JobSteps(ingest=ingest)
    with psycopg.connect(mini_world, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO heartbeat.source_state (source, last_success_at) VALUES ('shop', %s), ('fx', %s)",
            (clock.now(), clock.now()),
        )
    ticket = runner.request_recompute(
        trigger="schedule", background=False, only_due_sources=True, steps=steps
    )
    view = ledger.get_job(ticket.job_id)
    assert view is not None and view.state == "succeeded"
    assert landed == ["fx"]  # hourly: always due; shop is daily and landed today
    shop = next(s for s in view.sources if s.source == "shop")
    assert shop.state == "skipped" and "not due: schedule daily, landed " in (shop.note or "")
    assert not re.search(r"\d{4}-\d{2}-\d{2}", shop.note or ""), shop.note  # `landed 06:12 UTC`, not ISO
    landed.clear()
    runner.request_recompute(
        trigger="cli", background=False, steps=steps
    )  # an explicit request lands everything
    assert sorted(landed) == ["fx", "shop"]
