"""Incidents group a failing data test with the problem metrics it makes suspect (issue 18), with no relation
declared in metric headers and no table in common known to the grouping: the suspect flags do the work."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from heartbeat_core.readmodel.annotations import Flag
from heartbeat_core.readmodel.incidents import build_incidents

SINCE = datetime(2026, 12, 2, 1, 12, tzinfo=UTC)


def _state(metric_id: str, shown: str, *reasons: str) -> SimpleNamespace:
    flags = [Flag(kind="suspect", reason=f"data test failed: {r}", since=SINCE) for r in reasons]
    return SimpleNamespace(
        metric_id=metric_id, name=metric_id.replace("_", " "), display_state=shown, value=1.0, unit="count",
        typical_mean=None, owner=None, sources=["webbank"], freshness="fresh", source_as_of=None,
        status_since=date(2026, 12, 2), entities=None, drivers=None, flags=flags,
    )  # fmt: skip


def test_metrics_made_suspect_by_one_failing_test_are_one_incident_naming_it() -> None:
    dup = "webbank.entry unique(payment_id): 1,204 failing rows"
    states: list[Any] = [
        _state("revenue_24h", "amber", dup),
        _state("revenue_7d", "red", f"{dup} (+1 more)"),
        _state("aml_review_backlog", "red", "aml.aml_retrospective schema changed: renamed a → b?"),
        _state("payments_24h", "green", dup),  # suspect but no problem: not a member
    ]
    incidents = build_incidents(states, {})
    assert [i.metrics for i in incidents] == [["revenue_24h", "revenue_7d"], ["aml_review_backlog"]]
    assert incidents[0].evidence == ["failing data test webbank.entry unique(payment_id)"]


def test_problems_without_a_failing_test_in_common_stay_apart() -> None:
    states: list[Any] = [
        _state("a", "red", "webbank.entry unique(payment_id): 3 failing rows"),
        _state("b", "red", "webbank.payment not_null(amount): 2 failing rows"),
        _state("c", "red"),
    ]
    assert [i.metrics for i in build_incidents(states, {})] == [["a"], ["b"], ["c"]]
