"""The catalog from the registries: `/catalog` (escaped, filterable, linking to metric pages) and
`heartbeat catalog export` (the same entries as Markdown)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from heartbeat_cli.main import app
from heartbeat_core.readmodel.catalog import catalog
from heartbeat_web.app import create_app
from tests.test_audit_surfaces import CLOCK, ISO_MOMENT, audit_world  # noqa: F401  (fixture)
from tests.web_server import LiveServer

pytestmark = pytest.mark.db


@pytest.fixture
def verified(audit_world: str) -> Iterator[str]:  # noqa: F811
    with psycopg.connect(audit_world) as conn:
        conn.execute(
            "UPDATE heartbeat.metric_registry SET verification_state = 'verified',"
            " verification_updated_by = 'c.muller@example.com', verification_updated_at = now()"
            " WHERE metric_id = 'shop_unpaid_invoices'"
        )
    yield audit_world


def test_catalog_page_lists_every_metric_and_cut_escaped_and_linked(verified: str) -> None:
    with psycopg.connect(verified) as conn:
        cat = catalog(conn)
        ids = [
            r[0]
            for r in conn.execute("SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL")
        ]
    assert sorted(e.id for e in cat.metrics) == sorted(ids) and cat.cuts
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        html = httpx.get(f"{srv.url}/catalog", timeout=20).text
    finally:
        srv.stop()
    for metric_id in ids:
        assert f'href="/metrics/{metric_id}"' in html, metric_id
    assert "verified by c.muller@example.com" in html
    # moments as people read them: the page's own and the verification's (with its age), never `2026-11-02 15:16`
    assert not ISO_MOMENT.search(html), ISO_MOMENT.findall(html)
    assert re.search(rf"generated from the registries at {CLOCK}:", html)
    assert re.search(rf'title="verified {CLOCK} \(\d+ s ago\)"', html)
    assert "Evil &lt;script&gt;alert(" in html and "<img src=x" not in html
    assert 'id="catalog-filter"' in html and "/static/catalog.js" in html
    unpaid = next(e for e in cat.metrics if e.id == "shop_unpaid_invoices")
    assert unpaid.description and unpaid.owner and unpaid.sources
    assert "unpaid" in unpaid.search_text


def test_catalog_export_writes_the_same_entries_as_markdown(verified: str, tmp_path: Path) -> None:
    out = tmp_path / "catalog.md"
    result = CliRunner().invoke(app, ["catalog", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    with psycopg.connect(verified) as conn:
        cat = catalog(conn)
    assert text.startswith("# Heartbeat catalog")
    for entry in [*cat.metrics, *cat.cuts]:
        assert f"(`{entry.id}`)" in text
    assert "- **Verification:** verified by c.muller@example.com" in text
    # a wiki page is read for months: days named, no ages, never an ISO date (`on 3 Dec at 06:12 UTC`)
    assert re.search(rf"Generated from the registries on \d{{1,2}} [A-Z][a-z]{{2}} at {CLOCK}: ", text), text[
        :300
    ]
    assert re.search(r"verified by c\.muller@example\.com on \d{1,2} [A-Z][a-z]{2}\n", text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert "http://127.0.0.1:8787/metrics/shop_unpaid_invoices" in text
