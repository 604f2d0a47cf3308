"""The in-process scheduler, driven through tick(now) with a frozen clock: no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.jobs import scheduler
from heartbeat_core.jobs.scheduler import Schedule, Scheduler, last_tick, next_tick
from heartbeat_core.settings import SettingsError, get_settings

pytestmark = pytest.mark.db
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_last_and_next_tick_are_inclusive_and_zone_aware() -> None:
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    assert last_tick("17 * * * *", datetime(2026, 3, 2, 14, 17, tzinfo=UTC), utc) == datetime(
        2026, 3, 2, 14, 17, tzinfo=UTC
    )
    assert last_tick("17 * * * *", datetime(2026, 3, 2, 14, 16, 59, tzinfo=UTC), utc) == datetime(
        2026, 3, 2, 13, 17, tzinfo=UTC
    )
    assert next_tick("23 4 * * *", datetime(2026, 3, 2, 4, 23, tzinfo=UTC), utc) == datetime(
        2026, 3, 3, 4, 23, tzinfo=UTC
    )
    berlin = ZoneInfo("Europe/Berlin")  # 04:23 in the office is 03:23 UTC in winter
    assert last_tick("23 4 * * *", datetime(2026, 3, 2, 12, 0, tzinfo=UTC), berlin) == datetime(
        2026, 3, 2, 3, 23, tzinfo=UTC
    )


def _counting(marts_url: str) -> tuple[Scheduler, list[tuple[str, datetime]]]:
    calls: list[tuple[str, datetime]] = []

    def action(name: str) -> object:
        def run() -> None:
            calls.append((name, clock.now()))

        return run

    sched = Scheduler(
        get_settings(),
        schedules=[
            Schedule("recompute", "17 * * * *", action("recompute")),  # type: ignore[arg-type]
            Schedule("typical", "23 4 * * *", action("typical")),  # type: ignore[arg-type]
            Schedule("audit", "off", action("audit")),  # type: ignore[arg-type]
        ],
    )
    return sched, calls


def test_first_start_records_without_running_then_runs_each_tick_once(marts_url: str) -> None:
    sched, calls = _counting(marts_url)
    assert [s.name for s in sched.schedules] == ["recompute", "typical"]
    with clock.frozen_clock(T0) as now:
        assert sched.tick(now[0]) == []  # first sight: start counting from here
        now[0] = T0 + timedelta(minutes=16)
        assert sched.tick(now[0]) == []
        now[0] = T0 + timedelta(minutes=17)
        assert sched.tick(now[0]) == ["recompute"]
        assert sched.tick(now[0]) == []  # same tick never twice
        now[0] = T0 + timedelta(minutes=50)
        assert sched.tick(now[0]) == []
    assert [c[0] for c in calls] == ["recompute"]


def test_missed_ticks_run_once_at_start(marts_url: str) -> None:
    sched, calls = _counting(marts_url)
    sched.tick(T0)
    # The server is down from 10:00 until 15:30 the next day: 29 hourly ticks and one 04:23 tick missed.
    later = T0 + timedelta(days=1, hours=5, minutes=30)
    restarted, calls2 = _counting(marts_url)
    with clock.frozen_clock(later):
        assert sorted(restarted.tick(later)) == ["recompute", "typical"]
        assert restarted.tick(later) == []
    assert sorted(c[0] for c in calls2) == ["recompute", "typical"]
    assert calls == []
    with psycopg.connect(marts_url) as conn:
        rows = dict(conn.execute("SELECT name, last_tick_at FROM heartbeat.schedule_state").fetchall())
    assert rows["recompute"] == datetime(2026, 3, 3, 15, 17, tzinfo=UTC)
    assert rows["typical"] == datetime(2026, 3, 3, 4, 23, tzinfo=UTC)


def test_two_schedulers_never_run_the_same_tick(marts_url: str) -> None:
    a, calls_a = _counting(marts_url)
    b, calls_b = _counting(marts_url)
    a.tick(T0)
    at = T0 + timedelta(minutes=17)
    assert a.tick(at) + b.tick(at) == ["recompute"]
    assert len(calls_a) + len(calls_b) == 1


def test_failing_action_is_recorded_and_the_loop_goes_on(marts_url: str) -> None:
    def boom() -> None:
        raise RuntimeError("audit source is down")

    sched = Scheduler(get_settings(), schedules=[Schedule("audit", "45 4 * * *", boom)])  # type: ignore[arg-type]
    sched.tick(T0)
    assert sched.tick(T0 + timedelta(days=1)) == ["audit"]
    with psycopg.connect(marts_url) as conn:
        row = conn.execute("SELECT last_error FROM heartbeat.schedule_state WHERE name = 'audit'").fetchone()
    assert row is not None and "audit source is down" in row[0]


def test_bad_expression_names_the_variable(marts_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from heartbeat_core.settings import reset_settings

    monkeypatch.setenv("HEARTBEAT_SCHEDULE_TYPICAL", "every day")
    reset_settings()
    with pytest.raises(SettingsError, match="HEARTBEAT_SCHEDULE_TYPICAL"):
        Scheduler(get_settings())


ONE_CUT = """
META = {"page": "money", "title": "Orders", "kind": "bar", "metrics": ["shop_orders_24h"]}


