"""The tile slots and the chart primitives, without a database: empty slots draw nothing (today's tiles
look as before), filled ones draw where the contract says; charts share one scale and one gap rule."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import Markup

from heartbeat_core.jobs.ledger import JobView
from heartbeat_core.readmodel import MetricState
from heartbeat_core.readmodel.annotations import Flag
from heartbeat_core.readmodel.status import display_state
from heartbeat_web.charts import AsOf, history_chart, render_cut, sparkline
from heartbeat_web.charts.base import Scale, index_scale, nice_ticks, padded_range, runs
from heartbeat_web.charts.metric import history_range
from heartbeat_web.live import JobStrip
from heartbeat_web.render import banded, make_env, short_time, tile
from heartbeat_web.tiles import Culprit, grouped

AT = AsOf(datetime(2026, 11, 25, 12, tzinfo=UTC), UTC)  # a page drawn on Wed 25 Nov at noon
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # a day as a machine prints it: never on a page


def _state(metric_id: str = "orders_24h", **over: Any) -> MetricState:
    fields: dict[str, Any] = {
        "metric_id": metric_id,
        "name": "Orders, 24 hours",
        "status": "red",
        "reason": "12 ≤ alert line 20",
        "value": 12.0,
        "unit": "count",
        "period": "24h",
        "direction": "higher_is_better",
        "norm_value": 40.0,
        "alert_value": 20.0,
        "target_value": None,
        "target_hit": False,
        "typical_mean": None,
        "typical_stddev": None,
        "z": None,
        "freshness": "fresh",
        "freshness_reason": "loaded 2 h ago",
        "source_age_s": 7200.0,
        "source_as_of": None,
        "computed_at": None,
        "as_of_date": date(2025, 11, 12),
        "error": None,
        "owner": "ops@example.com",
        "verification_state": "verified",
        "sparkline": [10.0, 14.0, None, 13.0, 12.0],
    }
    merged = {**fields, **over}
    merged.setdefault(
        "display_state",
        display_state(merged["status"], merged["freshness"], merged["value"] is not None, merged["error"]),
    )
    return MetricState(**merged)


def _tile_html(*tiles: Any, template: str = "_tile.html") -> str:
    env = make_env()
    body = env.from_string(
        '{% import "_slots.html" as slot %}{% for g in tiles|grouped %}{{ slot.group(g, tpl) }}{% endfor %}'
    )
    return body.render(tiles=list(tiles), tpl=template)


def test_empty_slots_draw_nothing() -> None:
    t = tile(_state())
    assert t.culprit is None and t.badges == [] and t.group is None
    html = _tile_html(t)
    for absent in ("t-culprit", "t-badges", "t-group", "t-stale", "t-error"):
        assert absent not in html, absent
    assert '<span class="v">12</span>' in html and '<p class="t-reason">12 ≤ alert line 20</p>' in html
    assert '<span class="owner">ops</span>' in html and "unverified" not in html
    assert "2 h" in html  # the freshness chip in the footer


def test_reason_slot_carries_late_sources_and_a_failed_compute() -> None:
    t = tile(_state(freshness="amber", freshness_reason="sources 40 h old", error="boom at step 2"))
    assert t.reason.stale == "sources 40 h old" and t.reason.error == "boom at step 2"
    html = _tile_html(t)
    assert '<p class="t-stale f-amber">sources 40 h old</p>' in html
    assert "last compute failed: boom at step 2" in html


def test_badges_come_from_the_read_model_flags_in_one_order() -> None:
    flags = [Flag(kind=k, reason=k) for k in ("error", "stale", "new_entity", "stale", "acknowledged")]
    t = tile(_state(flags=flags))
    assert t.badges == ["NEW", "STALE", "ACK", "ERROR"]
    html = _tile_html(t)
    assert '<span class="t-badge b-new">NEW</span><span class="t-badge b-stale">STALE</span>' in html
    assert "b-error" in _tile_html(t, template="_mini.html")


def test_culprit_is_named_for_people_and_counted_for_displays() -> None:
    named = dataclasses.replace(
        tile(_state()), culprit=Culprit(named="ACME Ltd · 3 invoices", counted="2 clients")
    )
    assert '<p class="t-culprit">ACME Ltd · 3 invoices</p>' in _tile_html(named)
    counted = dataclasses.replace(
        named, detail=False
    )  # a display key's copy (HEARTBEAT_DISPLAY_DETAIL unset)
    html = _tile_html(counted)
    assert '<p class="t-culprit">2 clients</p>' in html and "ACME" not in html


def test_tiles_of_one_incident_share_a_card_where_the_first_stands() -> None:
    a, b, c, d = (tile(_state(f"m{i}", incident_id=inc)) for i, inc in enumerate(("i1", None, "i1", "i2")))
    groups = grouped([a, b, c, d])
    assert [(g.incident_id, [t.m.metric_id for t in g.tiles]) for g in groups] == [
        ("i1", ["m0", "m2"]),
        (None, ["m1"]),
        ("i2", ["m3"]),
    ]
    html = _tile_html(a, b, c, d)
    assert html.count('class="t-group"') == 2 and 'data-incident="i1" style="--n: 2"' in html
    assert html.index('data-metric="m2"') < html.index('data-metric="m1"')


def test_job_strip_reads_the_job_view_in_five_percent_steps() -> None:
    view = JobView(
        job_id=3, trigger="api", state="running", phase="compute", done=7, total=9, current_step="x"
    )
    assert JobStrip.of(view) == JobStrip(3, "running", "compute", 0.8, "x")
    assert JobStrip.of(view.model_copy(update={"total": 0})).progress is None


# ------------------------------------------------------------------------------------------------ charts


def test_scales_ticks_and_gaps() -> None:
    y = Scale(0.0, 10.0, 5, 100, upward=True)
    assert (y(0.0), y(10.0), y(5.0)) == (105.0, 5.0, 55.0)
    assert Scale(3.0, 3.0, 0, 10)(3.0) == 0.0  # an empty range never divides by zero
    assert index_scale(1, 10, 100, single=0.5)(0) == 60.0 and index_scale(1, 10, 100)(0) == 10.0
    assert index_scale(3, 10, 100)(2) == 110.0
    assert padded_range(5.0, 5.0) == (4.5, 5.5) and padded_range(0.0, 100.0) == (-8.0, 108.0)
    assert nice_ticks(0.0, 93.0) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert runs([1, None, None, 2, 3, None]) == [[1], [2, 3]]


def test_sparkline_breaks_at_gaps_and_shades_one_piece_only() -> None:
    broken = sparkline([1.0, 2.0, None, 3.0, 4.0], "amber")
    assert broken.count("<polyline") == 2 and "area" not in broken and 'class="spark spark-amber"' in broken
    whole = sparkline([1.0, 2.0, 3.0], "green")
    assert whole.count("<polyline") == 1 and '<polygon class="area"' in whole
    assert "<polyline" not in sparkline([None, 1.0])


def _svg_points(svg: str, cls: str) -> list[tuple[float, float]]:
    found = re.findall(
        rf'<{cls} points="([^"]+)"' if cls == "polyline" else rf'class="{cls}" points="([^"]+)"', svg
    )
    return [(float(x), float(y)) for x, y in (p.split(",") for p in found[0].split())]


def test_sparkline_of_a_count_never_shades_below_zero() -> None:
    """A queue that is 0 most days: the line's zero is the floor of the shading, not a padded negative."""
    svg = str(sparkline([0.0, 0.0, 5.0, 0.0], "green", width=100, height=28))
    line, area = _svg_points(svg, "polyline"), _svg_points(svg, "area")
    zero_y = line[0][1]
    assert zero_y == 27.0 and min(y for _, y in line) > 1.0  # the zero line sits on the floor, whole
    assert max(y for _, y in area) == zero_y  # no shading under the zero line
    signed = str(sparkline([-2.0, 3.0], "green", width=100, height=28))
    low = max(y for _, y in _svg_points(signed, "polyline"))
    assert low < max(y for _, y in _svg_points(signed, "area"))  # a real negative keeps its room below


