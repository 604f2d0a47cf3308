"""Audit pages in headless Chromium over the demo world: every page renders its cuts' SVG charts and
tables without console errors, the window switcher works, markup stays inert; screenshots are kept in
test-artifacts/browser/audit_*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from heartbeat_core.audit import refresh_cuts
from heartbeat_demo.world import build_world
from heartbeat_web.app import create_app
from tests.browser.cdp import Browser, Page
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _full_page(page: Page, path: Path) -> None:
    height = page.eval("document.documentElement.scrollHeight")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": min(int(height), 16000), "deviceScaleFactor": 1, "mobile": False},
    )
    page.screenshot(path)


def test_audit_pages_in_chromium(marts_url: str, tmp_path: Path, browser: Browser) -> None:
    build_world(marts_url, tmp_path / "files", scale=1)
    assert refresh_cuts().ok
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.5)).start()
    try:
        for name, url in (
            ("index", "/audit"),
            ("clients", "/audit/clients"),
            ("journeys", "/audit/journeys"),
            ("risk", "/audit/risk"),
            ("risk_7d", "/audit/risk?window=7d"),
        ):
            page = browser.new_page(1280, 900)
            page.goto(srv.url + url)
            page.wait_for("document.readyState === 'complete'")
            if name != "index":
                cuts = page.eval("document.querySelectorAll('section.cut').length")
                charts = page.eval(
                    "document.querySelectorAll('section.cut svg.audit-chart, section.cut table').length"
                )
                assert cuts >= 5 and charts >= cuts, (name, cuts, charts)
                # every chart has laid out with a size (no broken SVG)
                assert page.eval(
                    "[...document.querySelectorAll('svg.audit-chart')].every(s => s.getBoundingClientRect().width > 300)"
                )
                assert page.eval("document.querySelectorAll('.cut-error').length") == 0
            else:
                assert page.eval("document.querySelectorAll('.audit-list li').length") >= 15
            _full_page(page, ARTIFACTS / f"audit_{name}.png")
            assert page.errors() == [], (name, page.errors())
        risk = browser.new_page(1280, 900)
        risk.goto(srv.url + "/audit/risk")
        assert "ACME Ltd" in risk.eval(
            "document.querySelector('#cut-risk_collateral_overdue_by_client tr.hl').textContent"
        )
        # the window switcher is a plain link: 7d marks itself current
        risk.goto(srv.url + "/audit/risk?window=7d")
        assert risk.eval("document.querySelector('.windows a[aria-current]').textContent") == "7d"
        assert risk.errors() == []
    finally:
        srv.stop()
