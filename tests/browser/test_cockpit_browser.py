"""The cockpit in headless Chromium (Debian's `chromium`, driven over the DevTools pipe): screenshots at
1080p and 4K under test-artifacts/, red above green, no scrolling with 40 metrics, the offline mark when
the server stops and its recovery, a full reload when the build changes, and no console errors."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.settings import reset_settings
from heartbeat_web.app import create_app
from tests.browser.cdp import Browser, Page
from tests.mini_world import MINI_DEFS, build_mini_sources
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
SIZES = ((1920, 1080), (3840, 2160))


@pytest.fixture
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTBEAT_COCKPIT_REFRESH", "1")
    reset_settings()


def _tile_tops(page: Page) -> dict[str, list[float]]:
    return page.eval(
        """(() => { const out = {};
            document.querySelectorAll('[data-status]').forEach(el => {
              const s = el.dataset.status; (out[s] = out[s] || []).push(el.getBoundingClientRect().top); });
            return out; })()"""
    )


def _fits(page: Page) -> bool:
    return page.eval(
        """(() => { const h = window.innerHeight;
            if (document.documentElement.scrollHeight > h + 1) return false;
            return [...document.querySelectorAll('[data-status]')].every(el => el.getBoundingClientRect().bottom <= h + 1);
          })()"""
    )


GREEN = ("rgb(57, 196, 122)", "rgb(15, 33, 25)")  # --green, --green-bg


def _assert_stale_tile_is_not_green(page: Page) -> None:
    """rates_coverage is green by value with sources 4 days old: its tile must not compute to green."""
    look = page.eval(
        """(() => { const el = document.querySelector('[data-metric=rates_coverage]'); const cs = getComputedStyle(el);
            return {display: el.dataset.display, border: cs.borderLeftColor, bg: cs.backgroundColor,
                    image: cs.backgroundImage, big: el.querySelector('.t-value').innerText}; })()"""
    )
    assert look["display"] == "stale", look
    assert look["border"] not in GREEN and look["bg"] not in GREEN, look
    assert "repeating-linear-gradient" in look["image"] and "rgb(57, 196, 122)" not in look["image"], look
    assert re.fullmatch(r"\d+\s*d\s*old", look["big"].strip()), look


def test_cockpit_screens(mini_world: str, fast_refresh: None, browser: Browser) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        value_px = {}
        for width, height in SIZES:
            page = browser.new_page(width, height)
            page.goto(srv.url + "/")
            page.wait_for("document.querySelector('[data-status]') !== null")
            tops = _tile_tops(page)
            assert max(tops["red"]) < min(tops["green"]), tops
            assert max(tops["red"]) < min(tops["amber"]), tops
            assert _fits(page), f"the cockpit scrolls at {width}x{height}"
            _assert_stale_tile_is_not_green(page)
            value_px[width] = page.eval(
                "parseFloat(getComputedStyle(document.querySelector('.s-red .t-value .v')).fontSize)"
            )
            page.screenshot(ARTIFACTS / f"cockpit-mini-{width}x{height}.png")
            # a few refresh cycles swap the partial in without errors
            page.eval("new Promise(r => setTimeout(r, 2500))")
            assert page.eval("document.getElementById('offline').hidden") is True
            assert page.errors() == []
        # legible from across the room at 1080p, and scaled (not zoomed) at 4K
        assert value_px[1920] >= 60
        assert 1.8 <= value_px[3840] / value_px[1920] <= 2.2

        page = browser.new_page(1440, 900)
        page.goto(srv.url + "/metrics/shop_unpaid_invoices")
        assert "ACME Ltd" in page.eval("document.body.innerText")
        page.screenshot(ARTIFACTS / "metric-page-1440x900.png")
        # the owner form writes through the REST API (no token set: loopback-only server)
        page.eval(
            """(() => { const f = document.querySelector('form[data-patch=verification]');
                f.querySelector('input[name=owner]').value = 'tv-owner@example.com';
                f.querySelector('select').value = 'verified'; f.requestSubmit(); })()"""
        )
        page.wait_for(
            "document.querySelector('form[data-patch=verification] output').textContent === 'saved'"
        )
        deadline = time.monotonic() + 15
        while True:  # the cockpit's snapshot follows the edit within a poll
            api = httpx.get(srv.url + "/api/metrics/shop_unpaid_invoices").json()["metric"]
            if api["owner"] == "tv-owner@example.com" and api["verification_state"] == "verified":
                break
            assert time.monotonic() < deadline, api
            time.sleep(0.1)
        assert page.errors() == []
    finally:
        srv.stop()


def test_offline_mark_and_recovery(mini_world: str, fast_refresh: None, browser: Browser) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2, build="build-a")).start()
    try:
        page = browser.new_page(1920, 1080)
        page.goto(srv.url + "/")
        page.wait_for("document.querySelector('[data-status=red]') !== null")
        srv.stop()
        text = page.wait_for(
            "!document.getElementById('offline').hidden && document.getElementById('offline').innerText", 20
        )
        assert re.match(r"offline since \d\d:\d\d", text), text
        # the last good screen stays up
        assert page.eval("document.querySelectorAll('[data-status]').length") == 5
        page.screenshot(ARTIFACTS / "cockpit-offline-1920x1080.png")
        srv.start()
        page.wait_for("document.getElementById('offline').hidden", 30)
        assert page.eval("document.querySelectorAll('[data-status]').length") == 5
        # a new build on the server: the TV reloads itself
        srv.stop()
        srv.app_factory = lambda: create_app(mcp=False, poll_s=0.2, build="build-b")
        srv.start()
        page.wait_for("document.body && document.body.dataset.build === 'build-b'", 30)
        page.wait_for("document.getElementById('offline').hidden", 10)
    finally:
        srv.stop()


def _forty_metric_defs(target: Path) -> Path:
    """40 metric files over the mini world's shop: 6 red, 8 amber, 26 green (some with targets hit)."""
    target.mkdir(parents=True, exist_ok=True)
    for f in MINI_DEFS.glob("*.sql"):
        shutil.copy(f, target / f.name)
    base = (MINI_DEFS / "shop_orders_24h.sql").read_text()
    names = [
        "Card collateral overdue",
        "Failed payouts",
        "KYC backlog over SLA",
        "Chargebacks opened",
        "Declined card authorisations",
        "Refund queue age",
        "Support tickets waiting",
        "Webhook delivery lag",
        "Unreconciled ledger entries",
        "FX rate gaps",
        "Dormant accounts reactivated",
        "New merchant signups",
        "Active cards",
        "Monthly active users",
        "Net revenue",
        "Top-ups processed",
        "Bank transfers in",
        "Bank transfers out",
        "Invoices issued",
        "Disputes resolved",
        "API error budget",
        "Login success",
        "App sessions",
        "Card issuance",
        "Subscription renewals",
        "Referral conversions",
        "Churned clients",
        "Loans disbursed",
        "Loan repayments",
        "Savings deposits",
        "Crypto trades",
        "Merchant payouts",
        "ATM withdrawals",
        "Spending insights opened",
        "Push notifications sent",
    ]
    for i, name in enumerate(names):
        if i < 5:
            norm, alert = 3000, 2000  # red: ~1,440 orders is under the alert line
        elif i < 12:
            norm, alert = 2000, 100  # amber
        else:
            norm, alert = 200, 50  # green
        text = re.sub(r"(?m)^-- name:.*$", f"-- name: {name}", base)
        text = re.sub(r"(?m)^-- norm:.*$", f"-- norm: {norm}", text)
        text = re.sub(r"(?m)^-- alert:.*$", f"-- alert: {alert}", text)
        target_value = 1000 if (i >= 12 and i % 4 == 0) else norm + 2000
        text = re.sub(r"(?m)^-- target:.*$", f"-- target: {target_value}", text)
        (target / f"m{i:02d}_metric.sql").write_text(text)
    return target


def test_forty_metrics_fit_one_screen(
    marts_url: str, fast_refresh: None, browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heartbeat_core.compute.engine import compute_metrics
    from heartbeat_core.metrics.sync import sync_directory

    defs = _forty_metric_defs(tmp_path / "defs")
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    reset_settings()
    with psycopg.connect(marts_url) as conn:
        build_mini_sources(conn, clock.now())
        conn.commit()
        assert sync_directory(conn, defs).ok
    assert compute_metrics(backfill_days=14).ok
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        for width, height in SIZES:
            page = browser.new_page(width, height)
            page.goto(srv.url + "/")
            assert page.wait_for("document.querySelectorAll('[data-status]').length") == 40
            page.wait_for("document.fonts.status === 'loaded'")
            assert _fits(page), f"40 metrics scroll at {width}x{height}"
            tops = _tile_tops(page)
            assert max(tops["red"]) < min(tops["green"])
            page.screenshot(ARTIFACTS / f"cockpit-40-metrics-{width}x{height}.png")
            assert page.errors() == []
    finally:
        srv.stop()
