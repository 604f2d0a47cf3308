"""The metric page's acknowledge form in headless Chromium (issue 13): pick an entity, say who and why, submit;
the acknowledgement is recorded with who, and the page shows it on reload."""

from __future__ import annotations

import httpx
import pytest

from heartbeat_web.app import create_app
from tests.browser.cdp import Browser
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

METRIC = "shop_unpaid_invoices"


def test_acknowledge_an_entity_from_the_metric_page(mini_world: str, browser: Browser) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        page = browser.new_page(1600, 1200)
        page.goto(f"{srv.url}/metrics/{METRIC}")
        page.wait_for("document.querySelector('form[data-ack] select[name=subject]') !== null")
        options = page.eval(
            "Array.from(document.querySelectorAll('form[data-ack] option')).map(o => o.value)"
        )
        assert options[0] == f"metric:{METRIC}" and "client:ACME Ltd" in options, options
        page.eval(
            """(() => { const f = document.querySelector('form[data-ack]');
               f.subject.value = 'client:ACME Ltd'; f.by.value = 'anna@example.com';
               f.note.value = 'in collections'; f.until.value = '2099-01-31';
               f.querySelector('button[type=submit]').click(); })()"""
        )
        page.wait_for("document.querySelector('form[data-ack] output').textContent === 'acknowledged'")
        page.goto(f"{srv.url}/metrics/{METRIC}")
        page.wait_for("document.querySelector('#entities') !== null")
        row = page.eval("document.querySelector('#entities tr[data-key=\"ACME Ltd\"]').textContent")
        assert "by anna@example.com: in collections" in row, row
        assert not page.errors(), page.errors()
        acks = httpx.get(f"{srv.url}/api/changes", params={"since": "2000-01-01T00:00:00Z"}).json()
        assert [(a["subject"], a["by"]) for a in acks["acknowledgements"]] == [
            ("entity:client:ACME Ltd", "anna@example.com")
        ]
    finally:
        srv.stop()
