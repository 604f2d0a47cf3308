"""Audit cuts that are older than the data they summarise (issue 14, item 5).

A cut is computed into a snapshot (daily, or on request); the metrics beside it are recomputed whenever their
sources land. A snapshot taken before its sources last landed can say "nothing stuck now" next to a red
stuck-payments metric. A cut's sources are those of the metrics it explains (`META["metrics"]`); the cut is
out of date when one of them landed after the oldest of its window snapshots (the source's last successful load,
or the landing behind a related metric's newest value, whichever is later). A cut that names no metric has no
known sources and is never marked.

The recompute job refreshes the out-of-date cuts after compute (`refresh_out_of_date`); whatever is still out
of date (the job did not run, a refresh failed) is marked on every surface by `heartbeat_core.audit.read`
(freshness amber, `out_of_date_reason`), and `today` lists it under what not to trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core.formatting import format_moment

_SQL = """
WITH cut AS (
    SELECT r.cut_id, r.title, r.page, r.metric_ids, min(s.computed_at) AS computed_at
    FROM heartbeat.audit_cut_registry r
    JOIN heartbeat.audit_cut_snapshot s ON s.cut_id = r.cut_id AND s.computed_at IS NOT NULL
    WHERE r.retired_at IS NULL
    GROUP BY r.cut_id, r.title, r.page, r.metric_ids
), reader AS (
    SELECT c.cut_id, m.metric_id, src AS source
    FROM cut c
    JOIN heartbeat.metric_registry m ON m.metric_id = ANY (c.metric_ids) AND m.retired_at IS NULL
    CROSS JOIN LATERAL unnest(m.sources) AS src
), landing AS (
    SELECT r.cut_id, r.source, st.last_success_at AS landed  -- the source's last successful load
    FROM reader r JOIN heartbeat.source_state st ON st.source = r.source
    UNION ALL
    SELECT r.cut_id, r.source, h.source_as_of  -- the data behind the metric's newest value
    FROM reader r
    CROSS JOIN LATERAL (SELECT source_as_of FROM heartbeat.metric_history
                        WHERE metric_id = r.metric_id ORDER BY as_of_date DESC LIMIT 1) h
)
SELECT c.cut_id, c.title, c.page, c.computed_at, array_agg(DISTINCT l.source ORDER BY l.source), max(l.landed)
FROM cut c
JOIN landing l ON l.cut_id = c.cut_id AND l.landed > c.computed_at
GROUP BY c.cut_id, c.title, c.page, c.computed_at
ORDER BY c.page, c.cut_id
"""


@dataclass(frozen=True)
class OutOfDate:
    """One cut whose snapshot is older than the last landing of a source it summarises."""

    cut_id: str
    title: str
    page: str
    computed_at: datetime
    landed_at: datetime
    sources: tuple[str, ...]

    def reason(self, now: datetime) -> str:
        return (
            f"out of date: snapshot from {format_moment(self.computed_at, now)}, older than the data it "
            f"summarises ({', '.join(self.sources)} landed {format_moment(self.landed_at, now)})"
        )


def out_of_date_cuts(conn: psycopg.Connection[Any]) -> dict[str, OutOfDate]:
    """Active cuts with a snapshot older than their sources' last landing, by cut id."""
    rows = conn.execute(_SQL).fetchall()
    return {r[0]: OutOfDate(r[0], r[1], r[2], r[3], r[5], tuple(r[4])) for r in rows}


def refresh_out_of_date(conn: psycopg.Connection[Any]) -> list[str]:
    """Recompute the out-of-date cuts (the recompute job's step after compute); returns their ids."""
    from heartbeat_core.audit.refresh import (
        refresh_cuts,
    )  # the registry reads this module: no cycle at import
    from heartbeat_core.audit.registry import cuts_directory, load_cuts

    stale = sorted(out_of_date_cuts(conn))
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    if not stale:
        return []
    on_disk = load_cuts(cuts_directory()).by_id()  # a cut file removed since: retired by the refresh's sync
    chosen = [c for c in stale if c in on_disk]
    if chosen:
        refresh_cuts(chosen)
    return chosen
