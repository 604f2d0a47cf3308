"""The alert vocabulary shared by every issue (CONTRACTS.md "Alerts"): what a notification is about (its
subject), what happened (its kind), and the idempotency key that names one transition or event.

Migration 0006 lists every kind and subject type in its CHECKs, so a later capability fills them in without
redefining a shared constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

SubjectType = Literal["metric", "entity", "incident", "source_test"]
AlertKind = Literal[
    "red",
    "amber",
    "stale",
    "resolved",
    "reminder",
    "implausible",
    "entity_new",
    "entity_worse",
    "entity_gone",
    "incident_opened",
    "incident_updated",
    "incident_resolved",
    "test_failed",
    "test_passed",
]
# The two signals a metric carries: its colour (status) and the age of its data (freshness); an event that
# belongs to neither (an entity event, a test result) uses the "event" track.
Track = Literal["status", "freshness", "event"]

SUBJECT_TYPES: tuple[SubjectType, ...] = get_args(SubjectType)
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)


def utc_stamp(moment: datetime) -> str:
    """`20261201T011200Z`: a transition moment as it appears in keys (UTC, second precision)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def idempotency_key(
    subject_type: SubjectType, subject_id: str, kind: AlertKind, track: Track, at: str
) -> str:
    """`{subject_type}:{subject_id}:{kind}:{track}:{moment or event id}`: one transition, told once per channel.

    The track keeps a status and a freshness `resolved` on one moment apart; the moment keeps red→green→red
    in one day apart.
    """
    return f"{subject_type}:{subject_id}:{kind}:{track}:{at}"


def entity_subject_id(metric_id: str, entity_type: str, key: str) -> str:
    """An entity's subject id: `{metric_id}/{type}:{key}` (acknowledging `{type}:{key}` covers every metric)."""
    return f"{metric_id}/{entity_type}:{key}"
