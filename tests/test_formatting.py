"""heartbeat_core.formatting: the one display rule for values with units, per unit kind, and the surfaces
that use it (cockpit tiles, the Jinja filters, the CLI status table, the "why" sentence, alert text)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from heartbeat_core.alerts.messages import value_text
from heartbeat_core.formatting import (
    format_moment,
    format_since,
    format_value,
    format_when,
    trailing_label,
    value_parts,
)
from heartbeat_core.readmodel import MetricState, triage
from heartbeat_web.render import make_env, tile

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "unit", "parts", "joined"),
    [
        (12.0, "count", ("12", ""), "12"),
        (12400.0, "count", ("12.4k", ""), "12.4k"),
        (3.0, "clients", ("3", "clients"), "3 clients"),
        (2_500_000.0, "payments", ("2.5M", "payments"), "2.5M payments"),
        (12400.0, "money:EUR", ("EUR 12.4k", ""), "EUR 12.4k"),
        (93.14, "pct", ("93.1%", ""), "93.1%"),
        (0.1234, "ratio", ("0.123", ""), "0.123"),
        (4.2, "seconds", ("4.2 s", ""), "4.2 s"),
        (12.0, "minutes", ("12 min", ""), "12 min"),
        (22.03, "hours", ("22.03 h", ""), "22.03 h"),
        (5.03, "days", ("5.03 d", ""), "5.03 d"),
        (None, "clients", ("—", ""), "—"),
        (float("nan"), "days", ("—", ""), "—"),
    ],
)
def test_value_parts_per_unit_kind(
    value: float | None, unit: str, parts: tuple[str, str], joined: str
) -> None:
    assert value_parts(value, unit) == parts
    assert format_value(value, unit) == joined


def test_trailing_label_only_for_units_the_number_does_not_carry() -> None:
    assert [trailing_label(u) for u in ("count", "pct", "ratio", "money:USD", "days", "clients")] == [
        "",
        "",
        "",
        "",
        "",
        "clients",
    ]


def _state(value: float | None, unit: str, **extra: Any) -> MetricState:
    fields: dict[str, Any] = {
        "metric_id": "m",
        "name": "m",
        "status": "red",
        "reason": "r",
        "value": value,
        "unit": unit,
        "period": "snapshot",
        "direction": "lower_is_better",
        "norm_value": 3.0,
        "alert_value": 4.0,
        "target_value": None,
        "target_hit": False,
        "typical_mean": None,
        "typical_stddev": None,
        "z": None,
        "crossed": "alert",
        "freshness": "fresh",
        "freshness_reason": "sources 5 min old",
        "source_age_s": 300.0,
        "source_as_of": NOW,
        "computed_at": NOW,
        "as_of_date": NOW.date(),
        "error": None,
        "owner": None,
        "verification_state": "verified",
    }
    return MetricState(**{**fields, **extra})


@pytest.mark.parametrize(
    ("value", "unit", "shown", "label"),
    [
        (5.03, "days", "5.03 d", ""),  # the cockpit used to print "5.03 d days"
        (22.03, "hours", "22.03 h", ""),
        (3.0, "clients", "3", "clients"),
        (12400.0, "money:EUR", "EUR 12.4k", ""),
        (8.3, "pct", "8.3%", ""),
        (None, "clients", "—", ""),
    ],
)
def test_cockpit_tiles_and_filters_follow_the_rule(
    value: float | None, unit: str, shown: str, label: str
) -> None:
    t = tile(_state(value, unit))
    assert (t.value, t.unit) == (shown, label)
    env = make_env()
    assert env.from_string("{{ v|num(u) }}").render(v=value, u=unit) == shown
    assert env.from_string("{{ u|unit }}").render(u=unit) == ("" if unit != "clients" else "clients")
    assert env.from_string("{{ v|value(u) }}").render(v=value, u=unit) == format_value(value, unit)


def test_why_sentence_and_alert_text_use_the_rule() -> None:
    why = triage.explain_status(_state(5.03, "days"))
    assert why.startswith("Red: the value 5.03 d reached the red (alert) line 4 d") and "d days" not in why
    assert "3 clients" in triage.explain_status(_state(3.0, "clients", status="amber", crossed="norm"))
    assert value_text(5.03, "days") == "5.03 d" and value_text(None, "days") == "no value"


@pytest.mark.parametrize(
    ("moment", "tz", "expected"),
    [
        (NOW - timedelta(hours=5, minutes=48), UTC, "06:12 UTC (5.8 h ago)"),
        (NOW - timedelta(seconds=40), UTC, "11:59 UTC (40 s ago)"),
        (NOW - timedelta(days=3, hours=4), UTC, "22 Nov 08:00 UTC (3.2 d ago)"),
        (NOW - timedelta(hours=2), ZoneInfo("Europe/Berlin"), "11:00 CET (2.0 h ago)"),
        (NOW + timedelta(minutes=30), UTC, "12:30 UTC (in 30 min)"),
        (None, UTC, "never"),
    ],
)
def test_moments_read_as_time_zone_and_age(moment: datetime | None, tz: Any, expected: str) -> None:
    assert format_moment(moment, NOW, tz) == expected


def test_one_of_a_plural_unit_reads_singular() -> None:
    assert format_value(1, "clients") == "1 client"
    assert format_value(2, "clients") == "2 clients"
    assert format_value(1, "business") == "1 business"  # not a plural noun: left alone


def test_counts_in_messages_take_their_plural() -> None:
    from heartbeat_core.formatting import counted, plural

    assert [counted(n, "client") for n in (0, 1, 2, 12400)] == [
        "0 clients", "1 client", "2 clients", "12,400 clients",
    ]  # fmt: skip
    assert counted(1, "entry", "entries") == "1 entry" and counted(3, "entry", "entries") == "3 entries"
    assert f"unknown {plural(1, 'field')} colour" == "unknown field colour"
    assert [plural(n, "is", "are") for n in (1, 2)] == ["is", "are"]


def test_dates_in_messages_say_when_and_how_long() -> None:
    today = NOW.date()
    assert format_since(date(2026, 10, 26), today, days=True) == "since 26 Oct (30 d)"
    assert format_since(date(2025, 9, 2), today) == "since 2 Sep 2025"
    assert format_since(today, today, days=True) == "since today"
    assert format_when("2026-11-24T11:54:41.249405+00:00", NOW) == "24 Nov 11:54 UTC (24.1 h ago)"
    assert format_when("2026-07-01T00:00:00+00:00", NOW) == "1 Jul (147 d ago)"  # a date stored at midnight
    assert format_when(date(2026, 11, 26), NOW) == "26 Nov (in 1 d)"
    assert format_when("ACME Ltd", NOW) is None and format_when(12, NOW) is None


def test_mcp_drivers_read_in_the_lead_metric_unit() -> None:
    from heartbeat_core.readmodel.annotations import Driver
    from heartbeat_mcp.render import driver_text

    usd = Driver(dimension="currency", segment="USD", value=12.24, typical=97.28, share=0.45)
    assert driver_text(usd, "pct") == "currency=USD 12.2% (typ. 97.3%), 45 % of the move"
    money = Driver(dimension="product", segment="fx", value=1234.5, typical=98000.0, share=0.5)
    assert driver_text(money, "money:EUR") == "product=fx EUR 1,234 (typ. EUR 98k), 50 % of the move"


def test_a_cached_page_names_the_moment_without_an_age() -> None:
    from heartbeat_core.formatting import format_clock

    now = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
    assert format_clock(datetime(2026, 12, 2, 1, 12, tzinfo=UTC), now) == "01:12 UTC"
    assert format_clock(datetime(2026, 11, 28, 1, 12, tzinfo=UTC), now) == "28 Nov 01:12 UTC"
    assert format_clock(datetime(2025, 11, 28, 1, 12, tzinfo=UTC), now) == "28 Nov 2025 01:12 UTC"


def test_detail_cells_read_as_people_read_them() -> None:
    from heartbeat_core.formatting import column_label, format_cell, format_row

    columns = ["client", "client_id", "due_date", "amount", "currency", "days_overdue", "paid", "note"]
    row: list[object] = ["ACME Ltd", 48213, "2026-09-14", 12400.0, "USD", 72, False, None]
    assert format_row(columns, row, NOW, UTC, "money:EUR") == [
        "ACME Ltd", "48213", "14 Sep (72 d ago)", "USD 12,400", "USD", "72", "no", "—",
    ]  # fmt: skip
    # no currency column: the metric's money unit; neither: a bare number with separators
    assert format_row(["amount", "fee"], [1234.5, 3], NOW, UTC, "money:EUR") == ["EUR 1,234.50", "EUR 3"]
    assert format_row(["amount", "entries"], [1234.5, 3000], NOW, UTC, "payments") == ["1,234.50", "3,000"]
    # the column's own currency wins; a moment reads with its clock and age
    assert format_cell("revenue_eur", 99.5, NOW, currency="USD") == "EUR 99.50"
    assert format_cell("create_time", "2026-11-25T06:12:00+00:00", NOW) == "06:12 UTC (5.8 h ago)"
    assert (
        format_cell("create_time", datetime(2026, 11, 25, 6, 12, tzinfo=UTC), NOW) == "06:12 UTC (5.8 h ago)"
    )
    assert [column_label(c) for c in ("days_overdue", "revenue_eur", "client")] == [
        "days overdue", "revenue", "client",
    ]  # fmt: skip


def test_metric_page_filters_read_moments_days_and_cells() -> None:
    from heartbeat_core import clock

    env = make_env()
    with clock.frozen_clock(NOW):
        render = lambda src, **kw: env.from_string(src).render(**kw)  # noqa: E731
        assert render("{{ m|when }}", m=datetime(2026, 11, 25, 6, 12, tzinfo=UTC)) == "06:12 UTC (5.8 h ago)"
        assert render("{{ m|when }}", m=None) == "—"
        assert render("{{ d|day }}", d=date(2026, 9, 14)) == "14 Sep (72 d ago)"
        assert render("{{ d|since }}", d=date(2026, 9, 14)) == "since 14 Sep (72 d)"
        assert render("{{ r|cells(c, 'money:EUR')|join('|') }}", r=[5.0, "<b>"], c=["fee", "x"]) == (
            "EUR 5|&lt;b&gt;"
        )