def test_history_chart_draws_lines_in_force_and_escapes_statuses() -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(4)]
    chart = history_chart(
        days,
        [1.0, None, 3.0, 4.0],
        ["green", "no_data", "amber", "<red>"],
        unit="count",
        norm=[None, None, None, 2.0],
        alert=[1.5, 1.5, 1.5, 1.5],
        band=[None, (0.5, 1.5), (1.0, 2.0), None],
        target=5.0,
    )
    assert '<polyline class="line-norm"' in chart and "<title>norm line</title>" in chart  # set today only
    assert "<title>alert line</title>" in chart and '<polygon class="band"' in chart
    assert 'class="line-target"' in chart and ">today</text>" in chart and ">1 Jan (3 d ago)</text>" in chart
    # days as people read them, in tooltips too
    assert "<title>3 Jan (1 d ago): 3 (amber)</title>" in chart and "2025-01" not in chart
    assert "<red>" not in chart and "pt-&lt;red&gt;" in chart
    assert history_chart([], [], [], unit="count", norm=[], alert=[], band=[]) == Markup(
        '<p class="muted">No history yet.</p>'
    )


def test_history_axis_never_goes_under_zero_for_values_that_never_did() -> None:
    # padding under a count that touched 0, and a band whose μ − σ dips under it: floored at 0
    assert history_range([0.0, 3.0, 5.0], [])[0] == 0.0
    lo, hi = history_range([1.0, 2.0, 4.0], [-3.0, 7.0])
    assert lo == 0.0 and hi > 7.0
    assert history_range([0.0, 0.0], []) == (0.0, 1.0)  # an all-zero line keeps a span above its floor
    assert history_range([10.0, 20.0], [9.0, 21.0])[0] > 0  # well above zero: no forced 0
    # a real negative (a net balance, a line set under zero) keeps its room below
    assert history_range([-5.0, 3.0], [])[0] < -5.0
    assert history_range([2.0, 3.0], [-4.0, 8.0]) == (0.0, padded_range(0.0, 8.0)[1])


