"""Pages of the rows behind a metric's newest value, with their true total (issue 14: no silent 50-row stop).

Compute stores the first rows (`engine.DETAIL_ROW_LIMIT`) with the value and, since this issue, the total the
detail query returned. A page inside the stored rows is read from them; a page past them runs the detail SQL
again at the stored value's moment (point in time, read-only, under the metric timeout), so page 3 shows the
rows that stood behind that value, not today's.

    page = detail_page(conn, metric_id, offset=0, limit=20)   # None when the metric has no detail rows
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from heartbeat_core.compute.binding import begin_point_in_time
from heartbeat_core.compute.engine import _jsonable  # one conversion for stored and paged rows
from heartbeat_core.metrics.registry import active_metrics


@dataclass(frozen=True)
class DetailPage:
    columns: list[str]
    rows: list[list[Any]]
    offset: int
    total: int | None  # None: stored before totals were recorded and past the stored rows

    @property
    def more(self) -> int | None:
        return None if self.total is None else max(self.total - self.offset - len(self.rows), 0)


def _stored(conn: psycopg.Connection[Any], metric_id: str) -> tuple[dict[str, Any], Any] | None:
    row = conn.execute(
        "SELECT detail, as_of FROM heartbeat.metric_history WHERE metric_id = %s AND detail IS NOT NULL"
        " ORDER BY as_of_date DESC LIMIT 1",
        (metric_id,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def detail_page(
    conn: psycopg.Connection[Any], metric_id: str, offset: int = 0, limit: int = 20
) -> DetailPage | None:
    """Rows `offset` .. `offset + limit` behind the newest value, and how many there are in all."""
    found = _stored(conn, metric_id)
    if found is None:
        return None
    detail, as_of = found
    columns: list[str] = list(detail.get("columns") or [])
    rows: list[list[Any]] = list(detail.get("rows") or [])
    truncated = bool(detail.get("truncated"))
    total = detail.get("total", None if truncated else len(rows))
    if not truncated or offset + limit <= len(rows):
        return DetailPage(columns, rows[offset : offset + limit], offset, total)
    return _live_page(conn, metric_id, as_of, offset, limit) or DetailPage(columns, [], offset, total)


def _live_page(
    conn: psycopg.Connection[Any], metric_id: str, as_of: Any, offset: int, limit: int
) -> DetailPage | None:
    """Run the detail SQL again at the stored value's moment; the client-side cursor knows the total."""
    metrics = active_metrics(conn, [metric_id])
    if not metrics or not metrics[0].detail_sql or as_of is None:
        return None
    metric = metrics[0]
    sql: str = metrics[0].detail_sql
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()  # the point-in-time settings need a transaction of their own
    with conn.transaction(), conn.cursor() as cur:
        moments = begin_point_in_time(conn, metric, as_of)
        cur.execute(moments.bind(sql).encode())
        if cur.description is None:
            return None
        total = cur.rowcount
        if offset < total:
            cur.scroll(offset)
        rows = cur.fetchmany(limit) if offset < total else []
        columns = [c.name for c in cur.description]
    return DetailPage(columns, [[_jsonable(v) for v in r] for r in rows], offset, total)
