"""`-- entity_owner`: acknowledging a client covers the invoices it owns in every metric, on real Postgres
(the mini world plus one metric that lists invoices, owned by their customer)."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import anyio
import psycopg
import pytest
from mcp import Client

from heartbeat_core import clock, readmodel
from heartbeat_core.alerts.acknowledge import acknowledge
from heartbeat_core.compute.engine import compute_metrics
from heartbeat_core.metrics.definition import DefinitionError, parse_metric_file
from heartbeat_core.metrics.sync import sync_directory
from heartbeat_core.readmodel.acknowledged import acknowledgements
from heartbeat_mcp.server import build_server
from tests.mini_world import MINI_DEFS
from tests.test_mcp import text_of

METRIC = "shop_unpaid_invoice_amount"
DEFINITION = """-- name: Unpaid invoice amount
-- period: snapshot
-- unit: money:EUR
-- direction: lower_is_better
-- sources: shop
-- norm: 0
-- alert: 1000
-- owner: finance@example.com
-- entity: invoice:invoice_id
-- entity_label: customer
-- entity_owner: client:customer
-- entity_weight: amount
-- description: Invoices unpaid 30+ days past due, summed.
-- how_to_read: Money we are covering; the detail lists each invoice with its customer.

-- @value
SELECT coalesce(sum(amount), 0) AS value FROM shop.invoices
WHERE (paid_at IS NULL OR paid_at >= heartbeat.as_of()) AND due_date < heartbeat.as_of() - interval '30 days';

-- @detail
SELECT id AS invoice_id, customer, amount FROM shop.invoices
WHERE (paid_at IS NULL OR paid_at >= heartbeat.as_of()) AND due_date < heartbeat.as_of() - interval '30 days'
ORDER BY amount DESC;
"""


@pytest.fixture
def invoices_metric(mini_world: str, tmp_path: Path) -> str:
    defs = tmp_path / "defs"
    shutil.copytree(MINI_DEFS, defs)
    (defs / f"{METRIC}.sql").write_text(DEFINITION, encoding="utf-8")
    with psycopg.connect(mini_world) as conn:
        assert sync_directory(conn, defs).problems == []
    assert compute_metrics([METRIC]).ok
    return mini_world


def _state(url: str) -> readmodel.MetricState:
    with psycopg.connect(url) as conn:
        return readmodel.metric_states(conn, [METRIC])[0]


def test_acknowledging_the_client_covers_its_invoices(invoices_metric: str) -> None:
    before = _state(invoices_metric)
    assert before.entities is not None and before.entities.type == "invoice"
    assert sorted(r.key for r in before.entities.top) == ["1", "2", "3"]  # ACME Ltd's three overdue invoices
    assert before.acknowledgement is None
    with psycopg.connect(invoices_metric) as conn:
        owners = conn.execute(
            "SELECT entity_key, owner_type, owner_key FROM heartbeat.entity_owner WHERE entity_type = 'invoice'"
            " ORDER BY entity_key"
        ).fetchall()
    assert owners == [("1", "client", "ACME Ltd"), ("2", "client", "ACME Ltd"), ("3", "client", "ACME Ltd")]

    with psycopg.connect(invoices_metric) as conn:
        acknowledge(conn, "client:ACME Ltd", by="anna@example.com", note="collections on it")
    after = _state(invoices_metric)
    assert after.acknowledgement is not None
    assert (after.acknowledgement.by, after.acknowledgement.subject) == (
        "anna@example.com",
        "entity:client:ACME Ltd",
    )
    assert "acknowledged" in [f.kind for f in after.flags]
    with psycopg.connect(invoices_metric) as conn:
        acks = acknowledgements(conn, clock.now())
    assert {"entity:invoice:1", "entity:invoice:2", "entity:invoice:3"} <= set(acks)
    assert acks["entity:invoice:1"].subject == "entity:client:ACME Ltd"

    async def ask() -> str:
        async with Client(build_server(actor="mcp-test")) as client:
            return text_of((await client.call_tool("what_is_red", {})).content[0])

    line = next(x for x in anyio.run(ask).splitlines() if METRIC in x)
    assert "acknowledged by anna@example.com: collections on it" in line, line
    assert not re.search(r"\d{4}-\d{2}-\d{2}", line), line  # dates read as '16 Oct', never ISO


def test_an_invoice_of_another_client_is_not_covered(invoices_metric: str) -> None:
    with psycopg.connect(invoices_metric) as conn:
        acknowledge(conn, "client:ACME Ltd", by="anna@example.com")
    with psycopg.connect(invoices_metric, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO shop.invoices VALUES (31, 'Hooli', 2500, %s, NULL)",
            (clock.now() - timedelta(days=40),),
        )
    assert compute_metrics([METRIC]).ok
    state = _state(invoices_metric)
    assert state.acknowledgement is None  # Hooli's invoice is nobody's yet: the metric is not acknowledged
    with psycopg.connect(invoices_metric) as conn:
        acks = acknowledgements(conn, clock.now())
    assert "entity:invoice:31" not in acks and "entity:invoice:2" in acks


def test_entity_owner_must_name_a_type_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad_owner.sql"
    bad.write_text(DEFINITION.replace("client:customer", "customer"), encoding="utf-8")
    with pytest.raises(DefinitionError) as raised:
        parse_metric_file(bad)
    owner = [p for p in raised.value.problems if "entity_owner" in p.message]
    assert [p.line for p in owner] == [11], raised.value.problems
    assert "entity_owner 'customer' is not `<type>:<key column>`" in owner[0].message
    itself = tmp_path / "own_self.sql"
    itself.write_text(DEFINITION.replace("client:customer", "invoice:customer"), encoding="utf-8")
    with pytest.raises(DefinitionError, match="cannot own itself"):
        parse_metric_file(itself)
