"""The alert state machine and message rendering, as pure functions (no database, no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from heartbeat_core.alerts import decide
from heartbeat_core.alerts.evaluate import ChannelView
from heartbeat_core.alerts.messages import (
    SLACK_MAX_BLOCKS,
    SLACK_MAX_SECTION,
    TELEGRAM_MAX,
    AlertEvent,
    detail_lines,
    render_slack,
    render_telegram,
    value_text,
)
from tests.test_alerts_support import telegram_visible_text

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DAY = 24 * 3600.0
DEFAULT = frozenset({"red", "stale", "resolved"})
ALL = frozenset({"red", "amber", "stale", "resolved"})


def run(levels: frozenset[str], steps: list[tuple[str, str]], start: ChannelView | None = None,
        every: timedelta = timedelta(hours=1)) -> list[list[tuple[str, bool]]]:  # fmt: skip
    """Feed (status, freshness) steps an hour apart; the kinds announced at each step."""
    view, out = start, []
    for n, (status, freshness) in enumerate(steps):
        transitions, view = decide(levels, status, freshness, "m", view, T0 + n * every, DAY)
        out.append([(t.kind, t.repeat) for t in transitions])
    return out


def test_first_evaluation_announces_what_is_firing_and_nothing_else() -> None:
    assert run(DEFAULT, [("red", "fresh")]) == [[("red", False)]]
    assert run(DEFAULT, [("amber", "fresh")]) == [[]]
    assert run(ALL, [("amber", "amber")]) == [[("amber", False), ("stale", False)]]
    assert run(DEFAULT, [("green", "fresh")]) == [[]]


def test_transitions_on_a_channel_that_takes_every_level() -> None:
    steps = [("green", "fresh"), ("amber", "fresh"), ("red", "fresh"), ("red", "fresh"), ("amber", "fresh"),
             ("green", "fresh")]  # fmt: skip
    assert run(ALL, steps) == [
        [],
        [("amber", False)],
        [("red", False)],
        [],
        [("amber", False)],
        [("resolved", False)],
    ]


def test_default_levels_red_then_amber_is_resolved_for_that_channel() -> None:
    steps = [("green", "fresh"), ("amber", "fresh"), ("red", "fresh"), ("amber", "fresh"), ("green", "fresh")]
    assert run(DEFAULT, steps) == [[], [], [("red", False)], [("resolved", False)], []]


def test_resolved_only_reaches_a_channel_that_was_told() -> None:
    assert run(DEFAULT, [("amber", "fresh"), ("green", "fresh")]) == [[], []]
    assert run(frozenset({"red"}), [("red", "fresh"), ("green", "fresh"), ("red", "fresh")]) == [
        [("red", False)],
        [],
        [("red", False)],
    ]


def test_still_red_repeats_once_per_interval() -> None:
    steps = [("red", "fresh")] * 5
    assert run(DEFAULT, steps, every=timedelta(hours=12)) == [
        [("red", False)], [], [("reminder", True)], [], [("reminder", True)]
    ]  # fmt: skip


def test_stale_and_fresh_again_are_their_own_track() -> None:
    steps = [("green", "fresh"), ("green", "amber"), ("red", "red"), ("red", "fresh"), ("green", "fresh")]
    assert run(DEFAULT, steps) == [
        [],
        [("stale", False)],
        [("red", False)],
        [("resolved", False)],
        [("resolved", False)],
    ]


def test_no_data_holds_what_the_channel_was_told() -> None:
    assert run(DEFAULT, [("red", "fresh"), ("no_data", "fresh"), ("red", "fresh"), ("green", "fresh")]) == [
        [("red", False)], [], [], [("resolved", False)]
    ]  # fmt: skip


def test_keys_name_the_transition() -> None:
    """`{subject_type}:{subject_id}:{kind}:{track}:{UTC moment}`, from kinds.idempotency_key."""
    transitions, view = decide(DEFAULT, "red", "amber", "shop_x", None, T0, DAY)
    assert [t.key for t in transitions] == [
        "metric:shop_x:red:status:20261125T090000Z",
        "metric:shop_x:stale:freshness:20261125T090000Z",
    ]
    assert view.status_notified == "red" and view.status_notified_at == T0
    # a status and a freshness `resolved` at one moment never collide
    later = T0 + timedelta(hours=1)
    transitions, view = decide(DEFAULT, "green", "fresh", "shop_x", view, later, DAY)
    assert [t.key for t in transitions] == [
        "metric:shop_x:resolved:status:20261125T100000Z",
        "metric:shop_x:resolved:freshness:20261125T100000Z",
    ]
    # red→green→red in one day: the second red is its own transition
    transitions, view = decide(DEFAULT, "red", "fresh", "shop_x", view, later + timedelta(hours=1), DAY)
    assert [t.key for t in transitions] == ["metric:shop_x:red:status:20261125T110000Z"]
    # the repeat of a red is a red on the status track, at the moment it repeats (a `reminder` later)
    repeat_at = later + timedelta(hours=1, days=1)
    transitions, _ = decide(DEFAULT, "red", "fresh", "shop_x", view, repeat_at, DAY)
    assert [(t.key, t.repeat) for t in transitions] == [
        ("metric:shop_x:reminder:status:20261126T110000Z", True)
    ]
    # a moment in another zone is keyed in UTC
    berlin = T0.astimezone(timezone(timedelta(hours=1)))
    transitions, _ = decide(DEFAULT, "red", "fresh", "shop_x", None, berlin, DAY)
    assert transitions[0].key == "metric:shop_x:red:status:20261125T090000Z"


def _event(n: int, kind: str = "red", name: str | None = None, details: int = 3) -> AlertEvent:
    return AlertEvent(
        metric_id=f"metric_{n:03d}", name=name or f"Metric number {n:03d} with a fairly long name", kind=kind,
        track="freshness" if kind == "stale" else "status", status="green" if kind == "resolved" else "red",
        reason=f"{n + 2} ≥ alert line 1", value_text=str(n + 2), owner="ops@example.com",
        details=[f"Client {n}-{d} & Sons <GmbH> — invoices {d}, amount EUR {d * 1000:,}" for d in range(details)],
        url=f"https://heartbeat.example.com/metrics/metric_{n:03d}", rank=n,
    )  # fmt: skip


def test_slack_stays_within_blocks_and_section_limits_for_many_events() -> None:
    for count in (1, 40, 41, 100, 400):
        events = [_event(n, ["red", "stale", "resolved"][n % 3]) for n in range(count)]
        payload = render_slack(events, "https://heartbeat.example.com")
        assert len(payload["blocks"]) <= SLACK_MAX_BLOCKS
        assert all(0 < len(b["text"]["text"]) <= SLACK_MAX_SECTION for b in payload["blocks"])
        assert payload["text"].startswith("Heartbeat: ")
        text = "\n".join(b["text"]["text"] for b in payload["blocks"])
        assert "&lt;GmbH&gt;" in text and "<GmbH>" not in text
        if count == 400:
            assert "more: <https://heartbeat.example.com/|open Heartbeat>" in text


def test_one_huge_event_is_trimmed_but_keeps_headline_and_link() -> None:
    event = _event(1, name="N" * 5000, details=200)
    (block,) = render_slack([event], "https://h")["blocks"][1:]
    assert len(block["text"]["text"]) <= SLACK_MAX_SECTION
    (text,) = render_telegram([_event(1, details=400)], "https://h")
    assert len(text) <= TELEGRAM_MAX and "metrics/metric_001" in text
    telegram_visible_text(text)


def test_telegram_splits_into_valid_parts_and_trims_with_a_link() -> None:
    events = [_event(n) for n in range(100)]
    parts = render_telegram(events, "https://heartbeat.example.com", max_parts=3)
    assert len(parts) == 3
    for part in parts:
        assert len(part) <= TELEGRAM_MAX
        telegram_visible_text(part)  # raises like Telegram's "can't parse entities"
    assert 'more: <a href="https://heartbeat.example.com/">open Heartbeat</a>' in parts[-1]
    assert parts[0].endswith("(1/3)</i>")
    few = render_telegram(events[:2], "https://h")
    assert len(few) == 1 and "(1/" not in few[0]


def test_detail_rows_read_like_a_sentence() -> None:
    detail = {
        "columns": ["customer", "invoices", "unpaid_since", "amount_eur"],
        "rows": [["ACME Ltd", 3, "2026-07-01", 12400.0], ["Globex", 1, "2026-08-01T00:00:00+00:00", 99.5]]
        * 3,
        "truncated": False,
    }
    lines, more = detail_lines(detail, now=datetime(2026, 11, 27, 16, 30, tzinfo=UTC))
    assert lines[0] == "ACME Ltd — invoices 3, unpaid since 1 Jul (149 d ago), amount EUR 12,400"
    assert lines[1] == "Globex — invoices 1, unpaid since 1 Aug (118 d ago), amount EUR 99.50"
    assert more == 3
    assert detail_lines(None) == ([], 0)


def test_values_carry_their_unit_once() -> None:
    assert value_text(5.03, "days") == "5.03 d"
    assert value_text(71.1, "pct") == "71.1%"
    assert value_text(97600, "money:EUR") == "EUR 97.6k"
    assert value_text(175, "reviews") == "175 reviews"
    assert value_text(3, "count") == "3"
    assert value_text(None, "count") == "no value"


def test_an_amber_only_channel_hears_red_as_amber_and_never_a_false_resolved() -> None:
    amber_only = frozenset({"amber", "resolved"})
    steps = [("amber", "fresh"), ("red", "fresh"), ("amber", "fresh"), ("green", "fresh")]
    assert run(amber_only, steps) == [[("amber", False)], [], [], [("resolved", False)]]


def test_an_implausible_amber_is_announced_as_its_own_kind() -> None:
    """The sanity band's amber says `implausible`, not `amber`, so a reader knows to check the data."""
    levels = DEFAULT | {"amber"}  # the sanity band's amber reaches channels that take amber
    transitions, view = decide(levels, "amber", "fresh", "rev", None, T0, DAY, True)
    assert [t.kind for t in transitions] == ["implausible"]
    assert transitions[0].key.startswith("metric:rev:implausible:status:")
    transitions, _ = decide(levels, "green", "fresh", "rev", view, T0 + timedelta(hours=1), DAY)
    assert [t.kind for t in transitions] == ["resolved"]
