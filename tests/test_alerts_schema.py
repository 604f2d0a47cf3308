"""The alert and job vocabularies in the database equal the Python Literals, so they cannot drift apart.

Migration 0006 lists every alert kind and subject type up front; the job phase is checked in code only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, get_args

import psycopg
import pytest

from heartbeat_core.alerts.kinds import ALERT_KINDS, SUBJECT_TYPES
from heartbeat_core.db import migrate as migrations
from heartbeat_core.jobs.ledger import JobState

pytestmark = pytest.mark.db


def _check_values(conn: psycopg.Connection[Any], table: str, name: str) -> set[str]:
    row = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
        (table, name),
    ).fetchone()
    assert row is not None, f"no constraint {name} on {table}"
    return set(re.findall(r"'([^']*)'::text", row[0]))


def test_check_lists_equal_the_literals(marts_conn: psycopg.Connection[Any]) -> None:
    table = "heartbeat.alert_notification"
    assert _check_values(marts_conn, table, "alert_notification_kind_check") == set(ALERT_KINDS)
    assert _check_values(marts_conn, table, "alert_notification_subject_type_check") == set(SUBJECT_TYPES)
    job = "heartbeat.recompute_job"
    assert _check_values(marts_conn, job, "recompute_job_state_check") == set(get_args(JobState))
    phase_checks = marts_conn.execute(
        """SELECT conname FROM pg_constraint WHERE conrelid = 'heartbeat.recompute_job'::regclass
           AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%phase%%'"""
    ).fetchall()
    assert phase_checks == []  # the phase is JobPhase, checked where the runner writes it


def test_0006_gives_existing_notifications_their_metric_subject(
    create_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_database("m0005")
    every = migrations.discover()
    monkeypatch.setattr(migrations, "discover", lambda: [m for m in every if m.version < 6])
    with psycopg.connect(url, autocommit=True) as conn:
        migrations.migrate(conn)
        conn.execute(
            """INSERT INTO heartbeat.alert_evaluation (evaluation_id, at) VALUES (1, now());
               INSERT INTO heartbeat.alert_notification (channel, idempotency_key, evaluation_id, metric_id, kind,
                   status, reason, event, created_at)
               VALUES ('slack', 'shop_unpaid_invoices:ok>red:20260302T041700Z', 1, 'shop_unpaid_invoices', 'red',
                   'red', 'above the line', '{}', now())"""
        )
        monkeypatch.setattr(migrations, "discover", lambda: every)
        assert [m.version for m in migrations.migrate(conn)] == [m.version for m in every if m.version >= 6]
        row = conn.execute(
            "SELECT subject_type, subject_id, metric_id FROM heartbeat.alert_notification"
        ).fetchone()
        assert row == ("metric", "shop_unpaid_invoices", "shop_unpaid_invoices")
        with pytest.raises(psycopg.errors.CheckViolation, match="metric_subject"):
            conn.execute(
                """INSERT INTO heartbeat.alert_notification (channel, idempotency_key, evaluation_id, metric_id,
                       subject_type, subject_id, kind, status, reason, event, created_at)
                   VALUES ('slack', 'k2', 1, NULL, 'metric', 'shop_unpaid_invoices', 'red', 'red', 'r', '{}', now())"""
            )
        conn.execute(  # an incident is about no single metric
            """INSERT INTO heartbeat.alert_notification (channel, idempotency_key, evaluation_id, metric_id,
                   subject_type, subject_id, kind, status, reason, event, created_at)
               VALUES ('slack', 'k3', 1, NULL, 'incident', 'inc-1', 'incident_opened', 'red', 'r', '{}', now())"""
        )
