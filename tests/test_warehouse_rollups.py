"""Rollup tables on the warehouse engine (issue 17): built there in full, then rebuilt only for the days that
rows changed past the watermark touch (counted), state in the read model, and a metric reading
`rollups.<id>` takes whole days from the engine's table with the value it has on raw rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pytest

from heartbeat_core.metrics.definition import parse_metric_text
from heartbeat_core.metrics.gate.context import to_registry_metric
from heartbeat_core.rollups.refresh import stored_rollups
from heartbeat_core.rollups.sync import sync_rollups
from heartbeat_core.settings import get_settings, reset_settings
from heartbeat_core.warehouse import evaluate as wh
from heartbeat_core.warehouse import rollups as engine_rollups
from heartbeat_core.warehouse.config import WarehouseConfig, parse_url
from heartbeat_core.warehouse.engines import Engine, open_engine

pytestmark = pytest.mark.db

FIRST = date(2026, 11, 20)
LOADED = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # mid-day: today's rows come from raw rows

ROLLUP = """\
-- name: Events per day
-- table: s.events
-- cursor: updated_at
-- time: created_at
SELECT e.created_at::date AS day, count(*) AS events, sum(e.amount) AS amount
FROM s.events e
WHERE e.created_at >= heartbeat.rollup_from() AND e.created_at < heartbeat.rollup_to()
GROUP BY 1
"""

METRIC = """\
-- name: Amount in 7 days
-- period: 7d
-- unit: money:EUR
-- direction: higher_is_better
-- sources: s

