"""Entity history on the mini world: spans from the full key set at each as-of moment (backfill included),
events new / worse / gone, idempotent on recompute; and the span merge in any day order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.compute.entities import EntityRow, EntitySet
from heartbeat_core.compute.entity_history import Span, merge_day
from heartbeat_core.settings import reset_settings
from tests.mini_world import MINI_DEFS, build_mini_world

NOW = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)
TODAY = NOW.date()
METRIC = "shop_unpaid_invoices"


@pytest.fixture
def world(marts_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(MINI_DEFS))
    reset_settings()
    build_mini_world(marts_url, NOW, backfill_days=10)
    return marts_url


def spans(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT entity_type, entity_key, label, first_seen, last_seen, weight FROM heartbeat.entity_span"
            " WHERE metric_id = %s ORDER BY entity_key, first_seen",
            (METRIC,),
        ).fetchall()


def events(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT entity_key, kind, as_of_date, weight, previous_weight, recorded_at FROM heartbeat.entity_event"
            " WHERE metric_id = %s ORDER BY id",
            (METRIC,),
        ).fetchall()


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # fixed test SQL


def recompute(at: datetime = NOW) -> None:
    with clock.frozen_clock(at):
        report = compute_metrics([METRIC])
    assert report.ok, [o.error for o in report.failed]


def test_backfill_records_one_span_per_presence_and_no_news_on_first_sight(world: str) -> None:
    assert spans(world) == [("client", "ACME Ltd", "ACME Ltd", TODAY - timedelta(days=10), TODAY, 12400.0)]
    assert events(world) == []  # the first observed day is not news
    with psycopg.connect(world) as conn:
        totals = conn.execute(
            "SELECT count(*), min(total_count), max(total_weight) FROM heartbeat.entity_total WHERE metric_id = %s",
            (METRIC,),
        ).fetchone()
    assert totals == (11, 1, 12400.0)


def test_new_worse_gone_events_and_nothing_twice_on_recompute(world: str) -> None:
    execute(
        world, f"INSERT INTO shop.invoices VALUES (10, 'Hooli', 2500, '{NOW - timedelta(days=40)}', NULL)"
    )
    recompute()
    assert ("client", "Hooli", "Hooli", TODAY, TODAY, 2500.0) in spans(world)
    first = events(world)
    assert [(e[0], e[1], e[2]) for e in first] == [("Hooli", "new", TODAY)]
    recompute(NOW + timedelta(minutes=5))
    assert events(world) == first  # same event, same recorded_at

    execute(
        world, f"INSERT INTO shop.invoices VALUES (11, 'ACME Ltd', 5000, '{NOW - timedelta(days=50)}', NULL)"
    )
    recompute()
    worse = [e for e in events(world) if e[1] == "worse"]
    assert [(e[0], e[2], e[3], e[4]) for e in worse] == [("ACME Ltd", TODAY, 17400.0, 12400.0)]

    execute(
        world, f"UPDATE shop.invoices SET paid_at = '{NOW - timedelta(days=200)}' WHERE customer = 'ACME Ltd'"
    )
    recompute()
    acme = [s for s in spans(world) if s[1] == "ACME Ltd"]
    assert acme == [
        ("client", "ACME Ltd", "ACME Ltd", TODAY - timedelta(days=10), TODAY - timedelta(days=1), 12400.0)
    ]
    assert [(e[0], e[1], e[2]) for e in events(world) if e[0] == "ACME Ltd"] == [("ACME Ltd", "gone", TODAY)]

    execute(
        world, f"UPDATE shop.invoices SET paid_at = '{NOW - timedelta(minutes=1)}' WHERE customer = 'Hooli'"
    )
    recompute()
    assert not [s for s in spans(world) if s[1] == "Hooli"]  # seen only today, gone on recompute
    assert not [e for e in events(world) if e[0] == "Hooli"]


def _set(*rows: tuple[str, float]) -> EntitySet:
    return EntitySet("client", [EntityRow(k, k, w) for k, w in rows], len(rows), sum(w for _, w in rows))


D = date(2026, 9, 14)


def test_merge_extends_prepends_and_bridges_spans() -> None:
    after = Span(1, "acme", "acme", D + timedelta(days=1), D + timedelta(days=5), 10.0, 10.0)
    edits = merge_day([after], D, _set(("acme", 10.0)), True, 0.2)
    assert after.first_seen == D and edits.upserts == [after]
    assert [(e[0], e[1], e[2]) for e in edits.events] == [("acme", "new", D)]
    assert ("acme", "new", D + timedelta(days=1)) in edits.unevents

    before = Span(2, "acme", "acme", D - timedelta(days=3), D - timedelta(days=1), 10.0, None)
    later = Span(3, "acme", "acme", D + timedelta(days=1), D + timedelta(days=2), 11.0, 10.0)
    edits = merge_day([before, later], D, _set(("acme", 10.0)), True, 0.2)
    assert (before.first_seen, before.last_seen, before.weight) == (
        D - timedelta(days=3),
        D + timedelta(days=2),
        11.0,
    )
    assert edits.deletes == [3] and not edits.events


def test_merge_cuts_an_absent_day_out_of_a_span() -> None:
    span = Span(4, "acme", "acme", D - timedelta(days=2), D + timedelta(days=2), 10.0, 10.0)
    edits = merge_day([span], D, _set(), True, 0.2)
    assert span.last_seen == D - timedelta(days=1)
    tails = [s for s in edits.upserts if s.id is None]
    assert [(s.first_seen, s.last_seen) for s in tails] == [(D + timedelta(days=1), D + timedelta(days=2))]
    kinds = {(e[1], e[2]) for e in edits.events}
    assert kinds == {("gone", D), ("new", D + timedelta(days=1))}


def test_read_model_carries_entities_culprit_and_new_flag(world: str) -> None:
    from heartbeat_core.readmodel import metric_states
    from heartbeat_core.readmodel.entities import culprit_line

    execute(
        world, f"INSERT INTO shop.invoices VALUES (10, 'Hooli', 2500, '{NOW - timedelta(days=40)}', NULL)"
    )
    recompute()
    with psycopg.connect(world) as conn, clock.frozen_clock(NOW + timedelta(hours=1)):
        (state,) = metric_states(conn, [METRIC])
    summary = state.entities
    assert summary is not None
    assert (summary.type, summary.total_count, summary.total_weight) == ("client", 2, 14900.0)
    assert [(r.label, r.weight, r.since, r.new) for r in summary.top] == [
        ("ACME Ltd", 12400.0, TODAY - timedelta(days=10), False),
        ("Hooli", 2500.0, TODAY, True),
    ]
    assert [r.key for r in summary.new_since_previous_day] == ["Hooli"]
    assert [f.kind for f in state.flags] == ["new_entity"]
    line = culprit_line(summary, TODAY)
    assert line is not None
    assert line.named == "ACME Ltd · EUR 12.4k · since 15 Nov · +1 more client"
    assert line.counted == "2 clients · EUR 14.9k"
    with psycopg.connect(world) as conn, clock.frozen_clock(NOW + timedelta(days=1, hours=1)):
        (later,) = metric_states(conn, [METRIC])
    assert later.entities is not None and not any(r.new for r in later.entities.top)
    assert not [
        f for f in later.flags if f.kind == "new_entity"
    ]  # NEW lasts a day (the data is late by then)


def test_mcp_what_is_red_and_explain_metric_name_the_new_client(world: str) -> None:
    import anyio
    from mcp import Client

    from heartbeat_mcp.server import build_server
    from tests.test_mcp import data, text_of

    execute(
        world, f"INSERT INTO shop.invoices VALUES (10, 'Hooli', 2500, '{NOW - timedelta(days=40)}', NULL)"
    )
    recompute()

    async def body() -> None:
        async with Client(build_server(actor="mcp-test")) as client:
            red = await client.call_tool("what_is_red", {})
            item = next(i for i in data(red)["items"] if i["metric_id"] == METRIC)
            assert [r["label"] for r in item["entities"]["new_since_previous_day"]] == ["Hooli"]
            assert item["entities"]["total_count"] == 2
            assert "in it: ACME Ltd · EUR 12.4k" in text_of(red.content[0])
            explained = data(await client.call_tool("explain_metric", {"metric_id": METRIC}))
            timeline = {e["key"]: e for e in explained["entity_timeline"]}
            assert timeline["ACME Ltd"]["since"] == str(TODAY - timedelta(days=10))
            assert [e["kind"] for e in timeline["Hooli"]["events"]] == ["new"]

    with clock.frozen_clock(NOW + timedelta(minutes=10)):
        anyio.run(body)


def test_the_culprit_line_counts_the_rest_with_their_noun() -> None:
    """Invoices labelled by their client's name: "+2 more invoices", never a bare "+2 more" that reads as two
    more clients while the client count says one."""
    from heartbeat_core.readmodel.annotations import EntityRef, EntitySummary
    from heartbeat_core.readmodel.entities import culprit_line

    top = EntityRef(key="inv-7", label="ACME Ltd", weight=28100.0, since=TODAY - timedelta(days=19))
    summary = EntitySummary(
        type="invoice", total_count=3, total_weight=31000.0, weight_unit="money:EUR", top=[top]
    )
    line = culprit_line(summary, TODAY)
    assert line is not None
    assert line.named == "ACME Ltd · EUR 28.1k · since 6 Nov · +2 more invoices"
    assert line.counted == "3 invoices · EUR 31k"
