"""A wall screen with a display key in headless Chromium: open the printed URL → the cookie is set and the key
leaves the address bar → a reload and a server restart keep it in → the watermark says how old the data and
the screen are → revoking the key shows why within seconds. Screenshots under test-artifacts/browser/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from heartbeat_core.access import create_credential, revoke_credential
from heartbeat_core.settings import reset_settings
from heartbeat_web.app import create_app
from tests.browser.cdp import Browser, Page
from tests.web_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.db]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TOKEN = "s3cret-token-for-tests"
TILES = "document.querySelectorAll('[data-display]').length"


@pytest.fixture
def wall(mini_world: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LiveServer, str]]:
    monkeypatch.setenv("HEARTBEAT_COCKPIT_REFRESH", "1")
    monkeypatch.setenv("HEARTBEAT_API_TOKEN", TOKEN)
    reset_settings()
    with psycopg.connect(mini_world, autocommit=True) as conn:
        key = create_credential(conn, "display", "lobby-tv")[1]
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    yield srv, key
    srv.stop()


def _reload(page: Page) -> None:
    start = len(page.browser.events)
    page.send("Page.reload", {"ignoreCache": True})
    page.browser.wait_event(
        lambda e: e.get("method") == "Page.loadEventFired" and e.get("sessionId") == page.session, start=start
    )


def _open_with_key(page: Page, srv: LiveServer, key: str, query: str = "") -> None:
    page.goto(f"{srv.url}/?key={key}{query}")
    page.wait_for(f"{TILES} >= 5")
    assert "key=" not in page.eval("location.href")  # the key left the address bar
    assert "hb_display" not in page.eval("document.cookie")  # HttpOnly: no script can read it


def test_display_key_survives_reload_and_restart_and_revocation_shows_why(
    wall: tuple[LiveServer, str], browser: Browser, mini_world: str
) -> None:
    srv, key = wall
    page = browser.new_page(1920, 1080)
    _open_with_key(page, srv, key, "&scale=1")
    assert page.eval("location.search") == "?scale=1"
    mark = page.wait_for(
        "(() => { const t = document.querySelector('.watermark').innerText;"
        " return /screen updated \\d\\d:\\d\\d/.test(t) && t; })()"
    )
    assert re.search(r"data as of (\d\d:\d\d|never) · screen updated \d\d:\d\d", mark), mark
    page.wait_for("document.fonts.status === 'loaded'")
    page.screenshot(ARTIFACTS / "wall-display-1920x1080.png")
    _reload(page)
    assert page.wait_for(TILES) >= 5
    srv.stop()
    page.wait_for("!document.getElementById('offline').hidden", 20)
    srv.start()  # same port, a new process state: the cookie still opens it
    page.wait_for("document.getElementById('offline').hidden", 30)
    _reload(page)
    assert page.wait_for(TILES) >= 5
    assert [e for e in page.errors() if "Failed to load resource" not in e] == []  # refused while down

    with psycopg.connect(mini_world, autocommit=True) as conn:
        revoke_credential(conn, "lobby-tv")
    why = page.wait_for(
        "!document.getElementById('denied').hidden && document.getElementById('denied').innerText", 15
    )
    assert "revoked" in why, why
    page.screenshot(ARTIFACTS / "wall-revoked-1920x1080.png")
    _reload(page)  # a full reload now lands on the page that says how to get a key, with no data
    text = page.wait_for("document.body && document.body.innerText")
    assert "needs a key" in text and "revoked" in text and "Customers with unpaid" not in text


@pytest.mark.e2e
def test_wall_at_4k_rotates_with_a_countdown(wall: tuple[LiveServer, str], browser: Browser) -> None:
    srv, key = wall
    page = browser.new_page(3840, 2160)
    _open_with_key(page, srv, key, "&rotate=5")
    countdown = page.wait_for(
        "document.querySelector('.rotation') && document.querySelector('.rotation').innerText"
    )
    assert re.fullmatch(r"next: audit in \d s", countdown), countdown
    assert page.eval("document.documentElement.scrollHeight <= window.innerHeight + 1")
    page.wait_for("document.fonts.status === 'loaded'")
    page.screenshot(ARTIFACTS / "wall-display-3840x2160.png")
    page.wait_for("location.pathname === '/audit'", 15)  # rotated, keeping ?rotate=
    assert "rotate=5" in page.eval("location.search")
    page.wait_for("document.querySelector('.rotation') !== null")
    assert page.errors() == []
