"""Landing one pull source, top to bottom: plan, skip when nothing moved, extract, load, then indexes
and the data watermark. The same steps for every kind; what differs lives in its connector.

Per table, extraction fails alone (a vanished table or a malformed file: its rows are not loaded, the
other tables still land); normalize and load run together. A table's first load appends (nothing to
merge with); later loads merge on the primary key, incrementally on the cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from heartbeat_core.ingest.config import AnySource, ResolvedTable, WriteDisposition, resolved_tables
from heartbeat_core.ingest.connectors import Built, Changes, Connector, connector_for
from heartbeat_core.ingest.errors import first_line
from heartbeat_core.ingest.pipeline import (
    LOAD_WORKERS,
    abort,
    check_formats,
    drop_empty_parquet,
    open_pipeline,
    reset_resource_state,
    run_resource,
)
from heartbeat_core.ingest.results import SourceResult, TableResult
from heartbeat_core.ingest.store import Marts
from heartbeat_core.ingest.watermark import compute_watermark
from heartbeat_core.readmodel.freshness import data_watermark
from heartbeat_core.redaction import redact

Progress = Callable[[str], None]


@dataclass
class Landing:
    """One pull run of one source: what to land and how, and what came of it so far."""

    source: AnySource
    connector: Connector[Any]
    tables: list[ResolvedTable]
    marts: Marts  # where the landed tables live: the Postgres marts, or the warehouse engine
    fresh: list[str]  # missing or empty in marts: loaded in full
    modes: dict[str, WriteDisposition]  # the write disposition each table uses this run
    secrets: tuple[str, ...]
    started: float
    result: SourceResult
    table_results: dict[str, TableResult]
    changes: Changes = field(default_factory=Changes)
    built: Built = field(default_factory=Built)

    @property
    def to_extract(self) -> list[ResolvedTable]:
        return [t for t in self.tables if t.name not in self.changes.unchanged]

    def redact(self, text: str) -> str:
        return redact(text, secrets=self.secrets)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def land(
    source: AnySource, progress: Progress | None, conn: psycopg.Connection[Any], marts: Marts
) -> SourceResult:
    """Land one pull source into `marts` (`conn`: the read model, for the recorded watermark); per-table
    failures come back in the result, not as exceptions."""
    landing = _plan(source, marts, time.perf_counter())
    if _nothing_moved(landing, conn):
        return _quiet(landing, conn)
    pipeline = open_pipeline(source.name, marts)
    reset_resource_state(pipeline, landing.fresh)
    fresh = set(landing.fresh)
    resume_from = landing.connector.resume_from(
        source, pipeline, marts, [t for t in landing.to_extract if t.name not in fresh]
    )
    landing.built = _build(landing, resume_from)
    try:
        t0 = time.perf_counter()
        extracted = _extract(landing, pipeline, resume_from, progress)
        extract_seconds = time.perf_counter() - t0
        if progress:
            progress(f"{source.name}: loading")
        t_load = time.perf_counter()
        counts = _load(landing, pipeline) if extracted else {}
        load_seconds = time.perf_counter() - t_load
    except Exception as exc:
        return _failed(landing, pipeline, exc)
    landing.built.cleanup()
    return _finish(landing, pipeline, conn, counts, extract_seconds, load_seconds)


def _plan(source: AnySource, marts: Marts, started: float) -> Landing:
    """Tables, their mode this run (a merge table missing or empty in marts appends), the connection's
    secrets, and which tables have nothing new at the source."""
    connector = connector_for(source)
    tables = resolved_tables(source)
    fresh = [t.name for t in tables if not marts.has_rows(source.name, t.name)]
    modes: dict[str, WriteDisposition] = {
        t.name: ("append" if t.write_disposition == "merge" and t.name in fresh else t.write_disposition)
        for t in tables
    }
    table_results = {
        t.name: TableResult(name=t.name, write_disposition=t.write_disposition, mode=modes[t.name])
        for t in tables
    }
    connector.preflight(source)
    landing = Landing(
        source=source,
        connector=connector,
        tables=tables,
        marts=marts,
        fresh=fresh,
        modes=modes,
        secrets=connector.secrets(source),
        started=started,
        result=SourceResult(
            source=source.name, kind=source.kind, ok=False, tables=list(table_results.values())
        ),
        table_results=table_results,
    )
    landing.changes = connector.changes(source, tables, marts)
    landing.changes.unchanged -= set(fresh)
    for name in landing.changes.unchanged:
        table_results[name].mode = "unchanged"
    return landing


def _nothing_moved(landing: Landing, conn: psycopg.Connection[Any]) -> bool:
    unchanged = landing.changes.unchanged
    return (
        bool(unchanged)
        and len(unchanged) == len(landing.tables)
        and (data_watermark(conn, landing.source.name) is not None)
    )


def _quiet(landing: Landing, conn: psycopg.Connection[Any]) -> SourceResult:
    """Nothing moved: no dlt run at all. Freshness is unaffected: a tracked watermark is never newer
    than the load that landed it, so the older-of-two rule already rests on it."""
    result, name = landing.result, landing.source.name
    result.ok = True
    # an index added to sources.toml
    result.warnings.extend(landing.marts.apply_indexes(name, landing.tables))
    result.data_watermark = data_watermark(conn, name)
    result.seconds = landing.elapsed()
    result.extract_seconds = result.seconds
    return result


def _build(landing: Landing, resume_from: dict[str, Any]) -> Built:
    tables = landing.to_extract
    if not tables:
        return Built()
    return landing.connector.build(landing.source, tables, landing.modes, resume_from)


def _extract(landing: Landing, pipeline: Any, resume_from: dict[str, Any], progress: Progress | None) -> bool:
    """All tables in one package (the fast path), with the run row only when nothing failed, so a
    source with a failing table never records a clean completed load. When that fails, extract again
    one table per package, so only the failing tables fail. Returns whether anything was extracted."""
    name = landing.source.name
    file_format = landing.marts.file_format or landing.connector.file_format
    if progress:
        progress(f"{name}: extracting {', '.join(landing.built.resources) or 'nothing'}")
    try:
        items = list(landing.built.resources.values())
        if not landing.built.errors:
            items.append(run_resource(len(landing.built.resources), 0))
        pipeline.extract(items, loader_file_format=file_format)
        return bool(items)
    except Exception:
        landing.built.cleanup()
        landing.built = _build(landing, resume_from)
    extracted = False
    for table, resource in landing.built.resources.items():
        try:
            pipeline.extract(resource, loader_file_format=file_format)
            extracted = True
        except Exception as exc:
            landing.built.errors[table] = f"source {name!r} table {table!r}: {first_line(exc)}"
    return extracted


def _load(landing: Landing, pipeline: Any) -> dict[str, int]:
    """Normalize and load what was extracted; row counts per table."""
    norm = pipeline.normalize(workers=1)
    drop_empty_parquet(pipeline)
    load_info = pipeline.load(workers=LOAD_WORKERS, raise_on_failed_jobs=True)
    counts = dict(norm.row_counts) if norm is not None else {}
    if landing.connector.file_format == "parquet":
        check_formats(load_info, {t.name for t in landing.tables})
    landing.marts.after_load(
        pipeline, landing.source.name, landing.tables, landing.modes, load_info.loads_ids
    )
    return counts


def _failed(landing: Landing, pipeline: Any, exc: Exception) -> SourceResult:
    """The load failed: nothing half-done stays behind, and the result says why."""
    landing.built.cleanup()
    abort(pipeline)
    name, marts = landing.source.name, landing.marts
    marts.discard(name)
    for table in landing.fresh:  # a first load that failed half-way leaves nothing behind
        if landing.modes.get(table) == "append" and marts.table_exists(name, table):
            marts.drop_table(name, table)
    landing.result.error = landing.redact(f"source {name!r}: load failed: {first_line(exc)}")
    landing.result.seconds = landing.elapsed()
    for table, why in landing.built.errors.items():
        landing.table_results[table].error = landing.redact(why)
    return landing.result


def _finish(
    landing: Landing,
    pipeline: Any,
    conn: psycopg.Connection[Any],
    counts: dict[str, int],
    extract_seconds: float,
    load_seconds: float,
) -> SourceResult:
    """Rows and errors per table, the post-ingest indexes, the data watermark, the verdict."""
    errors, result = landing.built.errors, landing.result
    landed = [t for t in landing.tables if t.name in landing.built.resources and t.name not in errors]
    landing.connector.after_load(pipeline, landed, landing.changes, set(errors))
    for t in landing.tables:
        tr = landing.table_results[t.name]
        tr.rows = int(counts.get(t.name, 0))
        if t.name in errors:
            tr.error = landing.redact(errors[t.name])
    share = (load_seconds + extract_seconds) / max(1, len(landed))
    for t in landed:
        landing.table_results[t.name].seconds += share
    result.rows = sum(tr.rows for tr in landing.table_results.values())
    t_index = time.perf_counter()
    result.warnings.extend(landing.marts.apply_indexes(landing.source.name, landing.tables))
    result.index_seconds = time.perf_counter() - t_index
    result.extract_seconds, result.load_seconds = extract_seconds, load_seconds
    result.data_watermark = _watermark(landing, conn, landed)
    failed = [tr for tr in landing.table_results.values() if tr.error]
    result.ok = not failed
    if failed:
        result.error = "; ".join(tr.error or "" for tr in failed)
    result.seconds = landing.elapsed()
    return result


def _watermark(
    landing: Landing, conn: psycopg.Connection[Any], landed: list[ResolvedTable]
) -> datetime | None:
    """Only tables that received rows can move the watermark; the rest keep the recorded one."""
    name = landing.source.name
    previous = data_watermark(conn, name)
    moved = (
        [t for t in landed if landing.table_results[t.name].rows > 0]
        if previous is not None
        else landing.tables
    )
    newest = compute_watermark(landing.marts, name, moved) if moved else None
    return max(filter(None, (previous, newest)), default=None)
