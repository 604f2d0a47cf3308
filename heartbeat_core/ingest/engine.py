"""The one ingest engine: `sources.toml` in, landed rows in marts (one schema per source) out.

    run_one("webbank")  -> SourceResult     lands one source, records the attempt in heartbeat.source_state
    run_all()           -> list[SourceResult]  every pull source, one after another; one failure fails alone
    land_events("events", [{...}, ...]) -> LandResult   a webhook batch, through dlt like everything else

Each kind's connector (`connectors/`) builds the dlt resources; `landing.land` runs the same steps for
all of them. The landed tables live in the marts (`store.open_marts`): the read-model Postgres, or, with
`HEARTBEAT_WAREHOUSE_URL` set, the warehouse engine, loaded straight by dlt with no copy in Postgres. After
every load the post-ingest indexes are applied on Postgres (`CREATE INDEX IF NOT EXISTS`; skipped on an engine,
and the report line says so) and the data watermark recomputed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core import clock
from heartbeat_core.db.connection import connect, database_url
from heartbeat_core.ingest.attempts import Attempt, record_attempt
from heartbeat_core.ingest.config import (
    AnySource,
    ResolvedTable,
    SourcesConfigError,
    WebhookSource,
    WriteDisposition,
    load_sources,
    resolved_tables,
)
from heartbeat_core.ingest.connectors import connector_for
from heartbeat_core.ingest.connectors.webhook import events_resource
from heartbeat_core.ingest.errors import IngestError, first_line
from heartbeat_core.ingest.landing import Progress, land
from heartbeat_core.ingest.pipeline import abort, open_pipeline, source_lock
from heartbeat_core.ingest.results import LandResult, SourceResult, TableResult
from heartbeat_core.ingest.store import Marts, open_marts
from heartbeat_core.ingest.watermark import compute_watermark
from heartbeat_core.redaction import redact

__all__ = ["LandResult", "SourceResult", "TableResult", "land_events", "run_all", "run_one"]


def run_one(
    source_name: str,
    *,
    sources: dict[str, AnySource] | None = None,
    progress: Progress | None = None,
) -> SourceResult:
    """Land one source; the attempt is recorded in heartbeat.source_state whatever happens.

    Raises SourcesConfigError when `sources.toml` is invalid or does not name the source.
    """
    config = sources if sources is not None else load_sources()
    source = config.get(source_name)
    if source is None:
        known = ", ".join(sorted(config)) or "none"
        raise SourcesConfigError(f"no source {source_name!r} in sources.toml (known: {known})")
    if not connector_for(source).pulled:
        warning = f"{source.kind} sources are pushed (land_events), not pulled"
        return SourceResult(source=source_name, kind=source.kind, ok=True, skipped=True, warnings=[warning])
    url = database_url()
    attempted_at = clock.now()
    started = time.perf_counter()
    with source_lock(source_name), connect(url, autocommit=True) as conn:
        result = _land_or_fail(source, progress, url, conn, started)
        record_attempt(
            conn,
            Attempt(
                source=source_name,
                kind=source.kind,
                started_at=attempted_at,
                ok=result.ok,
                error=result.error,
                rows=result.rows,
                seconds=result.seconds,
                watermark=result.data_watermark,
                update_watermark=result.ok and result.data_watermark is not None,
            ),
        )
    if progress:
        progress(_report_line(result))
    return result


def _report_line(result: SourceResult) -> str:
    """`webbank: ok — 1200 rows in 3.1s` (`into duckdb — post-ingest Postgres indexes skipped: …` when the
    marts live in a warehouse engine, so what differs from Postgres is said, not silent)."""
    line = f"{result.source}: {'ok' if result.ok else 'FAILED'} — {result.rows} rows in {result.seconds:.1f}s"
    if result.marts != "postgres":
        line += f" into {result.marts}"
    if result.error:
        line += f" — {result.error}"
    return line + "".join(f" — {note}" for note in result.notes)


def _land_or_fail(
    source: AnySource, progress: Progress | None, url: str, conn: psycopg.Connection[Any], started: float
) -> SourceResult:
    """`land` into the marts (the Postgres marts at `url`, or the configured warehouse engine), with a
    failure of the whole source turned into a failed result (its message redacted)."""
    marts: Marts | None = None
    try:
        marts = open_marts(conn, url)
        result = land(source, progress, conn, marts)
    except Exception as exc:
        result = SourceResult(source=source.name, kind=source.kind, ok=False)
        result.error = redact(
            str(exc) if isinstance(exc, IngestError) else f"source {source.name!r}: {first_line(exc)}"
        )
        result.seconds = time.perf_counter() - started
    finally:
        if marts is not None:
            marts.close()
    if marts is not None:
        result.marts, result.notes = marts.label, marts.notes()
    _end_transaction(conn)
    return result


def _end_transaction(conn: psycopg.Connection[Any]) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()


def run_all(
    names: Sequence[str] | None = None,
    *,
    sources: dict[str, AnySource] | None = None,
    progress: Progress | None = None,
) -> list[SourceResult]:
    """Land every pull source (or the named ones), serially; each failure is recorded and others go on."""
    config = sources if sources is not None else load_sources()
    targets = list(names) if names is not None else [n for n, s in config.items() if connector_for(s).pulled]
    return [run_one(name, sources=config, progress=progress) for name in targets]


def land_events(
    source: str,
    events: list[dict[str, Any]],
    *,
    sources: dict[str, AnySource] | None = None,
) -> LandResult:
    """Land a batch of JSON events for a webhook source (`kind = "webhook"` in sources.toml).

    Validation failures (unknown source, not a webhook source, events not objects) raise
    SourcesConfigError / ValueError; load failures come back in `LandResult.error` and are recorded.
    """
    config = sources if sources is not None else load_sources()
    spec = config.get(source)
    if spec is None:
        raise SourcesConfigError(f"no source {source!r} in sources.toml")
    if not isinstance(spec, WebhookSource):
        raise SourcesConfigError(f"source {source!r} is {spec.kind}, not webhook: it cannot receive events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError(f"source {source!r}: events must be a list of JSON objects")
    (table,) = resolved_tables(spec)
    url = database_url()
    attempted_at = clock.now()
    started = time.perf_counter()
    result = LandResult(source=source, table=table.name, rows=0, seconds=0.0)
    with source_lock(source), connect(url, autocommit=True) as conn:
        marts = open_marts(conn, url)
        try:
            _land_batch(marts, table, events, result)
            result.seconds = time.perf_counter() - started
            _end_transaction(conn)
            watermark = _after_batch(marts, source, table) if result.ok else None
        finally:
            marts.close()
        record_attempt(
            conn,
            Attempt(
                source=source,
                kind="webhook",
                started_at=attempted_at,
                ok=result.ok,
                error=result.error,
                rows=result.rows,
                seconds=result.seconds,
                watermark=watermark,
                update_watermark=watermark is not None,
            ),
        )
    return result


def _land_batch(marts: Marts, table: ResolvedTable, events: list[dict[str, Any]], result: LandResult) -> None:
    """Run one batch through the source's dlt pipeline; a failure is kept in `result.error`."""
    pipeline = open_pipeline(result.source, marts)
    try:
        fresh = not marts.has_rows(result.source, table.name)
        mode: WriteDisposition = (
            "append" if table.write_disposition == "merge" and fresh else table.write_disposition
        )
        info = pipeline.run(events_resource(table, events, mode), loader_file_format=marts.file_format)
        marts.after_load(pipeline, result.source, [table], {table.name: mode}, info.loads_ids)
        result.load_id = info.loads_ids[-1] if info.loads_ids else None
        norm = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        result.rows = int(norm.row_counts.get(table.name, 0)) if norm else len(events)
    except Exception as exc:
        abort(pipeline)
        marts.discard(result.source)
        result.error = redact(f"source {result.source!r} table {table.name!r}: {first_line(exc)}")


def _after_batch(marts: Marts, source: str, table: ResolvedTable) -> datetime | None:
    """The post-ingest indexes (Postgres marts), then the watermark the batch moved to."""
    marts.apply_indexes(source, [table])
    return compute_watermark(marts, source, [table])
