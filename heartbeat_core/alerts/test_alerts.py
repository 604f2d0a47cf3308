"""Failing data tests as alert events (issue 18): one `test_failed` per test and failing streak, subject
`source_test:{source}.{table}:{test}:{columns}`, keyed by the streak's first failing moment so the same failure is
told once per channel; addressed to the source's owner, naming the metrics it makes suspect."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from heartbeat_core.alerts.kinds import idempotency_key, utc_stamp
from heartbeat_core.alerts.messages import AlertEvent
from heartbeat_core.readmodel.suspect import FailingTest, failing_tests, suspects_by_metric

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
    """The failing tests this channel has not been told about yet in their current streak."""
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
