"""Freshness of sources: when did the data a metric reads last move forward?

`source_as_of` is the one function compute (and `heartbeat sources status`) asks. Per source it
takes the older of two clocks:

- the latest completed dlt load (`<source>._dlt_loads.inserted_at` with `status = 0`) at or before
  `at`, so a source whose loads fail goes stale;
- the data watermark (`heartbeat.source_state.data_watermark`, the newest cursor value landed in the
  tables `sources.toml` says count), so a source whose loads succeed but whose data stopped moving
  goes stale too — the silent break the load timestamp alone misses.

Across several sources the oldest wins. A source that never loaded (no schema, no `_dlt_loads`,
no completed load) makes the answer None.

`sources_status` is the one per-source verdict (CLI `heartbeat sources status`, MCP, web, alerts). Its
rules, so that one source never gets two answers:
- as of: `one_source_as_of`, the very value a metric reading the source is judged by;
- period: the strictest period (shortest amber limit in `FRESHNESS_LIMITS`) among the active metrics
  reading the source, so a source is late as soon as its most demanding reader is; a source no metric
  reads is judged by its own schedule: `daily` (or a cron expression a day or more apart) as `24h`,
  anything more frequent as `snapshot`;
- the judgement of age against the limits is the contract's `resolve_freshness`;
- time comes from `clock.now()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from heartbeat_core import clock
from heartbeat_core.metrics.definition import PERIODS, Period
from heartbeat_core.readmodel.pipeline import schedule_interval_s
from heartbeat_core.readmodel.status import FRESHNESS_LIMITS, Freshness, resolve_freshness
from heartbeat_core.redaction import redact_optional
from heartbeat_core.settings import get_settings

if TYPE_CHECKING:
    from heartbeat_core.ingest.config import AnySource

PeriodFrom = Literal["metrics", "schedule"]


def _table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    qualified = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()
    return bool(row and row[0])


def last_completed_load(
    conn: psycopg.Connection[Any], source: str, at: datetime | None = None
) -> datetime | None:
    """The newest completed load of one source at or before `at` (now when None); None if there is none."""
    if get_settings().warehouse_url:  # warehouse mode: the loads of the engine compute reads
        from heartbeat_core.warehouse import current

        return current.last_completed_load(source, at)
    if not _table_exists(conn, source, "_dlt_loads"):
        return None
    query = sql.SQL("SELECT max(inserted_at) FROM {}._dlt_loads WHERE status = 0").format(
        sql.Identifier(source)
    )
    params: tuple[Any, ...] = ()
    if at is not None:
        query = query + sql.SQL(" AND inserted_at <= %s")
        params = (at,)
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def data_watermark(conn: psycopg.Connection[Any], source: str) -> datetime | None:
    """The newest cursor value landed for a source, as recorded by ingest; None when not tracked."""
    if not _table_exists(conn, "heartbeat", "source_state"):
        return None
    row = conn.execute(
        "SELECT data_watermark FROM heartbeat.source_state WHERE source = %s", (source,)
    ).fetchone()
    return row[0] if row else None


def one_source_as_of(
    conn: psycopg.Connection[Any], source: str, at: datetime | None = None
) -> datetime | None:
    """The older of the last completed load and the data watermark; None when the source never loaded."""
    loaded = last_completed_load(conn, source, at)
    if loaded is None:
        return None
    watermark = data_watermark(conn, source)
    if watermark is None:
        return loaded
    return min(loaded, watermark)


def source_as_of(
    conn: psycopg.Connection[Any], sources: Sequence[str], at: datetime | None = None
) -> datetime | None:
    """How fresh the data of these sources is at `at`: the oldest per-source value; None if any never loaded.

    An empty `sources` gives None (nothing to vouch for the data).
    """
    oldest: datetime | None = None
    if not sources:
        return None
    for source in dict.fromkeys(sources):
        value = one_source_as_of(conn, source, at)
        if value is None:
            return None
        if oldest is None or value < oldest:
            oldest = value
    return oldest


# -- one verdict per source ------------------------------------------------------------------------------


class SourceStatus(BaseModel):
    """A source: load, freshness, tests."""

    source: str
    kind: str | None = None
    configured: bool = False
    schedule: str | None = None
    tables: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    period: Period
    period_from: PeriodFrom
    freshness: Freshness
    freshness_reason: str
    source_as_of: datetime | None = None
    age_s: float | None = None
    last_status: str | None = None  # ok | failed; None: never attempted
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_rows: int | None = None
    last_duration_s: float | None = None
    last_load_at: datetime | None = None
    data_watermark: datetime | None = None
    tests: list[str] = Field(
        default_factory=list
    )  # data tests that fail or cannot run (issue 18), one line each


def strictest_period(periods: Iterable[str]) -> Period | None:
    """The period with the shortest amber limit among `periods`; None when none is known."""
    wanted = set(periods)
    known = [p for p in PERIODS if p in wanted]
    if not known:
        return None
    return min(known, key=lambda p: FRESHNESS_LIMITS[p][0])


_DAY_S = 86400.0


def schedule_period(schedule: str | None, now: datetime) -> Period:
    """The period a source no metric reads is judged by: a daily (or rarer) schedule as `24h`, else
    `snapshot` (an hourly source is late after a day and broken after two)."""
    interval = schedule_interval_s(schedule or "hourly", now)
    return "24h" if interval is not None and interval >= _DAY_S else "snapshot"


def judging_period(
    reader_periods: Iterable[str], schedule: str | None, now: datetime
) -> tuple[Period, PeriodFrom]:
    """Which period's limits judge a source, and where it came from (see the module docstring)."""
    strictest = strictest_period(reader_periods)
    if strictest is not None:
        return strictest, "metrics"
    return schedule_period(schedule, now), "schedule"


