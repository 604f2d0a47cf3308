"""The metric, audit and catalog pages of the demo world in headless Chromium at three widths: on a 4K TV
(3840×2160, device pixel ratio 1) they are the 1080p page doubled, not a 1200 px island; at 1920 px they are
as they were (a 1200 px column of 16 px text); on a 390 px phone nothing scrolls sideways but the wide
tables, inside their `.scroll` box. Screenshots: test-artifacts/browser/wide_*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heartbeat_web.app import create_app
from tests.browser.cdp import Browser, Page
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
METRIC = "/metrics/card_collateral_overdue_amount"  # red, with an 8-column detail table
PAGES = (METRIC, "/audit", "/audit/risk", "/audit/journeys", "/catalog")

LOOK = """(() => { const body = document.body.getBoundingClientRect(), cs = getComputedStyle(document.body);
  const px = sel => { const el = document.querySelector(sel); return el ? el.getBoundingClientRect().width : 0; };
  const font = sel => { const el = document.querySelector(sel); return el ? parseFloat(getComputedStyle(el).fontSize) : 0; };
  return {vw: innerWidth, column: body.width, left: body.left, text: parseFloat(cs.fontSize), h1: font('h1'),
          cell: font('table.rows td'), chart: px('svg.chart'), scroll: document.documentElement.scrollWidth}; })()"""


def _open(browser: Browser, url: str, width: int, height: int) -> Page:
    page = browser.new_page(width, height)
    page.goto(url)
    page.wait_for("document.readyState === 'complete' && document.querySelector('h1') !== null")
    return page


def test_pages_fill_a_4k_screen_and_fit_a_phone(demo_world: Any, browser: Browser) -> None:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.5)).start()
    try:
        for path in PAGES:
            name = path.strip("/").replace("/", "_") or "index"
            hd = _open(browser, srv.url + path, 1920, 1080)
            at_hd: dict[str, float] = hd.eval(LOOK)
            # 1920 px: the page as it was before it learnt to scale
            assert at_hd["column"] == 1200 and at_hd["text"] == 16, (path, at_hd)
            tv = _open(browser, srv.url + path, 3840, 2160)
            at_tv: dict[str, float] = tv.eval(LOOK)
            tv.screenshot(ARTIFACTS / f"wide_{name}_3840x2160.png")
            # 4K: the column keeps the 1080p share of the width (62.5 %), centred, and every size doubles
            assert at_tv["column"] >= 0.6 * at_tv["vw"], (path, at_tv)
            assert abs(at_tv["column"] / at_tv["vw"] - at_hd["column"] / at_hd["vw"]) < 0.01, (
                path,
                at_hd,
                at_tv,
            )
            assert abs(at_tv["left"] - (at_tv["vw"] - at_tv["column"]) / 2) <= 1, (path, at_tv)
            for key in ("text", "h1", "cell", "chart"):
                assert at_tv[key] == pytest.approx(2 * at_hd[key], rel=0.02), (path, key, at_hd, at_tv)
            assert at_tv["scroll"] <= at_tv["vw"], (path, at_tv)
            assert hd.errors() == [] and tv.errors() == [], (path, hd.errors(), tv.errors())

            phone = _open(browser, srv.url + path, 390, 844)
            phone.screenshot(ARTIFACTS / f"wide_{name}_390x844.png")
            fit = phone.eval("[document.documentElement.scrollWidth, innerWidth]")
            assert fit[0] <= fit[1], (path, fit)

        # the metric page's detail table is wider than a phone: it scrolls inside its box, not the page
        phone = _open(browser, srv.url + METRIC, 390, 844)
        boxes = phone.eval(
            "[...document.querySelectorAll('.scroll')]"
            ".map(s => [s.scrollWidth, s.clientWidth, s.getBoundingClientRect().right])"
        )
        assert any(inner > outer for inner, outer, _ in boxes), boxes
        assert all(right <= 390 for _, _, right in boxes), boxes
        # its big value stays on one line under the name
        value = phone.eval(
            "(() => { const v = document.querySelector('.m-big .v');"
            " return [v.getBoundingClientRect().height, parseFloat(getComputedStyle(v).fontSize)]; })()"
        )
        assert value[0] < 1.8 * value[1], value
    finally:
        srv.stop()
