"""The demo world: shape, determinism, metric SQL over it, the injected incidents, the helpdesk API, --live.

One scale-1 world is built per module into a real Postgres database; metric SQL runs straight against it
(the source database has the marts' schema and table names) after `prepare_source_for_metrics`.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from heartbeat_core.metrics.definition import MetricDefinition, load_directory
from heartbeat_demo import sqlgen
from heartbeat_demo.check import prepare_source_for_metrics, run_section
from heartbeat_demo.helpdesk_api import start_helpdesk_api
from heartbeat_demo.world import (
    RATE_GAP_DAYS,
    WorldSummary,
    append_live,
    build_world,
    world_checksum,
)

pytestmark = pytest.mark.db

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
PAST = [NOW - timedelta(days=1), NOW - timedelta(days=10), NOW - timedelta(days=45)]

# The content of the seed-42 scale-1 world at NOW, pinned: recorded from the generator as it stood before its
# SQL moved into templates (the same on Postgres 15 and 18), so a refactoring of the generator proves it
# changed nothing. WORLD: `world_checksum` after the build; RATE_FILES: names and bytes of the rate files;
# LIVE: `world_checksum` after the ten one-minute `append_live` ticks of the live test.
WORLD_DIGEST = "2c828199dd032800a47680a0ff7872fab45fd17df95447c6d9ba517990d16bd2"
RATE_FILES_DIGEST = "3f591af09e5feaae220c91cdfe2666d023c69576d93c32a2377de5bf5e97059b"
LIVE_DIGEST = "896c44afc22ae6874e9458816e6f0e962f67804f8e602842516d6e919ed4af22"

# Metrics whose value is expected past a line on the generated world: the incidents and their knock-ons.
EXPECTED_OVER_LINE = {
    "card_collateral_overdue_clients",  # (a)
    "card_collateral_overdue_amount",  # (a)
    "outgoing_payment_approval_rate_24h",  # (b)
    "aml_review_backlog",  # (c)
    "aml_review_backlog_days",  # (c)
    "aml_reviews_pending_over_72h",  # (c)
}


@dataclass
class World:
    url: str
    files: Path
    summary: WorldSummary
    checksum: str


@pytest.fixture(scope="module")
def world(create_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> World:
    url = create_database("demo")
    files = tmp_path_factory.mktemp("rates")
    summary = build_world(url, files, scale=1, seed=42, now=NOW)
    checksum = world_checksum(url)
    prepare_source_for_metrics(url, files)
    return World(url, files, summary, checksum)


@pytest.fixture(scope="module")
def metrics() -> list[MetricDefinition]:
    loaded = load_directory(REPO / "heartbeat_demo" / "project" / "metric_defs")
    assert not loaded.problems, [str(p) for p in loaded.problems]
    return loaded.definitions


@pytest.fixture(scope="module")
def conn(world: World) -> Any:
    with psycopg.connect(world.url) as connection:
        yield connection


def value_at(conn: Any, metric: MetricDefinition, as_of: datetime) -> Decimal | None:
    result = run_section(conn, metric.value_sql, period=metric.period, as_of=as_of)
    assert len(result.rows) == 1 and len(result.rows[0]) == 1, f"{metric.metric_id}: {result.rows}"
    return result.rows[0][0]


def _past_a_line(m: MetricDefinition, value: Decimal | None) -> bool:
    assert value is not None, m.metric_id
    lines = [line for line in (m.norm, m.alert) if line is not None]
    if m.direction == "lower_is_better":
        return any(value >= line for line in lines)
    return any(value <= line for line in lines)


def by_id(metrics: list[MetricDefinition], metric_id: str) -> MetricDefinition:
    return next(m for m in metrics if m.metric_id == metric_id)


# ------------------------------------------------------------------------------------------ shape


def test_row_counts_are_a_scale_one_world(world: World) -> None:
    rows = world.summary.rows
    assert 250_000 <= rows["webbank.payment"] <= 350_000
    assert rows["webbank.payment_state_log"] > 2 * rows["webbank.payment"]
    assert rows["webbank.entry"] > 0.8 * rows["webbank.payment"]
    assert 8_000 <= rows["webbank.client_profile"] <= 20_000
    for table in (
        "aml.aml_retrospective",
        "card_management.card",
        "card_management.collateral_invoice",
        "helpdesk.ticket",
    ):
        assert rows[table] > 1_000, table
    assert world.summary.rate_files == sqlgen.HISTORY_DAYS + 1 - RATE_GAP_DAYS


def test_tables_have_the_documented_columns_and_types(conn: Any) -> None:
    expected = {
        ("webbank", "client_profile"): {"id", "name", "email", "country", "tier", "state", "created_at", "updated_at"},
        ("webbank", "client_profile_state_log"): {"id", "client_profile_id", "profile_state", "timestamp"},
        ("webbank", "payment"): {"id", "sender_profile_id", "type_id", "direction", "amount", "currency", "state_id",
                                 "state", "reference", "create_time", "updated_at"},
        ("webbank", "payment_state_log"): {"id", "payment_id", "state_id", "timestamp"},
        ("webbank", "entry"): {"id", "payment_id", "client_profile_id", "entry_state_id", "amount", "fee", "product",
                               "create_time", "updated_at"},
        ("webbank", "payment_state"): {"id", "code", "is_final"},
        ("aml", "aml_retrospective"): {"id", "client_profile_id", "reason", "reviewer", "created_at", "reviewed_at",
                                       "decision", "updated_at"},
        ("card_management", "card"): {"id", "client_profile_id", "scheme", "issued_at", "status", "updated_at"},
        ("card_management", "collateral_invoice"): {"id", "client_profile_id", "card_id", "amount", "currency",
                                                    "issued_at", "due_date", "paid_at", "updated_at"},
        ("helpdesk", "ticket"): {"id", "client_profile_id", "topic", "priority", "status", "subject", "created_at",
                                 "updated_at", "resolved_at"},
    }  # fmt: skip
    found: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, dtype in conn.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema IN ('webbank', 'aml', 'card_management', 'helpdesk')"
    ):
        found.setdefault((schema, table), {})[column] = dtype
    assert set(found) == set(expected)
    for key, columns in expected.items():
        assert set(found[key]) == columns, key
        for column, dtype in found[key].items():
            if column.endswith(("_at", "_time")) or column == "timestamp":
                assert dtype == "timestamp with time zone", (key, column)
    pks = conn.execute(
        "SELECT count(*) FROM information_schema.table_constraints WHERE constraint_type = 'PRIMARY KEY' "
        "AND table_schema IN ('webbank', 'aml', 'card_management', 'helpdesk')"
    ).fetchone()[0]
    assert pks == len(expected)


def test_nothing_happens_after_now(conn: Any) -> None:
    checks = [
        "SELECT max(greatest(create_time, updated_at)) FROM webbank.payment",
        'SELECT max("timestamp") FROM webbank.payment_state_log',
        "SELECT max(updated_at) FROM webbank.entry",
        "SELECT max(greatest(created_at, updated_at)) FROM webbank.client_profile",
        "SELECT max(coalesce(reviewed_at, created_at)) FROM aml.aml_retrospective",
        "SELECT max(coalesce(paid_at, issued_at)) FROM card_management.collateral_invoice",
        "SELECT max(greatest(created_at, updated_at)) FROM helpdesk.ticket",
    ]
    for sql in checks:
        newest = conn.execute(sql).fetchone()[0]
        assert NOW - timedelta(hours=6) < newest <= NOW, sql


def test_history_has_weekly_seasonality_and_growth(conn: Any) -> None:
    rows = conn.execute(
        "SELECT extract(isodow FROM create_time)::int AS dow, create_time < %s AS early, count(*) "
        "FROM webbank.payment WHERE create_time < %s GROUP BY 1, 2",
        (NOW - timedelta(days=90), NOW - timedelta(days=1)),
    ).fetchall()
    per_dow: dict[int, int] = {}
    early = late = 0
    for dow, is_early, count in rows:
        per_dow[dow] = per_dow.get(dow, 0) + count
        if is_early:
            early += count
        else:
            late += count
    assert per_dow[7] < 0.7 * per_dow[3]  # Sundays are quiet
    assert late > 1.15 * early  # the business grows


def _files_digest(files: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files.glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_the_world_is_the_pinned_one(world: World) -> None:
    assert world.checksum == WORLD_DIGEST
    assert _files_digest(world.files) == RATE_FILES_DIGEST


def test_same_seed_same_world_other_seed_other_world(
    world: World, create_database: Callable[[str], str], tmp_path: Path
) -> None:
    again = create_database("demo_again")
    build_world(again, tmp_path / "a", scale=1, seed=42, now=NOW)
    assert world_checksum(again) == world.checksum
    assert sorted(p.read_text() for p in (tmp_path / "a").glob("*.csv")) == sorted(
        p.read_text() for p in world.files.glob("*.csv")
    )
    other = create_database("demo_other")
    build_world(other, tmp_path / "b", scale=1, seed=7, now=NOW)
    assert world_checksum(other) != world.checksum


def test_scale_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_world("postgresql://unused/", tmp_path, scale=0)


# ---------------------------------------------------------------------------------------- metrics


def test_there_are_at_least_thirty_documented_metrics(metrics: list[MetricDefinition]) -> None:
    assert len(metrics) >= 30
    for m in metrics:
        assert m.description and m.how_to_read and m.methodology and m.owner and m.team, m.metric_id
        assert "now()" not in m.value_sql.lower() and "current_date" not in m.value_sql.lower(), m.metric_id
        assert m.norm is not None or m.alert is not None or m.typical == "rolling_stat", m.metric_id
    sources = {s for m in metrics for s in m.sources}
    assert sources == {"webbank", "aml", "card_management", "helpdesk", "currency_rates"}


def test_every_metric_returns_one_numeric_row_now_and_in_the_past(
    conn: Any, metrics: list[MetricDefinition]
) -> None:
    for metric in metrics:
        for moment in [NOW, *PAST]:
            value = value_at(conn, metric, moment)
            assert isinstance(value, int | Decimal | float), (metric.metric_id, moment, value)
        if metric.detail_sql:
            detail = run_section(conn, metric.detail_sql, period=metric.period, as_of=NOW)
            assert detail.columns, metric.metric_id


def test_only_the_incidents_cross_their_lines(conn: Any, metrics: list[MetricDefinition]) -> None:
    crossed = {m.metric_id for m in metrics if _past_a_line(m, value_at(conn, m, NOW))}
    assert crossed == EXPECTED_OVER_LINE


def test_no_metric_crossed_its_lines_a_month_before_the_incidents(
    conn: Any, metrics: list[MetricDefinition]
) -> None:
    moment = NOW - timedelta(days=20)
    crossed = {m.metric_id for m in metrics if _past_a_line(m, value_at(conn, m, moment))}
    # ACME's collateral has been overdue for months: the silent break the seed describes.
    assert crossed == {"card_collateral_overdue_clients", "card_collateral_overdue_amount"}


# -------------------------------------------------------------------------------------- incidents


def test_incident_a_acme_collateral_overdue_for_four_months(
    conn: Any, metrics: list[MetricDefinition]
) -> None:
    clients = by_id(metrics, "card_collateral_overdue_clients")
    assert value_at(conn, clients, NOW) >= 1
    detail = run_section(conn, clients.detail_sql or "", period="snapshot", as_of=NOW)
    rows = [dict(zip(detail.columns, row, strict=True)) for row in detail.rows]
    acme = next(r for r in rows if r["client"] == sqlgen.ACME_NAME)
    assert acme["scheme"] == "MasterCard"
    assert acme["unpaid_invoices"] == 4
    assert acme["unpaid_months"] == "Jul 2026, Aug 2026, Sep 2026, Oct 2026"
    assert acme["amount"] > 50_000
    amount = by_id(metrics, "card_collateral_overdue_amount")
    assert value_at(conn, amount, NOW) == acme["amount"]
    amount_detail = run_section(conn, amount.detail_sql or "", period="snapshot", as_of=NOW)
    assert {row[0] for row in amount_detail.rows} == {sqlgen.ACME_NAME}


def test_incident_b_outgoing_approval_rate_collapsed_in_the_last_two_days(
    conn: Any, metrics: list[MetricDefinition]
) -> None:
    metric = by_id(metrics, "outgoing_payment_approval_rate_24h")
    today = value_at(conn, metric, NOW)
    month_ago = value_at(conn, metric, NOW - timedelta(days=30))
    three_days_ago = value_at(conn, metric, NOW - timedelta(days=3))
    assert month_ago > 95 and three_days_ago > 95
    assert today < 80 and today < month_ago - 15
    assert metric.alert is not None and today <= metric.alert
    detail = run_section(conn, metric.detail_sql or "", period="24h", as_of=NOW)
    rates = {row[0]: row[4] for row in detail.rows}
    assert rates["USD"] < 30 < 85 < rates["EUR"]  # the detail points at the non-EUR corridors


def test_incident_c_aml_backlog_grew_for_a_week(conn: Any, metrics: list[MetricDefinition]) -> None:
    metric = by_id(metrics, "aml_review_backlog")
    series = [value_at(conn, metric, NOW - timedelta(days=d)) for d in (8, 6, 4, 2, 0)]
    assert series == sorted(series) and series[-1] > 2 * series[0], series
    assert metric.norm is not None and series[-1] >= metric.norm
    detail = run_section(conn, metric.detail_sql or "", period="snapshot", as_of=NOW)
    top = {row[0] for row in detail.rows[:3]}
    assert top == set(sqlgen.AML_STALLED_REVIEWERS)


def test_incident_d_rate_files_stopped_three_days_ago(
    world: World, conn: Any, metrics: list[MetricDefinition]
) -> None:
    today = NOW.date()
    names = {p.name for p in world.files.glob("rates_*.csv")}
    for back in range(RATE_GAP_DAYS):
        assert f"rates_{(today - timedelta(days=back)).isoformat()}.csv" not in names
    last = world.files / f"rates_{(today - timedelta(days=RATE_GAP_DAYS)).isoformat()}.csv"
    assert last.exists()
    assert datetime.fromtimestamp(last.stat().st_mtime, UTC) < NOW - timedelta(hours=72)
    header = last.read_text().splitlines()[0]
    assert header == "date,currency,rate_to_eur"
    assert len(last.read_text().splitlines()) == 1 + len(sqlgen.BASE_RATES)
    # ... while the values of the metrics over the rates still look fine
    fx = [m for m in metrics if "currency_rates" in m.sources]
    assert len(fx) >= 3
    assert value_at(conn, by_id(metrics, "currency_rate_coverage"), NOW) == 10
    for m in fx:
        assert m.metric_id not in EXPECTED_OVER_LINE


# ----------------------------------------------------------------------------------- helpdesk API


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_helpdesk_api_paginates_over_loopback(world: World, conn: Any) -> None:
    since = NOW - timedelta(days=20)
    expected = conn.execute(
        "SELECT count(*) FROM helpdesk.ticket WHERE updated_at >= %s", (since,)
    ).fetchone()[0]
    with start_helpdesk_api(world.url, token="s3cret") as api:
        assert api.url.startswith("http://127.0.0.1:")
        status, body = _get(f"{api.url}/api/tickets?page=1")
        assert status == 401
        seen: list[dict[str, Any]] = []
        page: int | None = 1
        pages = 0
        while page is not None:
            query = f"updated_since={since.isoformat().replace('+00:00', 'Z')}&page={page}&per_page=500"
            status, body = _get(f"{api.url}/api/tickets?{query}", token="s3cret")
            assert status == 200
            assert body["page"] == page and body["total"] == expected
            seen.extend(body["items"])
            page = body["next_page"]
            pages += 1
        assert pages == -(-expected // 500)
        assert len(seen) == expected == len({item["id"] for item in seen})
        stamps = [(item["updated_at"], item["id"]) for item in seen]
        assert stamps == sorted(stamps)
        assert set(seen[0]) == {"id", "client_profile_id", "topic", "priority", "status", "subject",
                                "created_at", "updated_at", "resolved_at"}  # fmt: skip
        assert _get(f"{api.url}/api/tickets?page=0", token="s3cret")[0] == 400
        assert _get(f"{api.url}/api/tickets?updated_since=yesterday", token="s3cret")[0] == 400
        api.fault = "error"
        assert _get(f"{api.url}/api/tickets", token="s3cret")[0] == 500


def test_helpdesk_api_without_token_is_open(world: World) -> None:
    with start_helpdesk_api(world.url) as api:
        status, body = _get(f"{api.url}/api/tickets?per_page=3")
        assert status == 200 and len(body["items"]) == 3 and body["next_page"] == 2


# ------------------------------------------------------------------------------------------ live


def test_append_live_adds_rows_and_moves_lifecycles(world: World, conn: Any) -> None:
    before = conn.execute(
        "SELECT max(id), count(*) FILTER (WHERE state_id IN (1, 2)) FROM webbank.payment"
    ).fetchone()
    conn.commit()
    totals: dict[str, int] = {}
    for minute in range(1, 11):
        counts = append_live(world.url, world.files, now=NOW + timedelta(minutes=minute))
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    assert totals["payments"] > 5
    assert totals["payment_state_log"] >= totals["payments"]
    assert totals["entries"] > 0
    after_max = conn.execute("SELECT max(id) FROM webbank.payment").fetchone()[0]
    assert after_max == before[0] + totals["payments"]
    newest = conn.execute("SELECT max(updated_at) FROM webbank.payment").fetchone()[0]
    assert NOW < newest <= NOW + timedelta(minutes=10)
    # every completed payment has its ledger entry and its state log
    orphans = conn.execute(
        "SELECT count(*) FROM webbank.payment p LEFT JOIN webbank.entry e ON e.id = p.id "
        "WHERE p.state_id = 4 AND e.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    conn.commit()
    assert world_checksum(world.url) == LIVE_DIGEST  # the live rows too are the pinned ones
    # a repeated tick at the same moment adds nothing
    assert set(append_live(world.url, world.files, now=NOW + timedelta(minutes=10)).values()) == {0}
