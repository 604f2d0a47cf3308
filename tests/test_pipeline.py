"""The stalled-pipeline verdict (heartbeat_core.readmodel.pipeline): nothing ran successfully for more than
twice the recompute schedule's interval. Judged with a frozen clock; read by the cockpit and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from heartbeat_cli.main import app
from heartbeat_core import clock, readmodel
from heartbeat_core.readmodel.pipeline import (
    PipelineHealth,
    judge_pipeline,
    last_successful_job,
    schedule_interval_s,
)
from heartbeat_core.settings import reset_settings

T = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)
HOURLY = "17 * * * *"


def test_schedule_interval() -> None:
    assert schedule_interval_s(HOURLY, T) == 3600
    assert schedule_interval_s("*/15 * * * *", T) == 900
    assert schedule_interval_s("23 4 * * *", T) == 86400
    assert schedule_interval_s("hourly", T) == 3600 and schedule_interval_s("daily", T) == 86400
    assert schedule_interval_s("", T) is None and schedule_interval_s("off", T) is None


def test_stalled_after_twice_the_interval() -> None:
    def at(now: datetime) -> PipelineHealth:
        return judge_pipeline(HOURLY, now, computed=[T, T - timedelta(days=1)], job_finished_at=None)

    fine = judge_pipeline(HOURLY, T + timedelta(hours=1), computed=[T], job_finished_at=None)
    assert not fine.stalled and fine.last_success_at == T and fine.schedule_interval_s == 3600
    assert fine.reason == "last successful run 1 h ago (scheduled every 1 h)" and fine.stalled_for_s is None
    edge = judge_pipeline(HOURLY, T + timedelta(hours=2), computed=[T], job_finished_at=None)
    assert not edge.stalled  # exactly two intervals: one missed run is not yet a stall
    late = judge_pipeline(HOURLY, T + timedelta(hours=3), computed=[T, None], job_finished_at=None)
    assert late.stalled and late.stalled_for_s == 3 * 3600
    assert late.reason == "no successful compute for 3 h (scheduled every 1 h)"
    assert at(T + timedelta(hours=3)) == late  # the newest computation counts, not the oldest


def test_a_job_that_ran_counts_and_nothing_to_compute_never_stalls() -> None:
    job = judge_pipeline(HOURLY, T + timedelta(hours=3), computed=[T], job_finished_at=T + timedelta(hours=2))
    assert not job.stalled and job.last_success_at == T + timedelta(hours=2)
    never = judge_pipeline(HOURLY, T, computed=[None, None], job_finished_at=None)
    assert never.stalled and never.stalled_for_s is None and never.reason == "no successful compute yet"
    empty = judge_pipeline(HOURLY, T, computed=[], job_finished_at=None)
    assert not empty.stalled and empty.reason == "no metrics to compute (every 1 h)"
    off = judge_pipeline("off", T + timedelta(days=9), computed=[T], job_finished_at=None)
    assert not off.stalled and off.schedule_interval_s is None


def _job(conn: psycopg.Connection, state: str, finished_at: datetime) -> None:
    conn.execute(
        "INSERT INTO heartbeat.recompute_job (trigger, state, phase, started_at, finished_at)"
        " VALUES ('test', %s, 'done', %s, %s)",
        (state, finished_at - timedelta(minutes=1), finished_at),
    )


@pytest.mark.db
def test_snapshot_carries_the_verdict_and_partial_jobs_count(
    mini_world: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_SCHEDULE_RECOMPUTE", HOURLY)
    reset_settings()
    with psycopg.connect(mini_world, autocommit=True) as conn:
        computed = max(s.computed_at for s in readmodel.metric_states(conn) if s.computed_at)
        later = computed + timedelta(hours=3)
        with clock.frozen_clock(later):
            snap = readmodel.cockpit_snapshot(conn)
        assert snap.pipeline.stalled and snap.pipeline.last_success_at == computed
        assert snap.pipeline.stalled_for_s == pytest.approx(3 * 3600)
        assert snap.model_dump(mode="json")["pipeline"]["stalled"] is True  # /api/cockpit, status --json

        _job(conn, "failed", computed + timedelta(hours=2))
        _job(conn, "abandoned", computed + timedelta(hours=2, minutes=10))
        assert last_successful_job(conn) is None  # failed and abandoned jobs did not run
        with clock.frozen_clock(later):
            assert readmodel.cockpit_snapshot(conn).pipeline.stalled

        _job(conn, "partial", computed + timedelta(hours=2, minutes=30))  # it ran: some metrics failed
        _job(conn, "failed", computed + timedelta(hours=2, minutes=50))
        assert last_successful_job(conn) == computed + timedelta(hours=2, minutes=30)
        with clock.frozen_clock(later):
            health = readmodel.cockpit_snapshot(conn).pipeline
        assert not health.stalled and health.last_success_at == computed + timedelta(hours=2, minutes=30)


@pytest.mark.db
def test_cli_status_prints_a_line_only_when_stalled(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTBEAT_SCHEDULE_RECOMPUTE", HOURLY)
    reset_settings()
    runner = CliRunner()
    calm = runner.invoke(app, ["status"])
    assert calm.exit_code == 0, calm.output
    assert "pipeline stalled" not in calm.output
    with clock.frozen_clock(clock.now() + timedelta(hours=3)):
        stalled = runner.invoke(app, ["status"])
    assert stalled.exit_code == 0, stalled.output
    assert "pipeline stalled: no successful compute for 3 h (scheduled every 1 h)" in stalled.output
