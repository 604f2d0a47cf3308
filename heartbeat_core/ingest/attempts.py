"""Every ingest attempt is recorded in `heartbeat.source_state`, whatever happened: when, whether it
worked, why not, how much, and the data watermark (kept from the last success when this one failed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

_UPSERT = """
INSERT INTO heartbeat.source_state AS s (source, kind, last_attempt_at, last_success_at, last_status,
    last_error, last_rows, last_duration_s, data_watermark, updated_at)
VALUES (%(source)s, %(kind)s, %(at)s, CASE WHEN %(ok)s THEN %(at)s END, %(status)s, %(error)s, %(rows)s,
    %(seconds)s, %(wm)s, now())
ON CONFLICT (source) DO UPDATE SET
    kind = excluded.kind,
    last_attempt_at = excluded.last_attempt_at,
    last_success_at = CASE WHEN %(ok)s THEN excluded.last_attempt_at ELSE s.last_success_at END,
    last_status = excluded.last_status,
    last_error = excluded.last_error,
    last_rows = excluded.last_rows,
    last_duration_s = excluded.last_duration_s,
    data_watermark = CASE WHEN %(update_wm)s THEN excluded.data_watermark ELSE s.data_watermark END,
    updated_at = now()
"""


@dataclass(frozen=True)
class Attempt:
    source: str
    kind: str
    started_at: datetime
    ok: bool
    error: str | None
    rows: int
    seconds: float
    watermark: datetime | None
    update_watermark: bool


def record_attempt(conn: psycopg.Connection[Any], attempt: Attempt) -> None:
    """Upsert the source's row and commit."""
    conn.execute(
        _UPSERT,
        {
            "source": attempt.source,
            "kind": attempt.kind,
            "at": attempt.started_at,
            "ok": attempt.ok,
            "status": "ok" if attempt.ok else "failed",
            "error": attempt.error,
            "rows": attempt.rows,
            "seconds": attempt.seconds,
            "wm": attempt.watermark,
            "update_wm": attempt.update_watermark,
        },
    )
    conn.commit()
