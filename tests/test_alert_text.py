"""Alert text as people read it on a phone, through a real Slack receiver on loopback: a red and its reminder
say since when and how long ("red since 2 Nov (30 d)"), the detail rows' dates and moments read relative to
the clock ("unpaid since 16 Oct (40 d ago)", "24 Nov 11:54 UTC (3.2 d ago)"), and no ISO date is left."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from heartbeat_core import alerts, clock
from heartbeat_core.alerts.messages import detail_lines
from heartbeat_core.readmodel.snapshot import metric_states
from heartbeat_core.settings import reset_settings
from tests.test_alerts_support import (  # noqa: F401  (fixtures)
    SlackReceiver,
    no_channels_fixture,
    slack_fixture,
)

METRIC = "shop_unpaid_invoices"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _text(receiver: SlackReceiver, index: int) -> str:
    return "\n".join(b["text"]["text"] for b in receiver.accepted[index].json["blocks"])


def _since(day: date, today: date) -> str:
    """The expected words, spelled out here rather than through the function under test."""
    return f"since {day.day} {day:%b} ({(today - day).days} d)" if day < today else "since today"


def test_a_red_and_its_reminder_read_their_dates_relative_to_the_clock(
    mini_world: str, slack: SlackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTBEAT_SLACK_LEVELS", "red,resolved")
    monkeypatch.setenv("HEARTBEAT_ALERT_REPEAT", "6h")
    reset_settings()
    start = clock.now()
    with psycopg.connect(mini_world, autocommit=True) as conn, clock.frozen_clock(start) as moment:
        state = next(s for s in metric_states(conn) if s.metric_id == METRIC)
        assert state.status == "red" and state.status_since is not None
        alerts.evaluate_and_deliver(conn)
        first = _text(slack, 0)
        assert f"red {_since(state.status_since, start.date())}" in first
        # the mini world's rows are due 40 days back: the unpaid-since date reads with its age
        unpaid = re.search(r"unpaid since (\d{1,2} [A-Z][a-z]{2}) \((\d+) d ago\)", first)
        assert unpaid, first
        assert not ISO_DATE.search(first), first

        moment[0] = later = start + timedelta(days=2, hours=1)  # two days on, still red, nobody acknowledged
        told = alerts.evaluate_and_deliver(conn)["evaluation"]["notifications"]["slack"]
        assert [(e["metric_id"], e["repeat"]) for e in told] == [(METRIC, True)]
        reminder = _text(slack, 1)
    today = later.date()
    assert f"STILL RED {_since(state.status_since, today)}, not acknowledged" in reminder
    assert f"Not acknowledged; red {_since(state.status_since, today)}" in reminder
    assert not ISO_DATE.search(reminder), reminder


def test_detail_moments_read_as_time_and_age() -> None:
    now = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    detail = {
        "columns": ["queue", "open", "oldest_created_at", "due"],
        "rows": [["AML reviews", 12, "2026-11-24T11:54:41.249405+00:00", "2026-11-02"]],
    }
    lines, _ = detail_lines(detail, now=now)
    assert lines == [
        "AML reviews — open 12, oldest created at 24 Nov 11:54 UTC (3.2 d ago), due 2 Nov (25 d ago)"
    ]
