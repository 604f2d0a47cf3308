"""heartbeat_core.readmodel.triage, the pure parts the MCP tools (and the web, alerts) share: problem filters, colour
transitions, the history summary, the "why" sentence and the scrubbing of secrets from error lines
(heartbeat_core.redaction, the one rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from heartbeat_core.readmodel import HistoryPoint, MetricState, triage
from heartbeat_core.redaction import redact_optional

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def state(metric_id: str, status: str, rank: int, **extra: Any) -> MetricState:
    fields: dict[str, Any] = {
        "metric_id": metric_id,
        "name": metric_id.replace("_", " "),
        "status": status,
        "reason": f"{status} reason",
        "value": 5.0,
        "unit": "count",
        "period": "24h",
        "direction": "lower_is_better",
        "norm_value": 3.0,
        "alert_value": 5.0,
        "target_value": None,
        "target_hit": False,
        "typical_mean": None,
        "typical_stddev": None,
        "z": None,
        "freshness": "fresh",
        "freshness_reason": "sources 5 min old",
        "source_age_s": 300.0,
        "source_as_of": NOW,
        "computed_at": NOW,
        "as_of_date": NOW.date(),
        "error": None,
        "owner": None,
        "verification_state": "unverified",
        "rank": rank,
    }
    fields.update(extra)
    return MetricState(**fields)


def point(day: int, value: float | None, status: str = "green", error: str | None = None) -> HistoryPoint:
    return HistoryPoint(
        as_of_date=date(2026, 11, 1) + timedelta(days=day),
        value=value,
        status=status,
        reason="",
        z=None,
        norm_value=None,
        alert_value=None,
        typical_mean=None,
        typical_stddev=None,
        source_as_of=None,
        computed_at=NOW,
        error=error,
    )


STATES = [
    state("a_red", "red", 1, team="Finance", crossed="alert"),
    state("b_amber", "amber", 2, team="ops", crossed="norm"),
    state("c_stale", "green", 3, freshness="red", freshness_reason="sources 4 d old"),
    state("d_failed", "green", 4, error="relation does not exist"),
    state("e_nodata", "no_data", 5, value=None),
    state("f_green", "green", 6, tags=["revenue"], sources=["shop"]),
]


def test_problems_filters_by_colour_staleness_and_team() -> None:
    ids = [s.metric_id for s in triage.problems(STATES)]
    assert ids == ["a_red", "b_amber", "c_stale", "d_failed", "e_nodata"]
    only_red = triage.problems(STATES, include_amber=False, include_stale=False)
    assert [s.metric_id for s in only_red] == ["a_red"]
    assert [s.metric_id for s in triage.problems(STATES, team="finance")] == ["a_red"]


def test_matches_words_status_source_team() -> None:
    def pick(**kw: Any) -> list[str]:
        return [s.metric_id for s in STATES if triage.matches(s, **kw)]

    assert pick(query="revenue") == ["f_green"]
    assert pick(query="b amber") == ["b_amber"]
    assert pick(status="stale") == ["c_stale"]
    assert pick(status="no_data") == ["e_nodata"]
    assert pick(source="shop") == ["f_green"]
    assert pick(team="OPS") == ["b_amber"]


def test_transitions_put_worsened_first() -> None:
    previous = {"a_red": "amber", "b_amber": "amber", "f_green": "red", "c_stale": "green"}
    changes = triage.transitions(STATES, previous)
    assert [(c.metric_id, c.before, c.after, c.worse) for c in changes] == [
        ("a_red", "amber", "red", True),
        ("f_green", "red", "green", False),
    ]


def test_summarize_history_gives_shape_not_series() -> None:
    rising = triage.summarize_history([point(d, 10.0 + d) for d in range(40)], days=30)
    assert rising.days == 30 and rising.points == 30
    assert rising.min == 20 and rising.max == 49 and rising.last == 49
    assert (
        rising.trend == "rising" and rising.slope_per_day is not None and abs(rising.slope_per_day - 1) < 1e-9
    )
    assert rising.change_pct == 145.0
    flat = triage.summarize_history([point(d, 100.0 + (d % 2)) for d in range(30)])
    assert flat.trend == "flat"
    falling = triage.summarize_history([point(d, 50.0 - d) for d in range(10)])
    assert falling.trend == "falling"
    gaps = triage.summarize_history(
        [point(0, None, "no_data", "boom"), point(1, 2.0, "red"), point(2, None, "no_data", "boom")]
    )
    assert gaps.points == 1 and gaps.errors == 2 and gaps.status_days == {"no_data": 2, "red": 1}
    assert gaps.trend == "unknown"
    assert triage.summarize_history([]).days == 0


def test_explain_status_says_why() -> None:
    red = triage.explain_status(STATES[0])
    assert red.startswith("Red: the value 5 reached the red (alert) line 5") and "lower is better" in red
    amber = triage.explain_status(STATES[1])
    assert amber.startswith("Amber:") and "red at the alert line 5" in amber
    z = triage.explain_status(state("z", "red", 1, crossed="z_red", reason="z = +2.4 vs typical 3 ± 1"))
    assert "unusual" in z and "z = +2.4" in z
    failed = triage.explain_status(STATES[3])
    assert "latest compute failed (relation does not exist)" in failed
    assert triage.explain_status(STATES[4]).startswith("No data")


def test_redact_secrets_from_error_lines() -> None:
    line = (
        "could not connect to postgresql://app:hunter2@db:5432/x?password=hunter2&sslmode=require token=abc"
    )
    cleaned = redact_optional(line)
    assert cleaned is not None and "hunter2" not in cleaned and "abc" not in cleaned
    assert "postgresql://app:***@db:5432/x" in cleaned
    assert redact_optional(None) is None
