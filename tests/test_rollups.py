"""Rollups on a small landed table: what a refresh rebuilds (the touched days only, counted), how a metric reads
a rollup (whole days from the table, the open day and the window's cut day from raw rows, exactly), and bad
input (unknown columns fail the sync with file and line; a failing refresh errors only the metrics reading it).

The table `shop.sales` holds 20 days of sales, one every 17 minutes, in Europe/Berlin, some refunded later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from heartbeat_core import clock
from heartbeat_core.compute.engine import compute_metrics, evaluate
from heartbeat_core.metrics.registry import active_metrics
from heartbeat_core.rollups.read import expand, reads
from heartbeat_core.rollups.refresh import day_ranges, refresh_all, stored_rollups
from heartbeat_core.settings import get_settings, reset_settings
from heartbeat_core.sync import sync_project

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 3, 13, 40, tzinfo=UTC)  # mid-day; the 30-day windows cross the 25 Oct DST change

ROLLUP = """-- name: Sales per day and customer
-- table: shop.sales
-- cursor: updated_at
-- time: sold_at

SELECT s.sold_at::date AS day,
       s.customer,
       s.refunded_at,
       count(*) AS sales,
       sum(s.amount) AS amount
FROM shop.sales s
WHERE s.sold_at >= heartbeat.rollup_from() AND s.sold_at < heartbeat.rollup_to()
GROUP BY 1, 2, 3
"""

HEADER = """-- name: {name}
-- period: {period}
-- unit: count
-- direction: higher_is_better
-- sources: shop

-- @value
"""

# The same three numbers through the rollup and straight from raw rows.
VIA_ROLLUP = {
    "sales_30d": "SELECT coalesce(sum(r.amount) FILTER (WHERE r.refunded_at IS NULL"
    " OR r.refunded_at >= heartbeat.as_of()), 0) FROM rollups.sales_day r",
    "buyers_7d": "SELECT count(DISTINCT customer) FROM rollups.sales_day",
    "sales_24h": "SELECT coalesce(sum(sales), 0) FROM rollups.sales_day AS x WHERE x.customer <> 'c3'",
}
ON_RAW = {
    "sales_30d": "SELECT coalesce(sum(amount) FILTER (WHERE refunded_at IS NULL OR refunded_at >= heartbeat.as_of()),"
    " 0) FROM shop.sales WHERE sold_at >= heartbeat.window_start() AND sold_at < heartbeat.as_of()",
    "buyers_7d": "SELECT count(DISTINCT customer) FROM shop.sales"
    " WHERE sold_at >= heartbeat.window_start() AND sold_at < heartbeat.as_of()",
    "sales_24h": "SELECT count(*) FROM shop.sales WHERE customer <> 'c3'"
    " AND sold_at >= heartbeat.window_start() AND sold_at < heartbeat.as_of()",
}
PERIODS = {"sales_30d": "30d", "buyers_7d": "7d", "sales_24h": "24h"}


@dataclass
class Project:
    url: str
    defs: Path
    rollups: Path


def _write_metrics(defs: Path, bodies: dict[str, str]) -> None:
    for metric_id, sql in bodies.items():
        text = HEADER.format(name=metric_id, period=PERIODS[metric_id]) + sql + ";\n"
        (defs / f"{metric_id}.sql").write_text(text, encoding="utf-8")


@pytest.fixture
def project(marts_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    defs, rollups, cuts = tmp_path / "metric_defs", tmp_path / "rollups", tmp_path / "audit_cuts"
    for directory in (defs, rollups, cuts):
        directory.mkdir()
    (rollups / "sales_day.sql").write_text(ROLLUP, encoding="utf-8")
    _write_metrics(defs, VIA_ROLLUP)
    monkeypatch.setenv("HEARTBEAT_METRIC_DEFS", str(defs))
    monkeypatch.setenv("HEARTBEAT_AUDIT_CUTS", str(cuts))
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "Europe/Berlin")
    reset_settings()
    with psycopg.connect(marts_url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE SCHEMA shop;
            CREATE TABLE shop.sales (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL,
                                     sold_at timestamptz NOT NULL, refunded_at timestamptz,
                                     updated_at timestamptz NOT NULL);
            INSERT INTO shop.sales
            SELECT g, 'c' || (g % 9), 10 + g % 23, ts,
                   CASE WHEN g % 11 = 0 THEN ts + (g % 50) * interval '1 hour' END,
                   CASE WHEN g % 11 = 0 THEN ts + (g % 50) * interval '1 hour' ELSE ts END
            FROM generate_series(1, 40 * 24 * 60 / 17) g,
                 LATERAL (SELECT timestamptz '2026-11-03 13:40+00' - g * interval '17 minutes' AS ts) t
            """
        )
        conn.execute("DELETE FROM shop.sales WHERE updated_at > timestamptz '2026-11-03 13:40+00'")
    assert sync_project().rollups.ok
    yield Project(marts_url, defs, rollups)
    reset_settings()


