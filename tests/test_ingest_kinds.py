"""REST (a real HTTP server on loopback), files (CSV in a folder) and webhook sources through the
real engine and real Postgres, with their bad inputs: 500, timeout, bad JSON, a malformed CSV row."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from heartbeat_core.ingest import land_events, run_all, run_one
from heartbeat_core.ingest.config import parse_sources
from heartbeat_core.readmodel.freshness import source_as_of

TOKEN = "tok-9f8e7d6c5b"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Helpdesk:
    """A tiny paginated tickets API: `{"items", "page", "next_page", "total"}`, bearer auth."""

    def __init__(self) -> None:
        self.tickets = [
            {
                "id": i,
                "subject": f"ticket {i}",
                "status": "open",
                "updated_at": (T0 + timedelta(minutes=i)).isoformat(),
            }
            for i in range(1, 26)
        ]
        self.fault: str | None = None
        self.requests: list[dict[str, list[str]]] = []
        self.release = threading.Event()
        helpdesk = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                helpdesk.requests.append(query)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, b'{"error": "unauthorized"}')
                    return
                if helpdesk.fault == "error":
                    self._send(500, b'{"error": "boom"}')
                    return
                if helpdesk.fault == "slow":
                    helpdesk.release.wait(5)
                if helpdesk.fault == "bad_json":
                    self._send(200, b'{"items": [{"id": 1, "subj')
                    return
                since = query.get("updated_since", [None])[0]
                page = int(query.get("page", ["1"])[0])
                per_page = int(query.get("per_page", ["10"])[0])
                rows = sorted(helpdesk.tickets, key=lambda t: (t["updated_at"], t["id"]))
                if since:
                    bound = datetime.fromisoformat(since.replace("Z", "+00:00"))
                    rows = [t for t in rows if datetime.fromisoformat(t["updated_at"]) >= bound]
                chunk = rows[(page - 1) * per_page : page * per_page]
                more = page * per_page < len(rows)
                body = {
                    "items": chunk,
                    "page": page,
                    "next_page": page + 1 if more else None,
                    "total": len(rows),
                }
                self._send(200, json.dumps(body).encode())

            def _send(self, code: int, body: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def helpdesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Helpdesk]:
    api = Helpdesk()
    monkeypatch.setenv("HB_TEST_HELPDESK_URL", api.url)
    monkeypatch.setenv("HB_TEST_HELPDESK_TOKEN", TOKEN)
    yield api
    api.close()


def _config(rates_dir: Path) -> Any:
    text = f"""
[sources.desk]
kind = "rest"
base_url_env = "HB_TEST_HELPDESK_URL"
token_env = "HB_TEST_HELPDESK_TOKEN"
per_page = 10
timeout_s = 0.5
max_attempts = 1

[sources.desk.tables.ticket]
path = "api/tickets"
since_param = "updated_since"
primary_key = "id"
cursor = "updated_at"

[sources.fx]
kind = "files"
path = "{rates_dir}"

[sources.fx.tables.rates]
glob = "rates_*.csv"
columns = {{ date = "date", currency = "text", rate_to_eur = "decimal" }}
primary_key = ["date", "currency"]
watermark_column = "date"
indexes = ["currency"]