def _configured(sources: Mapping[str, AnySource] | None) -> Mapping[str, AnySource]:
    """`sources` as given, else sources.toml; a missing or broken file lists no configured sources (a read
    never fails on it: `heartbeat sources status` loads the file itself and reports its errors)."""
    if sources is not None:
        return sources
    # imported here: ingest's package imports this module (data_watermark), so a top-level import would loop
    from heartbeat_core.ingest.config import SourcesConfigError, load_sources

    try:
        return load_sources()
    except SourcesConfigError:
        return {}


def _readers(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[str, str]]]:
    readers: dict[str, list[tuple[str, str]]] = {}
    for metric_id, period, sources in conn.execute(
        "SELECT metric_id, period, sources FROM heartbeat.metric_registry WHERE retired_at IS NULL"
        " ORDER BY metric_id"
    ):
        for source in sources or []:
            readers.setdefault(source, []).append((metric_id, period))
    return readers


def _one_status(
    conn: psycopg.Connection[Any],
    name: str,
    spec: AnySource | None,
    state: Mapping[str, Any],
    readers: Sequence[tuple[str, str]],
    now: datetime,
) -> SourceStatus:
    from heartbeat_core.ingest.config import resolved_tables

    schedule = spec.schedule if spec is not None else None
    period, period_from = judging_period((p for _, p in readers), schedule, now)
    as_of = one_source_as_of(conn, name)
    fresh = resolve_freshness(period, as_of, now)
    return SourceStatus(
        source=name,
        kind=spec.kind if spec is not None else state.get("kind"),
        configured=spec is not None,
        schedule=schedule,
        tables=[t.name for t in resolved_tables(spec)] if spec is not None else [],
        metrics=[m for m, _ in readers],
        period=period,
        period_from=period_from,
        freshness=fresh.freshness,
        freshness_reason=fresh.reason.replace("sources ", "data ", 1),
        source_as_of=as_of,
        age_s=None if fresh.age_s is None else round(fresh.age_s),
        last_status=state.get("last_status"),
        last_attempt_at=state.get("last_attempt_at"),
        last_success_at=state.get("last_success_at"),
        last_error=redact_optional(state.get("last_error")),
        last_rows=state.get("last_rows"),
        last_duration_s=state.get("last_duration_s"),
        last_load_at=last_completed_load(conn, name),
        data_watermark=state.get("data_watermark"),
    )


_FRESH_RANK = {"red": 0, "amber": 1, "fresh": 2}


def sources_status(
    conn: psycopg.Connection[Any],
    sources: Mapping[str, AnySource] | None = None,
    *,
    all_configured: bool = False,
    now: datetime | None = None,
) -> list[SourceStatus]:
    """The sources that active metrics read or ingest has recorded (and, with `all_configured`, every
    source sources.toml configures, even one never attempted), worst first.

    `sources` is the parsed sources.toml (read when None; it gives each source its kind, schedule and
    tables). Judged at `now` (the clock when None) by the rules of this module's docstring, so the same
    source gets the same verdict whoever asks.
    """
    config = _configured(sources)
    moment = now or clock.now()
    readers = _readers(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM heartbeat.source_state")
        states = {r["source"]: r for r in cur.fetchall()}
    known = sorted(set(readers) | set(states))
    names = dict.fromkeys([*config, *known] if all_configured else known)
    result = [
        _one_status(conn, name, config.get(name), states.get(name, {}), readers.get(name, []), moment)
        for name in names
    ]
    result.sort(
        key=lambda s: (_FRESH_RANK[s.freshness], 0 if s.last_status in ("failed", "error") else 1, s.source)
    )
    return result