def test_history_chart_of_an_amount_draws_no_negative_tick_or_band() -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(3)]
    chart = history_chart(
        days, [0.0, 1.0, 4.0], ["green"] * 3, unit="money:EUR", norm=[None] * 3, alert=[6.0] * 3,
        band=[(-2.0, 3.0), (-1.5, 3.5), (-1.0, 4.0)],
    )  # fmt: skip
    ticks = re.findall(r'<text class="axis" [^>]*text-anchor="end">([^<]*)</text>', chart)
    assert ticks[0] == "EUR 0" and not any("-" in t for t in ticks), ticks
    plot_bottom = 320 - 28
    ys = [
        float(y)
        for pts in re.findall(r'class="band" points="([^"]*)"', chart)
        for y in re.findall(r",([\d.]+)", pts)
    ]
    assert ys and max(ys) <= plot_bottom, ys  # the band stops at the axis floor, not under the labels
    negative = history_chart(
        days, [-3.0, 1.0, 4.0], ["green"] * 3, unit="money:EUR", norm=[None] * 3, alert=[None] * 3, band=[None] * 3
    )  # fmt: skip
    assert "EUR -" in negative


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (
            "bar",
            {"takeaway": "t", "bars": [{"label": "<b>", "value": 2}], "lines": {"alert": 1}},
            "line-alert",
        ),
        (
            "line",
            {"takeaway": "t", "series": [{"name": "s", "points": [{"x": "2025-11-02", "y": 1}]}]},
            "2 Nov",
        ),
        (
            "stacked",
            {"takeaway": "t", "categories": ["a"], "series": [{"name": "s", "values": [1]}]},
            "seg c0",
        ),
        (
            "funnel",
            {"takeaway": "t", "steps": [{"label": "in", "value": 4}, {"label": "out", "value": 2}]},
            "50%",
        ),
        ("table", {"takeaway": "t", "columns": [{"key": "a", "label": "A"}], "rows": [{"a": 1.5}]}, "1.50"),
        ("heat_table", {"takeaway": "t", "rows": ["r"], "columns": ["c"], "values": [[1]]}, "--heat:"),
    ],
)
def test_every_cut_kind_renders_from_its_payload(kind: str, payload: dict[str, Any], expected: str) -> None:
    html = render_cut(kind, payload, "Title <i>", AT)
    assert expected in html and "<b>" not in html and "<i>" not in html
    assert not ISO_DAY.search(html), ISO_DAY.findall(html)  # axis ticks and tooltips name days as `2 Nov`


def test_a_cut_payload_that_no_longer_fits_its_kind_says_so() -> None:
    assert "no longer fits its kind" in render_cut("bar", {"takeaway": "t", "bars": "nope"}, "T", AT)
    assert "No renderer for kind" in render_cut("pie", {"x": 1}, "T", AT)
    assert "Not computed yet" in render_cut("bar", None, "T", AT)