def _values(conn: psycopg.Connection, as_of: datetime) -> dict[str, float | None]:
    metrics = active_metrics(conn, None)
    conn.commit()
    return {m.metric_id: evaluate(conn, m, as_of, with_detail=False).value for m in metrics}


def _refresh(conn: psycopg.Connection) -> dict[str, int]:
    return {k: r.days_rebuilt for k, r in refresh_all(conn, get_settings().tz).items()}


AS_OFS = [
    NOW,  # mid-day: today and the cut day 30 days back come from raw rows
    datetime(2026, 11, 2, 23, 0, tzinfo=UTC),  # the end of a business day in Berlin: whole days only
    datetime(2026, 10, 25, 0, 59, tzinfo=UTC),  # one minute before the end of the DST-change day
    datetime(2026, 10, 20, 6, 5, tzinfo=UTC),
]


def test_a_metric_reads_the_same_through_the_rollup_as_from_raw_rows(project: Project) -> None:
    with psycopg.connect(project.url) as conn:
        assert _refresh(conn) == {"sales_day": 41}  # the first build: every day
        through_rollup = {as_of: _values(conn, as_of) for as_of in AS_OFS}
    _write_metrics(project.defs, ON_RAW)
    assert sync_project().metrics.ok
    with psycopg.connect(project.url) as conn:
        on_raw = {as_of: _values(conn, as_of) for as_of in AS_OFS}
    assert through_rollup == on_raw
    assert all(v and v > 0 for values in on_raw.values() for v in values.values())


def test_only_the_days_that_landed_rows_touch_are_rebuilt(project: Project) -> None:
    with psycopg.connect(project.url) as conn:
        conn.execute(
            "SET TimeZone = 'Europe/Berlin'"
        )  # the days below are the project's (a refresh commits alone)
        _refresh(conn)
        assert _refresh(conn) == {"sales_day": 0}  # nothing landed: nothing rebuilt
        # Landed at 13:45: a late sale of four days ago, and a refund today of a sale made yesterday.
        conn.execute(
            "INSERT INTO shop.sales VALUES (999999, 'late', 5, '2026-10-30 09:00+01', NULL, '2026-11-03 13:45+00')"
        )
        yesterday_sale = conn.execute(
            "SELECT id FROM shop.sales WHERE sold_at::date = '2026-11-02' AND refunded_at IS NULL ORDER BY id LIMIT 1"
        ).fetchone()
        assert yesterday_sale is not None
        before = conn.execute(
            "SELECT count(*) FROM rollups.sales_day WHERE day = '2026-11-02' AND refunded_at IS NOT NULL"
        ).fetchone()
        conn.execute(
            "UPDATE shop.sales SET refunded_at = '2026-11-03 13:44+00', updated_at = '2026-11-03 13:45+00'"
            " WHERE id = %s",
            yesterday_sale,
        )
        conn.commit()
        assert _refresh(conn) == {"sales_day": 2}  # 30 Oct and 2 Nov, not the other 39 days
        after = conn.execute(
            "SELECT count(*) FROM rollups.sales_day WHERE day = '2026-11-02' AND refunded_at IS NOT NULL"
        ).fetchone()
        assert (
            before is not None and after is not None and after[0] == before[0] + 1
        )  # yesterday's row changed
        late = conn.execute("SELECT day, sales FROM rollups.sales_day WHERE customer = 'late'").fetchall()
        assert [(str(d), n) for d, n in late] == [("2026-10-30", 1)]
        with clock.frozen_clock(NOW + timedelta(minutes=10)):
            through_rollup = _values(conn, NOW + timedelta(minutes=10))
    _write_metrics(project.defs, ON_RAW)
    sync_project()
    with psycopg.connect(project.url) as conn:
        assert _values(conn, NOW + timedelta(minutes=10)) == through_rollup