-- @value
SELECT coalesce(sum(r.amount), 0) AS value FROM rollups.events_day r
"""


def _events(changed: bool) -> list[dict[str, Any]]:
    """Three events a day for ten days; `changed`: two of them re-priced later and one late arrival."""
    rows = []
    for n in range(30):
        created = datetime.combine(FIRST + timedelta(days=n // 3), datetime.min.time(), UTC) + timedelta(
            hours=2 + 7 * (n % 3)
        )
        rows.append({"id": n, "created_at": created, "updated_at": created, "amount": Decimal(f"{n}.25")})
    if changed:
        later = LOADED + timedelta(hours=1)
        rows[4].update(amount=Decimal("100.10"), updated_at=later)  # day 2
        rows[13].update(amount=Decimal("0.05"), updated_at=later)  # day 5
        rows.append(  # a late arrival for day 7
            {"id": 99, "created_at": rows[20]["created_at"], "updated_at": later, "amount": Decimal("7.77")}
        )
    return rows


def _land(config: WarehouseConfig, changed: bool) -> None:
    schema = pa.schema(
        [("id", pa.int64()), ("created_at", pa.timestamp("us", "UTC")), ("updated_at", pa.timestamp("us", "UTC")),
         ("amount", pa.decimal128(14, 2))]
    )  # fmt: skip
    writer = open_engine(config, read_only=False)
    try:
        writer.replace_table("s", "events", pa.Table.from_pylist(_events(changed), schema), ["created_at"])
    finally:
        writer.close()


def _expected(changed: bool, tz: ZoneInfo = ZoneInfo("UTC")) -> list[tuple[date, int, Decimal]]:
    per_day: dict[date, tuple[int, Decimal]] = {}
    for row in _events(changed):
        day = row["created_at"].astimezone(tz).date()
        count, total = per_day.get(day, (0, Decimal(0)))
        per_day[day] = (count + 1, total + row["amount"])
    return sorted((day, count, total) for day, (count, total) in per_day.items())


def _stored(engine: Engine) -> list[tuple[date, int, Decimal]]:
    rows = engine.query('SELECT * FROM rollups."events_day" ORDER BY 1', timeout_s=10, timezone="UTC").rows
    return [(r[0], int(r[1]), Decimal(r[2])) for r in rows]


@pytest.fixture(params=["duckdb", "chdb"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseConfig:
    if request.param == "duckdb":
        return parse_url(f"duckdb://{tmp_path / 'w.duckdb'}")
    return parse_url(f"chdb://{tmp_path / 'ch'}")


@pytest.fixture
def registered(marts_url: str, tmp_path: Path) -> Iterator[psycopg.Connection[Any]]:
    """The read model with the rollup registered (its table lives in the engine only: sync warns, registers)."""
    directory = tmp_path / "rollups"
    directory.mkdir()
    (directory / "events_day.sql").write_text(ROLLUP)
    with psycopg.connect(marts_url) as conn:
        report = sync_rollups(conn, directory)
        conn.commit()
        assert report.added == ["events_day"] and not report.problems
        yield conn


def test_an_engine_rollup_is_built_then_rebuilt_only_for_touched_days(
    registered: psycopg.Connection[Any], config: WarehouseConfig
) -> None:
    conn, tz = registered, get_settings().tz
    (rollup,) = stored_rollups(conn, ["events_day"])
    _land(config, changed=False)
    writer = open_engine(config, read_only=False)
    try:
        first = engine_rollups.refresh_on_engine(conn, writer, rollup, tz)
        assert (first.error, first.full, first.days_rebuilt) == (None, True, 10)
        assert _stored(writer) == _expected(False)
        again = engine_rollups.refresh_on_engine(conn, writer, rollup, tz)
        assert (again.full, again.days_rebuilt) == (False, 0)  # nothing changed past the watermark
    finally:
        writer.close()

    _land(config, changed=True)  # an ingest brings two changed rows and one late arrival
    writer = open_engine(config, read_only=False)
    try:
        touched = engine_rollups.refresh_on_engine(conn, writer, rollup, tz)
        assert (touched.error, touched.full, touched.days_rebuilt) == (None, False, 3)  # days 2, 5 and 7
        assert _stored(writer) == _expected(True)
    finally:
        writer.close()
    state = conn.execute(
        "SELECT days_rebuilt, watermark, error FROM heartbeat.warehouse_rollup_state WHERE warehouse = %s",
        (config.url,),
    ).fetchone()
    assert (
        state is not None and state[0] == 3 and state[1].startswith("2026-11-30T07:00") and state[2] is None
    )

    metric = to_registry_metric(parse_metric_text(METRIC, "events_amount_7d", "events_amount_7d.sql"))
    engine = open_engine(config)
    try:
        assert not wh.moments_at(conn, metric, AS_OF, engine=engine).raw_rollups  # the engine's table
        on_table = wh.evaluate(engine, conn, metric, AS_OF, with_detail=False).value
        on_raw = wh.evaluate(engine, conn, metric, AS_OF, with_detail=False, raw_rollups=True).value
    finally:
        engine.close()
    window = [r for r in _events(True) if AS_OF - timedelta(days=7) <= r["created_at"] < AS_OF]
    assert on_table == on_raw == float(sum(r["amount"] for r in window))


def test_an_engine_rollup_with_a_reach_rebuilds_the_days_after_each_touched_day(
    marts_url: str, tmp_path: Path, config: WarehouseConfig
) -> None:
    """`-- reach: 1 days`: a day's rows look back one day, so a touched day also rebuilds the next, as the
    Postgres refresh does; never past the newest day stored."""
    directory = tmp_path / "rollups"
    directory.mkdir()
    (directory / "events_day.sql").write_text(
        ROLLUP.replace("-- time: created_at\n", "-- time: created_at\n-- reach: 1 days\n")
    )
    with psycopg.connect(marts_url) as conn:
        assert not sync_rollups(conn, directory).problems
        conn.commit()
        (rollup,) = stored_rollups(conn, ["events_day"])
        assert rollup.reach_days == 1
        _land(config, changed=False)
        writer = open_engine(config, read_only=False)
        try:
            assert engine_rollups.refresh_on_engine(conn, writer, rollup, get_settings().tz).full
        finally:
            writer.close()
        _land(config, changed=True)
        writer = open_engine(config, read_only=False)
        try:
            touched = engine_rollups.refresh_on_engine(conn, writer, rollup, get_settings().tz)
            assert (touched.error, touched.full, touched.days_rebuilt) == (
                None,
                False,
                6,
            )  # 2, 5, 7 and each next
            assert _stored(writer) == _expected(True)
        finally:
            writer.close()


def test_a_rollup_not_built_on_the_engine_is_read_from_raw_rows(
    registered: psycopg.Connection[Any], config: WarehouseConfig
) -> None:
    """Before its first refresh there (or after the file changed) the engine's table is not trusted."""
    _land(config, changed=False)
    metric = to_registry_metric(parse_metric_text(METRIC, "events_amount_7d", "events_amount_7d.sql"))
    engine = open_engine(config)
    try:
        assert wh.moments_at(registered, metric, AS_OF, engine=engine).raw_rollups
        value = wh.evaluate(engine, registered, metric, AS_OF, with_detail=False).value
    finally:
        engine.close()
    window = [r for r in _events(False) if AS_OF - timedelta(days=7) <= r["created_at"] < AS_OF]
    assert value == float(sum(r["amount"] for r in window))
    with pytest.raises(Exception, match="read-only"):
        engine_rollups._Plan(
            open_engine(config), stored_rollups(registered)[0], get_settings().tz
        ).build_all()


def test_no_engine_file_yet_is_each_rollups_error_and_makes_no_file(
    registered: psycopg.Connection[Any], tmp_path: Path
) -> None:
    config = parse_url(f"duckdb://{tmp_path / 'absent.duckdb'}")
    metric = to_registry_metric(parse_metric_text(METRIC, "events_amount_7d", "events_amount_7d.sql"))
    results = engine_rollups.refresh_read_by(registered, config, [metric])
    assert "no DuckDB file at" in (results["events_day"].error or "")
    assert not (tmp_path / "absent.duckdb").exists()


