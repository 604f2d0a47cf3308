"""Point-in-time moments bound as constants (compute.binding): the constants equal what the functions return
in the same transaction — Postgres's own interval arithmetic, across a daylight-saving change — every
authoring form is caught, and an unrecognised call is left to the functions (which still answer)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from heartbeat_core.compute.binding import begin_point_in_time, nominal_moments
from heartbeat_core.metrics.definition import TypicalOptions
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.settings import get_settings, reset_settings

# Europe/Berlin left summer time on 2026-10-25: a 30-day window from early November crosses it.
AS_OF = datetime(2026, 11, 3, 9, 15, 30, 250000, tzinfo=UTC)

PROBE = """
SELECT heartbeat.as_of(), heartbeat.window_start(), heartbeat.window_start('24h'),
       heartbeat.window_start('7d'), heartbeat.window_start('30d'), heartbeat.window_start('snapshot'),
       heartbeat.history_from()
"""


def _metric(period: str) -> RegistryMetric:
    return RegistryMetric(
        metric_id="probe", name="probe", period=period, unit="count", direction="higher_is_better",
        sources=("shop",), value_sql="SELECT 1", detail_sql=None, history_sql=None, norm_value=None,
        alert_value=None, target_value=None, typical_method="none", typical_options=TypicalOptions(),
        benchmark_mean=None, benchmark_stddev=None, benchmark_points=None, file_path=None,
    )  # fmt: skip


@pytest.fixture
def conn(marts_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> psycopg.Connection:
    monkeypatch.setenv("HEARTBEAT_TIMEZONE", "Europe/Berlin")
    reset_settings()
    return marts_conn


@pytest.mark.parametrize("period", ["24h", "30d", "snapshot"])
@pytest.mark.parametrize("history_from", [None, date(2026, 8, 5)])
def test_constants_equal_the_functions(
    conn: psycopg.Connection, period: str, history_from: date | None
) -> None:
    with conn.transaction():
        moments = begin_point_in_time(conn, _metric(period), AS_OF, history_from=history_from)
        bound = moments.bind(PROBE)
        assert "heartbeat." not in bound
        assert conn.execute(bound).fetchone() == conn.execute(PROBE).fetchone()
        assert conn.execute("SHOW jit").fetchone() == ("off",)  # compiling cost more than it saved
    thirty = moments.window_starts["30d"]
    # Calendar days in the metric's zone: 30 days back from 10:15 CET is 10:15 CEST, i.e. 08:15 UTC.
    assert thirty == datetime(2026, 10, 4, 8, 15, 30, 250000, tzinfo=UTC)


@pytest.mark.parametrize("period", ["snapshot", "24h", "7d", "30d", "funnel"])
def test_nominal_moments_are_the_ones_postgres_gives_the_metric(
    conn: psycopg.Connection, period: str
) -> None:
    # the previews' moments (no database) bind the metric's own window, as compute does, across the DST change
    with conn.transaction():
        asked = begin_point_in_time(conn, _metric(period), AS_OF)
    worked_out = nominal_moments(AS_OF, get_settings().tz, period)
    assert worked_out.window_start == asked.window_start
    assert worked_out.window_starts == asked.window_starts
    assert (worked_out.as_of, worked_out.history_from) == (asked.as_of, asked.history_from)


def test_every_authoring_form_is_bound_and_others_are_left_alone(conn: psycopg.Connection) -> None:
    sql = (
        "SELECT HEARTBEAT.AS_OF( ), heartbeat . window_start ( '7d'::text ), heartbeat.history_from(),"
        " heartbeat.window_start(%s), myschema_heartbeat.as_of_x"
    )
    with conn.transaction():
        moments = begin_point_in_time(conn, _metric("7d"), AS_OF)
    bound = moments.bind(sql)
    assert bound.count("::timestamptz") == 2
    assert "::date" in bound
    assert "heartbeat.window_start(%s)" in bound
    assert "myschema_heartbeat.as_of_x" in bound
    assert f"'{moments.as_of.isoformat()}'::timestamptz" in bound


def test_a_bound_range_reaches_the_planner_as_constants(conn: psycopg.Connection) -> None:
    """The reason for binding: the plan's index condition holds constants, not a function call."""
    conn.execute("CREATE TABLE probe_events (at timestamptz NOT NULL)")
    conn.execute(
        "INSERT INTO probe_events SELECT timestamptz '2026-01-01' + g * interval '1 minute'"
        " FROM generate_series(1, 200000) g"
    )
    conn.execute("CREATE INDEX ON probe_events (at)")
    conn.execute("ANALYZE probe_events")
    sql = "SELECT count(*) FROM probe_events WHERE at >= heartbeat.window_start('24h') AND at < heartbeat.as_of()"
    as_of = datetime(2026, 3, 1, tzinfo=UTC)
    with conn.transaction():
        moments = begin_point_in_time(conn, _metric("24h"), as_of)
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + moments.bind(sql)).fetchall())
        count = conn.execute(moments.bind(sql)).fetchone()
    assert "Index" in plan and "as_of" not in plan, plan
    assert count == (1440,)