[sources.events]
kind = "webhook"
table = "event"
cursor = "occurred_at"
"""
    return parse_sources(text, Path("sources.toml"))


def _count(url: str, table: str) -> int | None:
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        if not exists:
            return None
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _state(url: str, source: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        row = conn.execute("SELECT * FROM heartbeat.source_state WHERE source = %s", (source,)).fetchone()
        return dict(row) if row else {}


def _write_rates(folder: Path, day: str, rows: list[str]) -> None:
    (folder / f"rates_{day}.csv").write_text("date,currency,rate_to_eur\n" + "\n".join(rows) + "\n")


def test_rest_paginates_with_bearer_and_merges_incrementally(
    helpdesk: Helpdesk, marts_url: str, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    first = run_one("desk", sources=config)
    assert first.ok, first.error
    assert first.rows == 25
    assert len(helpdesk.requests) == 3  # 10 + 10 + 5, following next_page
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM desk.ticket").fetchone() == (25, 25)

    newest = T0 + timedelta(hours=2)
    for ticket in helpdesk.tickets[:2]:
        ticket["status"] = "solved"
        ticket["updated_at"] = newest.isoformat()
    helpdesk.requests.clear()
    second = run_one("desk", sources=config)
    assert second.ok, second.error
    assert 2 <= second.rows <= 3  # the two changed tickets (plus at most the boundary row, deduplicated)
    assert helpdesk.requests[0]["updated_since"]  # the cursor went to the API
    with psycopg.connect(marts_url) as m:
        assert m.execute("SELECT count(*), count(DISTINCT id) FROM desk.ticket").fetchone() == (25, 25)
        assert m.execute("SELECT count(*) FROM desk.ticket WHERE status = 'solved'").fetchone()[0] == 2
        assert source_as_of(m, ["desk"]) == newest  # the watermark: the newest updated_at landed
    assert TOKEN not in json.dumps(second.to_dict(), default=str)


@pytest.mark.parametrize("fault", ["error", "bad_json", "slow"])
def test_rest_failures_land_nothing_and_are_recorded(
    fault: str, helpdesk: Helpdesk, marts_url: str, tmp_path: Path
) -> None:
    helpdesk.fault = fault
    _write_rates(tmp_path, "2026-11-20", ["2026-11-20,USD,0.92", "2026-11-20,EUR,1.0"])
    desk, fx = run_all(["desk", "fx"], sources=_config(tmp_path))
    assert not desk.ok
    assert "'desk'" in (desk.error or "") and "ticket" in (desk.error or "")
    assert TOKEN not in (desk.error or "")
    assert _count(marts_url, "desk.ticket") is None  # nothing partial landed
    assert fx.ok and fx.rows == 2  # other sources still land
    state = _state(marts_url, "desk")
    assert state["last_status"] == "failed" and state["last_error"]
    with psycopg.connect(marts_url) as m:
        assert source_as_of(m, ["desk"]) is None
    helpdesk.release.set()


def test_files_land_new_files_only_and_reject_a_malformed_row(marts_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _write_rates(tmp_path, "2026-11-20", ["2026-11-20,USD,0.92", "2026-11-20,EUR,1.0"])
    _write_rates(tmp_path, "2026-11-21", ["2026-11-21,USD,0.93", "2026-11-21,EUR,1.0"])
    first = run_one("fx", sources=config)
    assert first.ok, first.error
    assert first.rows == 4
    with psycopg.connect(marts_url) as m:
        types = dict(
            m.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'fx' AND table_name = 'rates'"
            ).fetchall()
        )
        assert types["date"] == "date" and types["rate_to_eur"] == "numeric"
    assert _state(marts_url, "fx")["data_watermark"] == datetime(2026, 11, 21, tzinfo=UTC)

    _write_rates(tmp_path, "2026-11-22", ["2026-11-22,USD,0.94", "2026-11-22,EUR,1.0"])
    second = run_one("fx", sources=config)
    assert second.ok and second.rows == 2  # only the new file
    assert _count(marts_url, "fx.rates") == 6

    _write_rates(tmp_path, "2026-11-23", ["2026-11-23,USD,0.95", "2026-11-23,EUR,1.0,extra"])
    bad = run_one("fx", sources=config)
    assert not bad.ok
    assert "rates_2026-11-23.csv line 3" in (bad.error or "") and "'fx'" in (bad.error or "")
    assert _count(marts_url, "fx.rates") == 6  # not even the good row of the bad file
    state = _state(marts_url, "fx")
    assert state["last_status"] == "failed" and "line 3" in state["last_error"]
    assert state["data_watermark"] == datetime(2026, 11, 22, tzinfo=UTC)

    (tmp_path / "rates_2026-11-23.csv").write_text("date,currency,rate_to_eur\n2026-11-23,USD,0.95\n")
    fixed = run_one("fx", sources=config)
    assert fixed.ok and fixed.rows == 1


def test_webhook_events_land_through_dlt(marts_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    events = [
        {
            "id": i,
            "kind": "signup",
            "occurred_at": (T0 + timedelta(minutes=i)).isoformat(),
            "meta": {"plan": "pro"},
        }
        for i in range(3)
    ]
    first = land_events("events", events, sources=config)
    assert first.ok, first.error
    assert first.rows == 3 and first.load_id
    second = land_events("events", events[:1], sources=config)
    assert second.ok and second.rows == 1
    assert _count(marts_url, "events.event") == 4  # append: a webhook batch is a fact
    with psycopg.connect(marts_url) as m:
        assert source_as_of(m, ["events"]) == T0 + timedelta(minutes=2)
        assert m.execute("SELECT meta__plan FROM events.event LIMIT 1").fetchone()[0] == "pro"
    with pytest.raises(ValueError, match="list of JSON objects"):
        land_events("events", ["nope"], sources=config)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not webhook"):
        land_events("fx", events, sources=config)


def test_jsonl_files_and_a_bad_line(marts_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    config = parse_sources(
        f"""
[sources.logs]
kind = "files"
path = "{folder}"

[sources.logs.tables.line]
glob = "*.jsonl"
format = "jsonl"
columns = {{ at = "timestamp", n = "bigint" }}
primary_key = "id"
watermark_column = "at"
""",
        Path("sources.toml"),
    )
    (folder / "a.jsonl").write_text(
        '{"id": 1, "at": "2026-11-20T10:00:00Z", "n": "5"}\n{"id": 2, "at": "2026-11-20T11:00:00Z", "n": 6}\n'
    )
    first = run_one("logs", sources=config)
    assert first.ok, first.error
    assert first.rows == 2
    assert _state(marts_url, "logs")["data_watermark"] == datetime(2026, 11, 20, 11, tzinfo=UTC)
    (folder / "b.jsonl").write_text('{"id": 3, "at": "2026-11-21T10:00:00Z", "n": 1}\n{"id": 4, "at": \n')
    bad = run_one("logs", sources=config)
    assert not bad.ok and "b.jsonl line 2" in (bad.error or "")
    assert _count(marts_url, "logs.line") == 2
