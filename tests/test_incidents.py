"""Incidents: problems grouped by evidence (entities, stale sources, tables read), never by timing alone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from heartbeat_core.db import connect
from heartbeat_core.metrics.lineage import tables_read
from heartbeat_core.readmodel import cockpit_snapshot
from heartbeat_core.readmodel.annotations import EntityRef, EntitySummary
from heartbeat_core.readmodel.incident_history import incident_history, record_incidents, refresh_incidents
from heartbeat_core.readmodel.incidents import build_incidents
from tests.conftest import DemoWorld


def _state(metric_id: str, shown: str = "red", **extra: Any) -> SimpleNamespace:
    base: dict[str, Any] = {
        "metric_id": metric_id, "name": metric_id.replace("_", " "), "display_state": shown, "value": 1.0,
        "unit": "count", "typical_mean": None, "owner": None, "sources": ["shop"], "freshness": "fresh",
        "source_as_of": None, "status_since": date(2026, 11, 28), "entities": None, "drivers": None,
    }  # fmt: skip
    return SimpleNamespace(**{**base, **extra})


def test_tables_read_names_schema_tables_not_ctes() -> None:
    sql = "WITH x AS (SELECT * FROM shop.orders o JOIN shop.refunds r ON r.id = o.id) SELECT count(*) FROM x"
    assert tables_read(sql) == {("shop", "orders"), ("shop", "refunds")}
    assert tables_read("SELEC nonsense ((") == frozenset()


def test_same_day_problems_without_shared_evidence_stay_apart() -> None:
    tables = {
        "a": frozenset({"shop.orders"}),
        "b": frozenset({"shop.tickets"}),
        "c": frozenset({"shop.orders"}),
    }
    incidents = build_incidents([_state("a"), _state("b"), _state("c", "amber")], tables)
    assert [i.metrics for i in incidents] == [["a", "c"], ["b"]]
    assert incidents[0].evidence == ["table shop.orders"]


def test_a_named_entity_links_metrics_of_different_entity_types() -> None:
    acme_invoice = EntitySummary(type="invoice", total_count=1, top=[EntityRef(key="7", label="ACME Ltd")])
    acme_client = EntitySummary(type="client", total_count=1, top=[EntityRef(key="42", label="ACME Ltd")])
    states = [
        _state("amount", entities=acme_invoice),
        _state("clients", entities=acme_client),
        _state("other"),
    ]
    incidents = build_incidents(states, {})
    assert [i.metrics for i in incidents] == [["amount", "clients"], ["other"]]
    assert incidents[0].entities == ["ACME Ltd"] and "ACME Ltd" in incidents[0].headline


def test_demo_world_incidents_follow_the_evidence(demo_world: DemoWorld) -> None:
    with connect() as conn:
        snapshot = cockpit_snapshot(conn)
    by_lead = {i.lead_metric_id: i for i in snapshot.incidents}
    collateral = next(i for i in snapshot.incidents if "card_collateral_overdue_amount" in i.metrics)
    aml = next(i for i in snapshot.incidents if "aml_review_backlog" in i.metrics)
    rates = next(i for i in snapshot.incidents if "currency_rate_coverage" in i.metrics)
    assert sorted(collateral.metrics) == ["card_collateral_overdue_amount", "card_collateral_overdue_clients"]
    assert (
        collateral.entities is not None
        and "ACME Ltd" in collateral.entities
        and "ACME Ltd" in collateral.headline
    )
    assert sorted(aml.metrics) == [
        "aml_review_backlog",
        "aml_review_backlog_days",
        "aml_reviews_pending_over_72h",
    ]
    assert sorted(rates.metrics) == [
        "currency_rate_coverage",
        "currency_rate_max_daily_move",
        "payment_volume_eur_24h",
    ]
    assert (
        rates.stale_sources == ["currency_rates"]
        and collateral.entities is not None
        and rates.status == "stale"
    )
    assert "outgoing_payment_approval_rate_24h" not in {*collateral.metrics, *aml.metrics, *rates.metrics}
    assert len({collateral.incident_id, aml.incident_id, rates.incident_id}) == 3
    members = {m.metric_id: m.incident_id for m in snapshot.metrics}
    assert members["aml_review_backlog"] == aml.incident_id and members["active_cards"] is None
    assert set(by_lead) >= {collateral.lead_metric_id, aml.lead_metric_id}


def test_incident_history_opens_updates_and_resolves(demo_world: DemoWorld) -> None:
    now = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    with connect() as conn:
        stored = {r["incident_id"]: r for r in incident_history(conn)}  # the demo recorded them once
        snapshot = cockpit_snapshot(conn)
        assert {i.incident_id for i in snapshot.incidents} <= set(stored)
        assert refresh_incidents(conn, now) == []  # nothing moved: no change, ids stable
        aml = next(i for i in snapshot.incidents if "aml_review_backlog" in i.metrics)
        shrunk = aml.model_copy(update={"metrics": aml.metrics[:1]})
        changes = record_incidents(conn, [shrunk], now)
        kinds = {c.incident_id: c.kind for c in changes}
        assert aml.incident_id not in kinds and set(kinds.values()) == {"resolved"}
        changes = record_incidents(conn, [aml], now)
        kinds = {c.incident_id: c.kind for c in changes}
        assert kinds[aml.incident_id] == "updated"
        changes = record_incidents(conn, [], now)
        assert {c.kind for c in changes} == {"resolved"}
        history = {r["incident_id"]: r for r in incident_history(conn)}
        assert history[aml.incident_id]["status"] == "resolved"
        assert len(history[aml.incident_id]["history"]) == 5  # three spans, then two left and rejoined