def test_audit_table_cells_read_moments_and_days_relative_to_the_page() -> None:
    """A cut stores dates as ISO text; its table reads them as people do, numbers and units unchanged."""
    columns = [
        {"key": "client", "label": "Client"},
        {"key": "owed", "label": "Owed", "unit": "money:EUR"},
        {"key": "oldest_due", "label": "Oldest due"},
        {"key": "submitted", "label": "Submitted"},
        {"key": "opened", "label": "Opened"},
        {"key": "invoices", "label": "Invoices"},
    ]
    row = {"client": "ACME Ltd", "owed": 5200, "oldest_due": "2026-10-16", "submitted": "2026-11-25T06:12:00Z",
           "opened": "2026-07-01T00:00:00+00:00", "invoices": 12000}  # fmt: skip
    html = render_cut("table", {"takeaway": "t", "columns": columns, "rows": [row]}, "T", AT)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    assert cells == [
        "ACME Ltd", "EUR 5,200", "16 Oct (40 d ago)", "06:12 UTC (5.8 h ago)", "1 Jul (147 d ago)", "12,000",
    ], cells  # fmt: skip
    berlin = render_cut("table", {"takeaway": "t", "columns": columns, "rows": [row]}, "T",
                        AsOf(AT.now, ZoneInfo("Europe/Berlin")))  # fmt: skip
    assert "07:12 CET (5.8 h ago)" in berlin
    assert not ISO_DAY.search(html + berlin)


def test_heat_table_rows_that_are_days_are_labelled_as_people_read_them() -> None:
    payload = {
        "takeaway": "t",
        "rows": ["2026-11-02", "web"],
        "columns": ["2026-11-09"],
        "values": [[1], [2]],
    }
    html = render_cut("heat_table", payload, "T", AT)
    assert "<th>2 Nov</th>" in html and "<th>web</th>" in html and ">9 Nov</th>" in html
    assert not ISO_DAY.search(html)


def test_the_strips_last_refresh_names_an_old_day_not_an_iso_date() -> None:
    now = AT.now
    assert short_time(None, now, UTC) == "never"
    assert short_time(now - timedelta(hours=1), now, UTC) == "11:00"
    assert short_time(now - timedelta(days=2), now, UTC) == "Mon 12:00"
    assert short_time(datetime(2026, 11, 14, 9, tzinfo=UTC), now, UTC) == "14 Nov"
    assert short_time(datetime(2025, 11, 14, 9, tzinfo=UTC), now, UTC) == "14 Nov 2025"


def test_stale_tile_has_its_own_look_age_big_last_value_small() -> None:
    stale = _state(
        "rates_eur",
        status="green",
        freshness="red",
        freshness_reason="sources 3 d old (red after 3 d)",
        source_age_s=3 * 86400.0 + 60,
        value=1.0842,
        unit="ratio",
        flags=[Flag(kind="stale", reason="sources 3 d old (red after 3 d)")],
    )
    assert stale.display_state == "stale"
    html = _tile_html(tile(stale))
    assert 'class="tile s-stale' in html and "s-green" not in html and 'data-display="stale"' in html
    assert '<div class="t-value t-age"><span class="v">3 d</span><span class="u">old</span></div>' in html
    assert '<p class="t-last">last value' in html
    assert "spark-green" not in html  # the sparkline goes grey with the tile


def test_red_stays_red_with_a_stale_badge_and_amber_staleness_keeps_its_colour() -> None:
    flag = [Flag(kind="stale", reason="sources 50 h old")]
    red = _state(freshness="red", freshness_reason="sources 4 d old", flags=flag)
    amber_late = _state("late", status="green", value=50.0, freshness="amber", flags=flag)
    html = _tile_html(tile(red), tile(amber_late))
    assert red.display_state == "red" and amber_late.display_state == "green"
    assert html.count("b-stale") == 2
    assert 'class="tile s-red' in html and 'class="tile s-green' in html


def test_no_data_and_error_tiles_say_so_instead_of_a_number() -> None:
    none = _state("none", status="no_data", value=None)
    failed = _state("failed", status="no_data", value=None, error="relation missing")
    html = _tile_html(tile(none), tile(failed))
    assert none.display_state == "no_data" and failed.display_state == "error"
    assert 'class="tile s-no_data' in html and '<span class="v">no data</span>' in html
    assert 'class="tile s-error' in html and '<span class="v">compute failed</span>' in html


def test_culprit_slot_is_filled_from_entities() -> None:
    from heartbeat_core.readmodel.annotations import EntityRef, EntitySummary

    summary = EntitySummary(
        type="client", total_count=2, total_weight=94000.0, weight_unit="money:EUR",
        top=[EntityRef(key="42", label="ACME Ltd", weight=76500.0, since=date(2026, 8, 3))],
    )  # fmt: skip
    t = tile(_state(entities=summary, as_of_date=date(2026, 9, 30)))
    assert t.culprit == Culprit(
        named="ACME Ltd · EUR 76.5k · since 3 Aug · +1 more client", counted="2 clients · EUR 94k"
    )
    assert "ACME Ltd · EUR 76.5k · since 3 Aug · +1 more client" in _tile_html(t)  # people see names
    on_display = tile(_state(entities=summary, as_of_date=date(2026, 9, 30)), detail=False)
    assert "2 clients · EUR 94k" in _tile_html(on_display) and "ACME" not in _tile_html(on_display)
    assert tile(_state(entities=summary, status="green")).culprit is None


