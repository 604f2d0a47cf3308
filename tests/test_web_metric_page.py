"""The metric page as people read it on a phone, against the real demo world: no ISO moment or bare ISO date
in the visible text (attributes and the JSON API keep machine values), money with its currency, counts with
thousands separators, moments as `14:30 UTC (5.8 h ago)` and days as `14 Sep (79 d ago)`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from heartbeat_web.app import create_app
from tests.web_server import LiveServer

pytestmark = [pytest.mark.db, pytest.mark.slow]

MONEY_METRIC = "card_collateral_overdue_amount"  # money:EUR, invoices with due dates and amounts in detail
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}(-\d{2})?\b")  # a date or a month (`2026-08`)
OFFSET = re.compile(r"[+-]\d{2}:\d{2}\b")
MOMENT = re.compile(r"\b\d{2}:\d{2} UTC \(\d+(\.\d)? (s|min|h|d) ago\)")
DAY = re.compile(r"\b\d{1,2} [A-Z][a-z]{2}( \d{4})? \((in )?\d+ d( ago)?\)|\btoday\b")


class _Visible(HTMLParser):
    """The text a person sees (and hovers: SVG titles), without tags or attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def section(html: str, heading: str) -> str:
    """The visible text of the card whose h2 starts with `heading`."""
    start = html.index(f"<h2>{heading}")
    return visible(html[start : html.index("</section>", start)])


@pytest.fixture
def client(demo_world: Any) -> Iterator[httpx.Client]:
    srv = LiveServer(lambda: create_app(mcp=False, poll_s=0.2)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            yield c
    finally:
        srv.stop()


def test_no_metric_page_shows_a_machine_moment(client: httpx.Client) -> None:
    ids = [m["metric_id"] for m in client.get("/api/cockpit").json()["metrics"]]
    assert len(ids) > 30
    machine, computed = [], []
    for metric_id in ids:
        page = client.get(f"/metrics/{metric_id}")
        assert page.status_code == 200, metric_id
        text = visible(page.text)
        for pattern in (ISO_MOMENT, ISO_DAY, OFFSET):
            machine += [f"{metric_id}: {text[f.start() - 60 : f.end() + 20]}" for f in pattern.finditer(text)]
        computed.append(text[text.index("Computed") : text.index("Source as of")])
    assert machine == []
    assert all(MOMENT.search(c) for c in computed), computed


def test_money_page_reads_with_currency_days_and_moments(client: httpx.Client) -> None:
    html = client.get(f"/metrics/{MONEY_METRIC}").text
    api = client.get(f"/api/metrics/{MONEY_METRIC}").json()
    components = visible(html[html.index('<section class="components"') :].split("</section>", 1)[0])
    assert re.search(r"Value EUR \d[\d.,]*[kM]? as of today", components), components
    assert re.search(r"Alert \(red\) EUR \d", components), components
    detail = section(html, "Detail rows")
    assert re.search(r"\bamount\b.*\bdue date\b|\bdue date\b.*\bamount\b", detail), detail[:300]
    # amounts in the row's currency, with thousands separators
    assert re.search(r"EUR \d{1,3}(,\d{3})*(\.\d{2})?\b", detail), detail[:300]
    assert DAY.search(detail), detail[:300]  # due dates as `14 Sep (79 d ago)`
    entities = section(html, "Invoices in this metric")
    assert DAY.search(entities), entities[:300]
    facts = visible(html[html.index("<dl") : html.index("</dl>")])
    assert MOMENT.search(facts), facts
    # machine values stay where machines read them: the JSON API and the attributes
    computed_at = api["metric"]["computed_at"]
    assert re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", computed_at), computed_at
    assert '<th title="due_date">due date</th>' in html and f'data-metric="{MONEY_METRIC}"' in html
    # an entity to acknowledge is named first, its id after (three invoices of one client stay apart)
    assert re.search(r">invoice [A-Z][\w .]+ · \d+ \(every metric\)</option>", html), html[-3000:]


def test_counts_carry_their_unit_and_separators(client: httpx.Client) -> None:
    metrics = client.get("/api/cockpit").json()["metrics"]
    counted = next(m for m in metrics if m["unit"] == "payments" and (m["value"] or 0) >= 1)
    html = client.get(f"/metrics/{counted['metric_id']}").text
    components = visible(html[html.index('<section class="components"') :].split("</section>", 1)[0])
    assert re.search(r"Value [\d,.]+k? payments?\b", components), components
    big = next(m for m in metrics if m["unit"] not in ("pct", "ratio") and 1000 <= (m["value"] or 0) < 10000)
    html = client.get(f"/metrics/{big['metric_id']}").text
    assert f"{big['value']:,.0f}" in visible(html), big