def test_compute_refreshes_first_and_reports_the_days(project: Project) -> None:
    with clock.frozen_clock(NOW):
        report = compute_metrics()
    assert report.ok, report.failed
    assert report.rollups["sales_day"].full and report.rollups["sales_day"].days_rebuilt == 41
    with clock.frozen_clock(NOW):
        again = compute_metrics()
    assert again.rollups["sales_day"].days_rebuilt == 0 and not again.rollups["sales_day"].full


def test_a_failing_refresh_errors_the_metrics_that_read_it_and_nothing_else(project: Project) -> None:
    (project.rollups / "sales_day.sql").write_text(
        ROLLUP.replace("sum(s.amount) AS amount", "sum(s.amount / (s.amount - 10)) AS amount"),
        encoding="utf-8",
    )
    (project.defs / "orders_raw.sql").write_text(
        HEADER.format(name="orders raw", period="24h") + ON_RAW["sales_24h"] + ";\n", encoding="utf-8"
    )
    assert sync_project().rollups.ok
    with clock.frozen_clock(NOW):
        report = compute_metrics()
    errors = {o.metric_id: o.error for o in report.outcomes}
    assert errors["orders_raw"] is None
    for metric_id in VIA_ROLLUP:
        assert errors[metric_id] == "rollup sales_day refresh failed: division by zero"
    with psycopg.connect(project.url) as conn:
        row = conn.execute(
            "SELECT error FROM heartbeat.metric_history WHERE metric_id = 'sales_30d'"
        ).fetchone()
        assert row == ("rollup sales_day refresh failed: division by zero",)
        assert stored_rollups(conn)[0].error == "rollup sales_day refresh failed: division by zero"


def test_a_rollup_naming_unknown_columns_fails_the_sync_with_file_and_line(project: Project) -> None:
    bad = project.rollups / "bad_body.sql"
    bad.write_text(ROLLUP.replace("s.customer,", "s.client,"), encoding="utf-8")
    header = project.rollups / "bad_cursor.sql"
    header.write_text(ROLLUP.replace("-- cursor: updated_at", "-- cursor: changed_at"), encoding="utf-8")
    report = sync_project().rollups
    problems = sorted(str(p) for p in report.problems)
    assert problems[0].startswith(f"{bad}:7: ") and "column s.client does not exist" in problems[0]
    assert problems[1].startswith(f"{header}:3: cursor: ") and '"changed_at" does not exist' in problems[1]
    assert report.unchanged == ["sales_day"]  # the good file synced as before


def test_the_cli_sync_fails_on_a_bad_rollup(project: Project) -> None:
    from typer.testing import CliRunner

    from heartbeat_cli.main import app

    (project.rollups / "no_day.sql").write_text(ROLLUP.replace("AS day", "AS sold_day"), encoding="utf-8")
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 1
    assert f"{project.rollups / 'no_day.sql'}:6: no `day` column" in result.output


def test_references_keep_their_aliases() -> None:
    rollups = {
        "sales_day": "SELECT 1 AS day WHERE x >= heartbeat.rollup_from() AND x < heartbeat.rollup_to()"
    }
    start, end = datetime(2026, 11, 1, 23, tzinfo=UTC), datetime(2026, 11, 3, 23, tzinfo=UTC)
    sql = "SELECT * FROM rollups.sales_day r JOIN rollups.sales_day AS s ON true, rollups.sales_day WHERE 1=1"
    bound = expand(sql, rollups, start, end, BERLIN)
    assert bound.count('rollups."sales_day" WHERE "day" >= \'2026-11-02\' AND "day" < \'2026-11-04\'') == 3
    assert ") r JOIN (" in bound and ") AS s ON true" in bound and ") AS sales_day WHERE 1=1" in bound
    assert "hb_open_day" not in bound and "hb_head" not in bound  # whole days: the table only
    assert reads(sql) == {"sales_day"} and reads("SELECT 1 FROM heartbeat_rollups.x") == set()
    assert day_ranges([datetime(2026, 1, d).date() for d in (5, 1, 2, 3, 7)]) == [
        (datetime(2026, 1, 1).date(), datetime(2026, 1, 3).date()),
        (datetime(2026, 1, 5).date(), datetime(2026, 1, 5).date()),
        (datetime(2026, 1, 7).date(), datetime(2026, 1, 7).date()),
    ]


