"""Drivers on the cockpit of the demo world (headless Chromium): the screening incident's card names the
currencies that moved, in its headline and in the lead tile's culprit line; the AML card names the reviewers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heartbeat_web.app import create_app
from tests.browser.cdp import Browser
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _card(page: Any, metric_id: str) -> dict[str, Any]:
    return page.eval(
        f"""(() => {{ const el = document.querySelector('[data-metric={metric_id}]').closest('[data-incident]');
            const q = s => (el.querySelector(s) || {{innerText: ''}}).innerText;
            return {{headline: q('.g-headline'), culprit: q('.t-culprit'),
                    members: [...el.querySelectorAll('[data-metric]')].map(m => m.dataset.metric)}}; }})()"""
    )


def test_incident_cards_name_the_segments_that_moved(demo_world: Any, browser: Browser) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        page = browser.new_page(1920, 1080)
        page.goto(srv.url + "/")
        page.wait_for("document.querySelector('[data-incident]') !== null")
        screening = _card(page, "outgoing_payment_approval_rate_24h")
        assert "USD" in screening["headline"] and "down" in screening["headline"], screening
        assert screening["culprit"].startswith("USD, GBP"), screening  # loopback without a token: names
        assert "revenue_7d" in screening["members"], screening
        aml = _card(page, "aml_review_backlog")
        assert any(name in aml["headline"] for name in ("c.muller", "d.rossi", "e.novak")), aml
        page.screenshot(ARTIFACTS / "cockpit-demo-drivers-1920x1080.png")
        assert page.errors() == []
    finally:
        srv.stop()