def test_days_are_the_projects_business_days_on_every_engine(
    registered: psycopg.Connection[Any], config: WarehouseConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Tokyo an event at 16:00 UTC belongs to the next day: ClickHouse's `::date` of a UTC column would say
    otherwise, so the transpiled day is taken in the session zone (`toDate32(x, timeZone())`)."""
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "Asia/Tokyo")
    reset_settings()
    tz = get_settings().tz
    (rollup,) = stored_rollups(registered, ["events_day"])
    _land(config, changed=False)
    writer = open_engine(config, read_only=False)
    try:
        built = engine_rollups.refresh_on_engine(registered, writer, rollup, tz)
        assert (built.error, built.days_rebuilt) == (None, 11)  # ten UTC days spread over eleven in Tokyo
        stored = writer.query('SELECT * FROM rollups."events_day" ORDER BY 1', timeout_s=10, timezone=tz.key)
        assert [(r[0], int(r[1]), Decimal(r[2])) for r in stored.rows] == _expected(False, tz)
    finally:
        writer.close()
    metric = to_registry_metric(parse_metric_text(METRIC, "events_amount_7d", "events_amount_7d.sql"))
    engine = open_engine(config)
    try:
        on_table = wh.evaluate(engine, registered, metric, AS_OF, with_detail=False).value
        on_raw = wh.evaluate(engine, registered, metric, AS_OF, with_detail=False, raw_rollups=True).value
    finally:
        engine.close()
        reset_settings()
    window = [r for r in _events(False) if AS_OF - timedelta(days=7) <= r["created_at"] < AS_OF]
    assert on_table == on_raw == float(sum(r["amount"] for r in window))


WATCH_ROLLUP = """\
-- name: Orders per day and shop label
-- table: s.orders
-- cursor: updated_at
-- time: created_at
-- watch: s.shops (cursor updated_at) id = shop_id, columns label
SELECT o.created_at::date AS day, h.label, count(*) AS orders
FROM s.orders o
LEFT JOIN s.shops h ON h.id = o.shop_id
WHERE o.created_at >= heartbeat.rollup_from() AND o.created_at < heartbeat.rollup_to()
GROUP BY 1, 2
"""


def _land_shops(config: WarehouseConfig, label: str, updated_at: datetime) -> None:
    """Orders of ten days: shop 2 sells every day, shop 1 on days 0, 3 and 6 only; shop 1 is `label`."""
    stamp = pa.timestamp("us", "UTC")
    orders = [
        {"id": n, "shop_id": shop, "created_at": moment, "updated_at": moment}
        for n, (shop, moment) in enumerate(
            (shop, datetime.combine(FIRST + timedelta(days=d), datetime.min.time(), UTC) + timedelta(hours=9))
            for d in range(10)
            for shop in ((1, 2) if d % 3 == 0 and d < 7 else (2,))
        )
    ]
    shops = [
        {"id": 1, "label": label, "updated_at": updated_at},
        {"id": 2, "label": "big", "updated_at": datetime(2026, 11, 1, tzinfo=UTC)},
    ]
    order_schema = pa.schema(
        [("id", pa.int64()), ("shop_id", pa.int64()), ("created_at", stamp), ("updated_at", stamp)]
    )
    shop_schema = pa.schema([("id", pa.int64()), ("label", pa.string()), ("updated_at", stamp)])
    writer = open_engine(config, read_only=False)
    try:
        writer.replace_table("s", "orders", pa.Table.from_pylist(orders, order_schema), ["created_at"])
        writer.replace_table("s", "shops", pa.Table.from_pylist(shops, shop_schema), ["id"])
    finally:
        writer.close()


def test_an_engine_rollup_watching_a_dimension_rebuilds_the_days_of_a_changed_key(
    marts_url: str, tmp_path: Path, config: WarehouseConfig
) -> None:
    """A shop renamed after the build: the days of its orders (0, 3, 6) are rebuilt, not the other seven,
    and the stored rows carry the new label."""
    directory = tmp_path / "rollups"
    directory.mkdir()
    (directory / "orders_day.sql").write_text(WATCH_ROLLUP)
    tz = get_settings().tz
    with psycopg.connect(marts_url) as conn:
        assert not sync_rollups(conn, directory).problems
        conn.commit()
        (rollup,) = stored_rollups(conn, ["orders_day"])
        assert rollup.watched is not None and rollup.watched.columns == ("label",)
        _land_shops(config, "small", datetime(2026, 11, 1, tzinfo=UTC))
        writer = open_engine(config, read_only=False)
        try:
            assert engine_rollups.refresh_on_engine(conn, writer, rollup, tz).full
            again = engine_rollups.refresh_on_engine(conn, writer, rollup, tz)
            assert (again.full, again.days_rebuilt) == (False, 0)
        finally:
            writer.close()
        _land_shops(config, "big", LOADED + timedelta(hours=1))
        writer = open_engine(config, read_only=False)
        try:
            touched = engine_rollups.refresh_on_engine(conn, writer, rollup, tz)
            assert (touched.error, touched.full, touched.days_rebuilt) == (None, False, 3)
            labels = writer.query(
                'SELECT DISTINCT label FROM rollups."orders_day"', timeout_s=10, timezone="UTC"
            ).rows
            assert [r[0] for r in labels] == ["big"]  # shop 1's days now count it as big
        finally:
            writer.close()