def test_the_gate_compares_a_rollup_reader_with_raw_rows_and_times_it_on_a_larger_copy(
    project: Project,
) -> None:
    from heartbeat_core.metrics.gate import validate_file
    from heartbeat_core.metrics.gate.report import Limits

    path = project.defs / "sales_30d.sql"
    with psycopg.connect(project.url) as conn:
        _refresh(conn)
        conn.commit()
        report = validate_file(path, conn, now=NOW, limits=Limits(scale_url=project.url, scale_as_of=NOW))
        assert report.check("rollup_matches_raw").status == "pass", report.check(
            "rollup_matches_raw"
        ).evidence
        assert report.check("point_in_time").status == "pass"
        scaled = report.check("scales_with_rows")
        assert scaled.status == "pass" and "time ×" in scaled.evidence and "rows ×1.0" in scaled.evidence
        slow = validate_file(path, conn, now=NOW, limits=Limits(time_limit_s=1e-6, scale_url=project.url))
        assert slow.check("scales_with_rows").status == "fail"
        conn.execute(
            "UPDATE rollups.sales_day SET amount = amount + 1 WHERE day = '2026-11-02'"
        )  # gone stale
        conn.commit()
        stale = validate_file(path, conn, now=NOW)
        assert stale.check("rollup_matches_raw").status == "fail"
        assert "rollups.sales_day: now: rollups" in stale.check("rollup_matches_raw").evidence


# A rollup with a reach: buyers per day by the days since their previous day with a sale (capped at 32).
GAP_ROLLUP = """-- name: Buyers per day by gap
-- table: shop.sales
-- cursor: updated_at
-- time: sold_at
-- reach: 31 days
-- index: gap; day, gap

WITH active AS (
    SELECT DISTINCT s.sold_at::date AS day, s.customer
    FROM shop.sales s
    WHERE s.sold_at >= heartbeat.rollup_from() - interval '31 days' AND s.sold_at < heartbeat.rollup_to()
), gaps AS (
    SELECT a.day, a.day - lag(a.day) OVER (PARTITION BY a.customer ORDER BY a.day) AS gap FROM active a
)
SELECT g.day, least(coalesce(g.gap, 32), 32) AS gap, count(*) AS buyers
FROM gaps g
WHERE g.day >= heartbeat.rollup_from()::date
GROUP BY 1, 2
"""
_WHOLE_FROM = (
    "(CASE WHEN heartbeat.window_start() = date_trunc('day', heartbeat.window_start()) THEN heartbeat.window_start()"
    " ELSE date_trunc('day', heartbeat.window_start()) + interval '1 day' END)"
)
# Buyers of the window's whole days: through the gap histogram (each once, on its first day there) and on raw rows.
BUYERS_VIA_GAPS = (
    "SELECT coalesce(sum(g.buyers), 0) FROM rollups.buyers_gap g WHERE g.day < date_trunc('day', heartbeat.as_of())::date"
    f" AND g.gap > g.day - {_WHOLE_FROM}::date"
)
BUYERS_ON_RAW = (
    f"SELECT count(DISTINCT s.customer) FROM shop.sales s WHERE s.sold_at >= {_WHOLE_FROM}"
    " AND s.sold_at < date_trunc('day', heartbeat.as_of())"
)


def _buyers(project: Project, sql: str) -> dict[datetime, float | None]:
    (project.defs / "buyers_30d.sql").write_text(
        HEADER.format(name="buyers_30d", period="30d") + sql + ";\n", encoding="utf-8"
    )
    assert sync_project().metrics.ok
    with psycopg.connect(project.url) as conn:
        metric = next(m for m in active_metrics(conn, None) if m.metric_id == "buyers_30d")
        conn.commit()
        values = {as_of: evaluate(conn, metric, as_of, with_detail=False).value for as_of in AS_OFS}
        raw = {
            as_of: evaluate(conn, metric, as_of, with_detail=False, raw_rollups=True).value
            for as_of in AS_OFS
        }
    assert values == raw  # the table's whole days equal the rollup's own query over them
    return values


