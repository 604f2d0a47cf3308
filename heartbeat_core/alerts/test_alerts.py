"""Failing data tests as alert events (issue 18): one `test_failed` per test and failing streak, subject
`source_test:{source}.{table}:{test}:{columns}`, keyed by the streak's first failing moment so the same failure is
told once per channel; addressed to the source's owner, naming the metrics it makes suspect. When a streak a
channel was told of ends (the test passes again), one `test_passed` keyed by the same moment closes it."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.alerts.kinds import idempotency_key, utc_stamp
from heartbeat_core.alerts.messages import AlertEvent
from heartbeat_core.formatting import format_moment
from heartbeat_core.readmodel.suspect import FailingTest, failing_tests, suspects_by_metric
from heartbeat_core.settings import get_settings

SAMPLE_LINES = 3


def told_test_keys(conn: psycopg.Connection[Any], channel: str) -> set[str]:
    rows = conn.execute(
        "SELECT idempotency_key FROM heartbeat.alert_notification WHERE channel = %s AND subject_type = 'source_test'",
        (channel,),
    ).fetchall()
    return {r[0] for r in rows}


def _owners(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    """Each source's `owner` from sources.toml; none when the file cannot be read (ingest reports that)."""
    try:
        from heartbeat_core.ingest.config import load_sources

        return {name: src.owner for name, src in load_sources().items()}
    except Exception:  # a missing project or a bad file: the test is still told, without an owner
        return {}


def _samples(conn: psycopg.Connection[Any], t: FailingTest) -> list[str]:
    row = conn.execute(
        "SELECT sample FROM heartbeat.source_test WHERE source = %s AND table_name = %s AND test = %s"
        " AND columns = %s",
        (t.source, t.table, t.test, list(t.columns)),
    ).fetchone()
    return [json.dumps(r, default=str)[:300] for r in (row[0] if row else [])[:SAMPLE_LINES]]


def test_events(
    conn: psycopg.Connection[Any], metric_ids: list[str], public_url: str, told: set[str]
) -> list[AlertEvent]:
    """The failing tests this channel has not been told about yet in their current streak, and the streaks
    it was told of that have ended."""
    return _failed_events(conn, metric_ids, public_url, told) + passed_events(conn, public_url, told)


def _told_streaks(told: set[str]) -> dict[str, str]:
    """Per test subject, the moment of the newest failing streak this channel was told of."""
    out: dict[str, str] = {}
    for key in sorted(told):
        parts = key.removeprefix("source_test:").rsplit(":", 3)
        if len(parts) == 4 and parts[1] == "test_failed":
            out[parts[0]] = max(out.get(parts[0], ""), parts[3])
    return out


def passed_events(conn: psycopg.Connection[Any], public_url: str, told: set[str]) -> list[AlertEvent]:
    """`test_passed` for each told failing streak whose test passes now (told once per streak and channel)."""
    streaks = _told_streaks(told)
    if not streaks:
        return []
    rows = conn.execute(
        "SELECT source, table_name, test, columns, last_passing_at, checked_rows, message"
        " FROM heartbeat.source_test WHERE status = 'pass' AND source || '.' || table_name || ':' || test_key"
        " = ANY(%s) ORDER BY source, table_name, test_key",
        (list(streaks),),
    ).fetchall()
    owners = _owners(conn)
    events = []
    now, tz = clock.now(), get_settings().tz
    for source, table, test, columns, passing_at, checked, message in rows:
        subject = f"{source}.{table}:{test}:{','.join(columns)}"
        key = idempotency_key("source_test", subject, "test_passed", "event", streaks[subject])
        if key in told:
            continue
        when = f"passes since {format_moment(passing_at, now, tz)}" if passing_at else "passes"
        what = f"{source}.{table} {test}({', '.join(columns)})"
        rows_seen = f" ({checked} rows checked)" if checked is not None else ""
        events.append(
            AlertEvent(
                metric_id=subject,
                name=what,
                kind="test_passed",
                track="event",
                subject_type="source_test",
                status="pass",
                reason=f"{what} {when}{rows_seen}" + (f": {message}" if message else ""),
                owner=owners.get(source),
                url=f"{public_url.rstrip('/')}/api/sources",
                idempotency_key=key,
            )
        )
    return events


def _failed_events(
    conn: psycopg.Connection[Any], metric_ids: list[str], public_url: str, told: set[str]
) -> list[AlertEvent]:
    failing = [t for t in failing_tests(conn) if t.since is not None]
    if not failing:
        return []
    suspects = suspects_by_metric(conn, metric_ids)
    owners = _owners(conn)
    events = []
    for t in failing:
        subject = f"{t.source}.{t.table}:{t.test}:{','.join(t.columns)}"
        assert t.since is not None
        key = idempotency_key("source_test", subject, "test_failed", "event", utc_stamp(t.since))
        if key in told:
            continue
        metrics = sorted(m for m, tests in suspects.items() if t in tests)
        details = [f"sample: {s}" for s in _samples(conn, t)]
        details.append("suspect: " + (", ".join(metrics) if metrics else "no metric reads this table"))
        events.append(
            AlertEvent(
                metric_id=subject,
                name=f"{t.source}.{t.table} {t.test}({', '.join(t.columns)})",
                kind="test_failed",
                track="event",
                subject_type="source_test",
                status="fail",
                reason=t.line,
                owner=owners.get(t.source),
                details=details,
                url=f"{public_url.rstrip('/')}/api/sources",
                idempotency_key=key,
            )
        )
    return events
