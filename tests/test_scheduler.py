"""The in-process scheduler, driven through tick(now) with a frozen clock: no sleeping."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core import alerts, clock
from heartbeat_core.alerts.evaluate import enqueue
from heartbeat_core.jobs import scheduler
from heartbeat_core.jobs.scheduler import Schedule, Scheduler, last_tick, next_tick
from heartbeat_core.settings import SettingsError, get_settings
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    Reply,
    Request,
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)

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


# -- the outbox's due retries, sent between jobs --


def _queue(url: str, channel: str, texts: list[str], now: datetime) -> list[int]:
    ids: list[int] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for text in texts:
            payload = {
                "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            }
            ids += enqueue(
                conn, channel, [payload], key=f"t:{text}", evaluation_id=None, summary=text, now=now
            )
    return ids


def _outbox(url: str, row_id: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT state, attempts, next_attempt_at, last_status FROM heartbeat.alert_outbox WHERE id = %s",
            (row_id,),
        ).fetchone()
    assert row is not None
    return dict(zip(("state", "attempts", "next_attempt_at", "last_status"), row, strict=True))


def test_a_rate_limited_alert_is_sent_by_the_tick_once_its_wait_is_over_and_only_once(
    marts_url: str, slack: SlackReceiver
) -> None:
    sched, calls = _counting(marts_url)
    slack.script.append(Reply(429, b"rate_limited", {"Retry-After": "30"}))
    with clock.frozen_clock(T0) as now:
        (row_id,) = _queue(marts_url, "slack", ["Unpaid invoices is red"], T0)
        assert sched.tick(T0) == ["outbox"]  # due at once: the 429
        assert _outbox(marts_url, row_id)["next_attempt_at"] == T0 + timedelta(seconds=30)
        assert sched.next_wake(T0) == T0 + timedelta(seconds=30)  # not the 10:17 recompute
        now[0] = T0 + timedelta(seconds=29)
        assert sched.tick(now[0]) == []
        assert len(slack.requests) == 1 and slack.accepted == []
        now[0] = T0 + timedelta(seconds=30)
        assert sched.tick(now[0]) == ["outbox"]
        assert _outbox(marts_url, row_id)["state"] == "sent"
        now[0] = T0 + timedelta(minutes=17)
        assert sched.tick(now[0]) == ["recompute"]  # nothing left to send
        assert sched.next_wake(now[0]) == T0 + timedelta(hours=1, minutes=17)
    assert [r.json["text"] for r in slack.accepted] == ["Unpaid invoices is red"]
    assert len(slack.requests) == 2
    assert [c[0] for c in calls] == ["recompute"]


def test_the_loop_wakes_only_for_a_head_row_of_a_configured_channel(
    marts_url: str, slack: SlackReceiver
) -> None:
    sched, _ = _counting(marts_url)
    slack.script.append(Reply(429, b"rate_limited", {"Retry-After": "40"}))
    with clock.frozen_clock(T0) as now:
        _queue(marts_url, "slack", ["first"], T0)
        sched.tick(T0)
        now[0] = T0 + timedelta(seconds=5)
        _queue(marts_url, "slack", ["second"], now[0])  # due now, but waits behind "first" to keep order
        _queue(marts_url, "telegram", ["no such channel here"], now[0])  # never sent: not configured
        assert sched.next_wake(now[0]) == T0 + timedelta(seconds=40)
        assert sched.tick(now[0]) == []
        now[0] = T0 + timedelta(seconds=40)
        # a due head another deliverer may hold in flight: look again in a second, not in a spin
        assert sched.next_wake(now[0]) == now[0] + timedelta(seconds=scheduler.OUTBOX_MIN_SLEEP_S)
        assert sched.tick(now[0]) == ["outbox"]
        assert sched.next_wake(now[0]) == T0 + timedelta(minutes=17)
    assert [r.json["text"] for r in slack.accepted] == ["first", "second"]


def test_a_receiver_that_keeps_failing_does_not_stop_the_schedules(
    marts_url: str, slack: SlackReceiver
) -> None:
    sched, calls = _counting(marts_url)
    slack.script.extend([Reply(503, b"service_unavailable")] * 10)
    with clock.frozen_clock(T0) as now:
        (row_id,) = _queue(marts_url, "slack", ["down"], T0)
        assert sched.tick(T0) == ["outbox"]
        now[0] = T0 + timedelta(seconds=30)  # first backoff: 30 s
        assert sched.tick(now[0]) == ["outbox"]
        now[0] = T0 + timedelta(minutes=17)  # second backoff (60 s) is over, and the recompute is due
        assert sched.tick(now[0]) == ["outbox", "recompute"]
        now[0] = T0 + timedelta(hours=1, minutes=17)
        assert sched.tick(now[0]) == ["outbox", "recompute"]
    row = _outbox(marts_url, row_id)
    assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 4, 503)
    assert len(slack.requests) == 4 and slack.accepted == []
    assert [c[0] for c in calls] == ["recompute", "recompute"]


def test_a_delivery_that_raises_is_logged_redacted_backed_off_and_the_schedules_go_on(
    marts_url: str, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[datetime] = []

    def broken(*args: object, **kwargs: object) -> alerts.DeliveryReport:
        attempts.append(clock.now())
        raise RuntimeError(f"cannot post to {slack.url}")

    monkeypatch.setattr(alerts, "deliver", broken)
    sched, calls = _counting(marts_url)
    with clock.frozen_clock(T0) as now, caplog.at_level(logging.WARNING):
        _queue(marts_url, "slack", ["x"], T0)
        assert sched.tick(T0) == ["outbox"]  # fails: held off 2 s
        now[0] = T0 + timedelta(seconds=1)
        assert sched.tick(now[0]) == []
        now[0] = T0 + timedelta(minutes=16, seconds=59)
        assert sched.tick(now[0]) == ["outbox"]  # fails again: held off 4 s
        now[0] = T0 + timedelta(minutes=17)
        assert sched.tick(now[0]) == ["recompute"]  # the job runs all the same
        now[0] = T0 + timedelta(minutes=17, seconds=3)
        assert sched.tick(now[0]) == ["outbox"]
    assert attempts == [T0, T0 + timedelta(minutes=16, seconds=59), T0 + timedelta(minutes=17, seconds=3)]
    assert [c[0] for c in calls] == ["recompute"]
    logged = [r.getMessage() for r in caplog.records if r.name == "heartbeat.scheduler"]
    assert len(logged) == 3 and all(m.startswith("outbox delivery failed") for m in logged)
    assert "next try in 4 s" in logged[1]
    assert not any(SlackReceiver.path in m or "slacksecret" in m for m in logged)
    assert "***" in logged[0]


def test_a_tick_and_a_job_alert_phase_never_send_a_row_twice(marts_url: str, slack: SlackReceiver) -> None:
    arrived, release = threading.Event(), threading.Event()

    def slow(request: Request) -> Reply:
        arrived.set()
        assert release.wait(30)
        return Reply(200, b"ok")

    slack.script.append(slow)
    sched, _ = _counting(marts_url)
    with clock.frozen_clock(T0):
        ids = _queue(marts_url, "slack", ["one", "two"], T0)
        job_phase = threading.Thread(target=alerts.deliver)  # what the job's alert phase calls
        job_phase.start()
        try:
            assert arrived.wait(30), "the job's pass never reached the channel"
            assert sched.tick(T0) == ["outbox"]  # the pass ran, found the channel busy, sent nothing
            assert len(slack.requests) == 1
        finally:
            release.set()
            job_phase.join(30)
        assert sched.tick(T0) == []  # nothing left due
    assert [_outbox(marts_url, i)["state"] for i in ids] == ["sent", "sent"]
    assert [r.json["text"] for r in slack.requests] == ["one", "two"]