def test_a_rollup_with_a_reach_rebuilds_the_days_after_a_touched_one_and_reads_whole_days(
    project: Project,
) -> None:
    (project.rollups / "buyers_gap.sql").write_text(GAP_ROLLUP, encoding="utf-8")
    with psycopg.connect(project.url) as conn:  # a rare buyer: every 6th day, so gaps other than 1 occur
        conn.execute(
            "INSERT INTO shop.sales SELECT 800000 + d, 'rare', 7, timestamptz '2026-10-01 10:00+02' + d * interval"
            " '1 day', NULL, timestamptz '2026-10-01 10:00+02' + d * interval '1 day' FROM generate_series(0, 32, 6) d"
        )
        conn.commit()
    assert sync_project().rollups.ok
    with psycopg.connect(project.url) as conn:
        assert _refresh(conn)["buyers_gap"] == 41
        gaps = conn.execute("SELECT DISTINCT gap FROM rollups.buyers_gap WHERE day > '2026-10-02'").fetchall()
        assert {g for (g,) in gaps} == {1, 6}
        rare = (
            "SELECT day::text, gap FROM rollups.buyers_gap WHERE gap > 1 AND day >= '2026-10-26' ORDER BY 1"
        )
        assert conn.execute(rare).fetchall() == [("2026-10-31", 6)]
        # a late sale of the rare buyer on 30 Oct changes that day and the gap of its next sale (31 Oct: 6 → 1)
        conn.execute(
            "INSERT INTO shop.sales VALUES (999998, 'rare', 5, '2026-10-30 09:00+01', NULL, '2026-11-03 13:45+00')"
        )
        conn.commit()
        assert _refresh(conn) == {"sales_day": 1, "buyers_gap": 5}  # 30 Oct and the 4 days after it, not 41
        assert conn.execute(rare).fetchall() == [("2026-10-30", 5)]
    via = _buyers(project, BUYERS_VIA_GAPS)
    assert via == _buyers(project, BUYERS_ON_RAW)
    assert all(v and v >= 9 for v in via.values())


def test_a_rollup_index_naming_an_unknown_column_fails_the_sync_with_file_and_line(project: Project) -> None:
    bad = project.rollups / "bad_index.sql"
    bad.write_text(
        GAP_ROLLUP.replace("-- index: gap; day, gap", "-- index: gap; day, buyer"), encoding="utf-8"
    )
    wrong = project.rollups / "bad_reach.sql"
    wrong.write_text(GAP_ROLLUP.replace("-- reach: 31 days", "-- reach: a month"), encoding="utf-8")
    problems = sorted(str(p) for p in sync_project().rollups.problems)
    assert problems[0].startswith(f"{bad}:6: index: ") and "'buyer'" in problems[0]
    assert problems[1].startswith(f"{wrong}:5: reach 'a month': expected a number of days")


# A rollup that joins a dimension: sales per day and customer segment, the segment read from shop.customers.
SEGMENT_ROLLUP = """-- name: Sales per day and customer segment
-- table: shop.sales
-- cursor: updated_at
-- time: sold_at
-- watch: shop.customers (cursor updated_at) id = customer, columns segment

SELECT s.sold_at::date AS day, c.segment, count(*) AS sales, sum(s.amount) AS amount
FROM shop.sales s
LEFT JOIN shop.customers c ON c.id = s.customer
WHERE s.sold_at >= heartbeat.rollup_from() AND s.sold_at < heartbeat.rollup_to()
GROUP BY 1, 2
"""
BIG_SALES_VIA_SEGMENTS = (
    "SELECT coalesce(sum(r.amount) FILTER (WHERE r.segment = 'big'), 0) FROM rollups.sales_segment_day r"
)
BIG_SALES_ON_RAW = (
    "SELECT coalesce(sum(s.amount), 0) FROM shop.sales s JOIN shop.customers c ON c.id = s.customer"
    " WHERE c.segment = 'big' AND s.sold_at >= heartbeat.window_start() AND s.sold_at < heartbeat.as_of()"
)


def _big_sales(project: Project, sql: str) -> dict[datetime, float | None]:
    (project.defs / "big_sales_30d.sql").write_text(
        HEADER.format(name="big_sales_30d", period="30d") + sql + ";\n", encoding="utf-8"
    )
    assert sync_project().metrics.ok
    with psycopg.connect(project.url) as conn:
        metric = next(m for m in active_metrics(conn, None) if m.metric_id == "big_sales_30d")
        conn.commit()
        return {as_of: evaluate(conn, metric, as_of, with_detail=False).value for as_of in AS_OFS}