def compute(conn, *, window):
    (n,) = conn.execute("SELECT count(*) FROM shop.orders").fetchone()
    return {"takeaway": f"{n} orders", "bars": [{"label": "orders", "value": n}]}
"""


def test_default_schedules_run_real_jobs_and_the_audit_refresh(
    mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.settings import reset_settings

    (tmp_path / "cuts").mkdir()
    (tmp_path / "cuts" / "money_orders.py").write_text(ONE_CUT)
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(tmp_path / "cuts"))
    reset_settings()
    sched = Scheduler(get_settings())
    start = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    sched.tick(start)
    ran = sched.tick(start + timedelta(hours=1))  # 04:17 recompute, 04:23 typical, 04:45 audit all due
    assert sorted(ran) == ["audit", "recompute", "typical"]
    with psycopg.connect(mini_world) as conn:
        jobs = conn.execute(
            "SELECT trigger, state, request->>'typical' FROM heartbeat.recompute_job ORDER BY job_id"
        ).fetchall()
        audit = conn.execute(
            "SELECT last_error FROM heartbeat.schedule_state WHERE name = 'audit'"
        ).fetchone()
        snapshots = conn.execute(
            "SELECT cut_id, window_key, payload->>'takeaway' FROM heartbeat.audit_cut_snapshot ORDER BY 2"
        ).fetchall()
    assert [j[0] for j in jobs] == ["schedule", "schedule"]
    assert {j[2] for j in jobs} == {"due", "force"}
    assert all(j[1] in ("succeeded", "partial") for j in jobs)
    assert audit == (None,)
    assert snapshots and all(cut == "money_orders" and "orders" in (text or "") for cut, _, text in snapshots)


def test_a_failing_audit_refresh_is_recorded_on_its_schedule(
    mini_world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.settings import reset_settings

    (tmp_path / "cuts").mkdir()
    (tmp_path / "cuts" / "money_orders.py").write_text(ONE_CUT.replace("shop.orders", "shop.no_such_table"))
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(tmp_path / "cuts"))
    reset_settings()
    (failure,) = scheduler.run_audit_refresh()
    assert failure.startswith("scheduled_refresh: AuditRefreshFailed:") and "money_orders" in failure


def test_thread_starts_and_stops_promptly(marts_url: str) -> None:
    sched, _ = _counting(marts_url)
    sched.start()
    assert sched.running
    sched.stop(timeout_s=5)
    assert not sched.running


def test_started_loop_runs_a_missed_tick_once(marts_url: str) -> None:
    import threading

    ran = threading.Event()
    calls: list[datetime] = []

    def action() -> None:
        calls.append(clock.now())
        ran.set()

    schedules = [Schedule("recompute", "17 * * * *", action)]  # type: ignore[arg-type]
    with clock.frozen_clock(T0):
        Scheduler(get_settings(), schedules=schedules).tick(T0)  # the server ran at 10:00 ...
    later = T0 + timedelta(hours=6)  # ... and starts again six hours (six ticks) later
    with clock.frozen_clock(later):
        sched = Scheduler(get_settings(), schedules=schedules).start()
        try:
            assert ran.wait(30)
        finally:
            sched.stop(timeout_s=5)
    assert calls == [later]