def test_culprit_slot_falls_back_to_drivers() -> None:
    """No entities: the segments that moved are the culprit; their values are names (counted on displays)."""
    from heartbeat_core.readmodel.annotations import Driver

    drivers = [
        Driver(dimension="currency", segment=c, value=v, typical=98.0, share=s)
        for c, v, s in (("USD", 12.0, 0.3), ("GBP", 7.0, 0.2), ("CHF", 9.0, 0.1), ("PLN", 8.0, 0.1))
    ]
    t = tile(_state(unit="pct", drivers=drivers))
    assert t.culprit == Culprit(
        named="USD, GBP, CHF +1 more · ~8.5% (typ. 98%)", counted="4 currency segments"
    )
    on_display = tile(_state(unit="pct", drivers=drivers), detail=False)
    assert "4 currency segments" in _tile_html(on_display) and "USD" not in _tile_html(on_display)
    assert tile(_state(drivers=drivers, status="green")).culprit is None


def test_an_incident_card_has_its_headline_the_lead_tile_and_members_as_chips() -> None:
    lead, member = (tile(_state(f"m{i}", incident_id="inc-1")) for i in range(2))
    env = make_env()
    body = env.from_string(
        '{% import "_slots.html" as slot %}{% for g in tiles|grouped(headlines) %}'
        '{{ slot.group(g, "_tile.html") }}{% endfor %}'
    )
    html = body.render(tiles=[lead, member], headlines={"inc-1": "Two things, one cause: ACME Ltd"})
    assert '<p class="g-headline">Two things, one cause: ACME Ltd</p>' in html
    assert html.count("<article") == 1 and 'class="g-member s-' in html
    assert html.index('<article class="tile') < html.index('data-metric="m1"')


def test_an_incident_is_drawn_once_in_the_band_of_its_worst_member() -> None:
    """A red lead with an amber member: one card in the red band, the amber one a chip in it, never a second card
    under the same headline in the attention band (seen on the demo: the approval rate's incident twice)."""
    lead = _state("approval_rate", incident_id="inc-1")
    amber = _state("revenue_24h", status="amber", incident_id="inc-1")
    alone = _state("tickets", status="amber")
    calm_member = _state("payments", status="green", incident_id="inc-1")
    bands = banded([lead, amber, alone, calm_member])
    assert [t.m.metric_id for t in bands["red"]] == ["approval_rate", "revenue_24h", "payments"]
    assert [t.m.metric_id for t in bands["attention"]] == ["tickets"]
    assert bands["calm"] == []
    cards = grouped(bands["red"], {"inc-1": "Approvals down"})
    assert len(cards) == 1 and [t.m.metric_id for t in cards[0].tiles[1:]] == ["revenue_24h", "payments"]


def test_the_bands_are_laid_out_by_cards_not_by_metrics() -> None:
    """Nine red metrics in three incidents are three cards: three columns at a larger type, not four narrow
    columns at the nine-metric scale with a quarter of the screen left empty (seen on the demo at 1080p)."""
    import time

    from heartbeat_core.readmodel.cache import CachedSnapshot
    from heartbeat_core.readmodel.snapshot import CockpitSnapshot
    from heartbeat_core.settings import get_settings
    from heartbeat_web.render import CockpitRenderer

    red = [_state(f"m{i}", incident_id=f"inc-{i % 3}") for i in range(9)]
    calm = [_state(f"g{i}", status="green") for i in range(4)]
    snap = CockpitSnapshot(
        generated_at=datetime(2025, 11, 12, 9, 0, tzinfo=UTC), version=1, last_job=None,
        counts={"red": 9, "green": 4}, metrics=red + calm,
    )  # fmt: skip
    renderer = CockpitRenderer(make_env(), get_settings(), "test")
    ctx = renderer.context(CachedSnapshot(snap, b"{}", time.monotonic()), None)
    assert [len(g.tiles) for g in ctx["red"]] == [3, 3, 3] and ctx["attention"] == []
    assert ctx["layout"]["red_cols"] == 3 and ctx["layout"]["red_k"] == 1.05
    html = renderer(CachedSnapshot(snap, b"{}", time.monotonic()), None)[1].decode()
    assert html.count('<div class="t-group"') == 3 and html.count('class="g-member ') == 6
    assert 'class="band band-red" style="--cols: 3; --k: 1.05"' in html