def test_a_rollup_watching_a_dimension_rebuilds_the_days_of_a_changed_key_only(project: Project) -> None:
    with psycopg.connect(project.url) as conn:
        conn.execute(
            "CREATE TABLE shop.customers (id text PRIMARY KEY, segment text NOT NULL, updated_at timestamptz"
            " NOT NULL); INSERT INTO shop.customers SELECT 'c' || g, CASE WHEN g < 3 THEN 'big' ELSE 'small' END,"
            " '2026-10-01 00:00+00' FROM generate_series(0, 8) g;"
            # a customer with sales on four days only, so its change touches those days and no other
            " INSERT INTO shop.customers VALUES ('rare', 'small', '2026-10-01 00:00+00');"
            " INSERT INTO shop.sales SELECT 810000 + d, 'rare', 40, timestamptz '2026-10-20 10:00+02' + d *"
            " interval '3 days', NULL, timestamptz '2026-10-20 10:00+02' FROM generate_series(0, 3) d"
        )
        conn.commit()
    (project.rollups / "sales_segment_day.sql").write_text(SEGMENT_ROLLUP, encoding="utf-8")
    assert sync_project().rollups.ok
    with psycopg.connect(project.url) as conn:
        assert _refresh(conn)["sales_segment_day"] == 41
        assert _refresh(conn)["sales_segment_day"] == 0  # nothing changed: nothing rebuilt
        # the rare customer becomes big, a customer with no sale arrives, and one with sales every day is
        # edited without a new segment: only the rare one's 4 days move
        conn.execute(
            "UPDATE shop.customers SET segment = 'big', updated_at = '2026-11-03 13:45+00' WHERE id = 'rare';"
            " INSERT INTO shop.customers VALUES ('nobody', 'big', '2026-11-03 13:45+00');"
            " UPDATE shop.customers SET updated_at = '2026-11-03 13:45+00' WHERE id = 'c4'"
        )
        conn.commit()
        assert _refresh(conn) == {"sales_day": 0, "sales_segment_day": 4}
        conn.execute("SET TimeZone = 'Europe/Berlin'")  # the rollup's days are the project's
        rare_days = conn.execute(
            "SELECT count(*) FROM rollups.sales_segment_day WHERE segment = 'big' AND day BETWEEN '2026-10-20'"
            " AND '2026-10-29' AND sales = (SELECT count(*) FROM shop.sales s WHERE s.customer IN ('c0', 'c1',"
            " 'c2', 'rare') AND s.sold_at::date = rollups.sales_segment_day.day)"
        ).fetchone()
        assert rare_days == (10,)  # every day of those ten counts the rare customer's sales as big now
        conn.execute(
            "UPDATE shop.customers SET segment = 'big', updated_at = '2026-11-03 13:46+00' WHERE id = 'c4'"
        )
        conn.commit()
        assert _refresh(conn)["sales_segment_day"] == 41  # c4 buys every day: now every day moves
    via = _big_sales(project, BIG_SALES_VIA_SEGMENTS)
    assert via == _big_sales(project, BIG_SALES_ON_RAW)
    assert via[AS_OFS[0]] and via[AS_OFS[0]] > 160  # the rare customer's 4 sales of 40 among them


def test_a_bad_watch_fails_the_sync_with_file_and_line(project: Project) -> None:
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE shop.customers (id text, segment text, updated_at timestamptz)")
    malformed = project.rollups / "bad_watch.sql"
    malformed.write_text(
        SEGMENT_ROLLUP.replace("(cursor updated_at) id = customer", "on id = customer"), encoding="utf-8"
    )
    unknown = project.rollups / "bad_watch_key.sql"
    unknown.write_text(SEGMENT_ROLLUP.replace("id = customer", "customer_id = customer"), encoding="utf-8")
    typo = project.rollups / "bad_watch_typo.sql"
    typo.write_text(SEGMENT_ROLLUP.replace("columns segment", "columns segmnt"), encoding="utf-8")
    problems = sorted(str(p) for p in sync_project().rollups.problems)
    assert len(problems) == 3, problems
    assert problems[2].startswith(f"{typo}:5: watch: ") and '"segmnt" does not exist' in problems[2]
    assert problems[0].startswith(
        f"{malformed}:5: watch 'shop.customers on id = customer, columns segment': expected"
    )
    assert "webbank.client_profile (cursor updated_at) id = client_profile_id, columns tier" in problems[0]
    assert problems[1].startswith(f"{unknown}:5: watch: ") and '"customer_id" does not exist' in problems[1]
    assert "shop.customers" in problems[1]
