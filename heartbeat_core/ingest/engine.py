"""The one ingest engine: `sources.toml` in, landed rows in marts (one schema per source) out.

    run_one("webbank")  -> SourceResult     lands one source, records the attempt in heartbeat.source_state
    run_all()           -> list[SourceResult]  every pull source, one after another; one failure fails alone
    land_events("events", [{...}, ...]) -> LandResult   a webhook batch, through dlt like everything else

Per table, the engine extracts separately (a vanished table or a malformed file fails only that
table: its rows are not loaded, the other tables still land), then normalizes and loads together.
Postgres sources take the fast path: connectorx streaming arrow batches, parquet files loaded by
ADBC (binary COPY). A table's first load appends (nothing to merge with); later loads merge on the
primary key, incrementally on the cursor. After every load the post-ingest indexes are applied
(`CREATE INDEX IF NOT EXISTS`) and the data watermark recomputed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.db.connection import connect, database_url
from heartbeat_core.ingest.changes import detect_changes, incremental_state, load_saved, save_after_load
from heartbeat_core.ingest.config import (
    AnySource,
    FilesSource,
    FilesTable,
    PostgresSource,
    ResolvedTable,
    RestSource,
    SourcesConfigError,
    WebhookSource,
    load_sources,
    resolved_tables,
)
from heartbeat_core.ingest.connections import libpq_url, scrub, source_url, url_secrets
from heartbeat_core.ingest.kinds import IngestError
from heartbeat_core.readmodel.freshness import data_watermark
from heartbeat_core.settings import get_settings

Progress = Callable[[str], None]

# dlt knobs, set once for this process (environment is how dlt reads its config).
_DLT_DEFAULTS = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
    # bounded parquet files: with two load workers, peak memory stays flat at any table size
    "DATA_WRITER__FILE_MAX_ITEMS": "350000",
    "DATA_WRITER__BUFFER_MAX_ITEMS": "5000",
    # replace swaps in one transaction instead of truncating first: no half-empty lookup tables
    "DESTINATION__REPLACE_STRATEGY": "insert-from-staging",
    # one table at a time: round-robin keeps every table's connectorx stream open and prefetching,
    # which took 1.4 GB on three 10M-row tables (fifo: 0.56 GB, and faster)
    "EXTRACT__NEXT_ITEM_MODE": "fifo",
}
LOAD_WORKERS = 2
RUN_TABLE = "heartbeat_ingest_run"


def _dlt_env() -> None:
    for key, value in _DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    # dlt warns about hint merges and schema hashes on every run; errors still surface as exceptions
    logging.getLogger("dlt").setLevel(logging.ERROR)


@dataclass
class TableResult:
    name: str
    rows: int = 0
    write_disposition: str = ""
    mode: str = ""  # the disposition actually used this run (a first merge load appends)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SourceResult:
    source: str
    kind: str
    ok: bool
    rows: int = 0
    seconds: float = 0.0
    error: str | None = None
    tables: list[TableResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_watermark: datetime | None = None
    skipped: bool = False
    extract_seconds: float = 0.0
    load_seconds: float = 0.0  # normalize + load
    index_seconds: float = 0.0  # post-ingest indexes

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_watermark"] = self.data_watermark.isoformat() if self.data_watermark else None
        return out


@dataclass
class LandResult:
    source: str
    table: str
    rows: int
    seconds: float
    load_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def warm_up() -> None:
    """Import dlt and the backends once (about a second on a small machine), e.g. at server start,
    so the first ingest of a long-lived process does not pay for it."""
    _dlt_env()
    import connectorx  # noqa: F401
    import dlt  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from dlt.destinations.impl.postgres import postgres  # noqa: F401
    from dlt.sources.filesystem import filesystem  # noqa: F401
    from dlt.sources.rest_api import rest_api_resources  # noqa: F401
    from dlt.sources.sql_database import sql_database  # noqa: F401


# ---------------------------------------------------------------- helpers


def pipelines_dir() -> Path:
    path = get_settings().home / "dlt"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _source_lock(source: str) -> Iterator[None]:
    """One ingest of a source at a time, across processes (the web server, cron, MCP)."""
    lock_path = pipelines_dir() / f"{source}.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _destination(marts: str) -> Any:
    import dlt
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    creds = PostgresCredentials()
    creds.parse_native_representation(libpq_url(marts))
    if creds.password is None:
        creds.password = ""
    return dlt.destinations.postgres(credentials=creds)


def _table_exists(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    name = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table)).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def _has_rows(conn: psycopg.Connection[Any], schema: str, table: str) -> bool:
    if not _table_exists(conn, schema, table):
        return False
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(sql.Identifier(schema), sql.Identifier(table))
    row = conn.execute(q).fetchone()
    return bool(row and row[0])


def _pipeline(source: str, marts: str, conn: psycopg.Connection[Any]) -> Any:
    """The source's dlt pipeline. Marts is the truth: if the dataset has no dlt state there (a new
    marts database), local working state is wiped so incremental cursors start over."""
    import dlt

    _dlt_env()
    name = f"heartbeat_{source}"
    workdir = pipelines_dir() / name
    if workdir.exists() and not _table_exists(conn, source, "_dlt_pipeline_state"):
        shutil.rmtree(workdir, ignore_errors=True)
    return dlt.pipeline(  # type: ignore[call-overload]
        pipeline_name=name,
        pipelines_dir=str(pipelines_dir()),
        destination=_destination(marts),
        dataset_name=source,
        progress=None,
    )


def _reset_resource_state(pipeline: Any, names: Sequence[str]) -> None:
    """Forget incremental state of tables that are missing or empty in marts (so they reload in full)."""
    if not names:
        return
    with pipeline.managed_state() as state:
        for section in state.get("sources", {}).values():
            resources = section.get("resources", {})
            for name in names:
                resources.pop(name, None)


def _drop_empty_parquet(pipeline: Any) -> None:
    """dlt can rotate a parquet file right at the end of a stream and leave an empty one behind;
    ADBC cannot ingest an empty file. Remove such files from normalized packages before loading."""
    import pyarrow.parquet as pq

    root = Path(pipeline.working_dir) / "load" / "normalized"
    if not root.exists():
        return
    for path in root.glob("*/new_jobs/*.parquet"):
        try:
            if pq.ParquetFile(path).metadata.num_rows == 0:
                path.unlink()
        except Exception:  # an unreadable file is left for the loader to report
            continue


def _abort(pipeline: Any) -> None:
    """After a failure: no half-done package is retried later; marts state is restored next run."""
    with contextlib.suppress(Exception):
        pipeline.drop()
    with contextlib.suppress(Exception):
        shutil.rmtree(Path(pipelines_dir()) / pipeline.pipeline_name, ignore_errors=True)


def _assert_adbc() -> None:
    from dlt.destinations._adbc_jobs import has_adbc_driver
    from dlt.destinations.impl.postgres.factory import get_adbc_driver_location

    try:
        found, why = has_adbc_driver(get_adbc_driver_location())
    except Exception as exc:  # the driver package itself is missing
        found, why = False, str(exc)
    if not found:
        raise IngestError(
            "parquet loading needs the adbc-driver-postgresql package (pip install adbc-driver-postgresql); "
            f"without it dlt would silently fall back to a 10x slower path: {why}"
        )


def _index_name(table: str, cols: Sequence[str]) -> str:
    import hashlib

    base = f"hb_{table}_{'_'.join(cols)}"
    if len(base) <= 63:
        return base
    digest = hashlib.sha1(base.encode()).hexdigest()[:8]
    return f"{base[:54]}_{digest}"


def apply_indexes(conn: psycopg.Connection[Any], source: str, tables: Sequence[ResolvedTable]) -> list[str]:
    """`CREATE INDEX IF NOT EXISTS` for every configured index of landed tables; returns warnings."""
    warnings: list[str] = []
    tuned = False
    existing = {
        r[0]
        for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (source,)).fetchall()
    }
    for table in tables:
        if not table.indexes or not _table_exists(conn, source, table.name):
            continue
        for cols in table.indexes:
            if _index_name(table.name, cols) in existing:
                continue  # no lock taken when there is nothing to do
            if not tuned:
                # a first build sorts the whole table: give it memory (the server default is 64 MB)
                conn.execute("SET maintenance_work_mem = '256MB'")
                tuned = True
            stmt = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
                sql.Identifier(_index_name(table.name, cols)),
                sql.Identifier(source),
                sql.Identifier(table.name),
                sql.SQL(", ").join(sql.Identifier(c) for c in cols),
            )
            try:
                conn.execute(stmt)
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0]
                warnings.append(f"index on {source}.{table.name} ({', '.join(cols)}): {first}")
    if tuned:
        conn.execute("RESET maintenance_work_mem")
    return warnings


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _watermark_column(table: ResolvedTable) -> str | None:
    if isinstance(table.spec, FilesTable) and table.spec.watermark_column:
        return table.spec.watermark_column
    return table.cursor


def compute_watermark(
    conn: psycopg.Connection[Any], source: str, tables: Sequence[ResolvedTable]
) -> datetime | None:
    """The newest cursor value landed across the source's watermark tables (capped at now)."""
    newest: datetime | None = None
    for table in tables:
        column = _watermark_column(table)
        if not table.watermark or not column or not _table_exists(conn, source, table.name):
            continue
        q = sql.SQL("SELECT max({}) FROM {}.{}").format(
            sql.Identifier(column), sql.Identifier(source), sql.Identifier(table.name)
        )
        try:
            row = conn.execute(q).fetchone()
        except psycopg.Error:
            continue
        value = _as_datetime(row[0] if row else None)
        if value is not None and (newest is None or value > newest):
            newest = value
    if newest is not None:
        newest = min(newest, datetime.now(UTC))
    return newest


def record_attempt(
    conn: psycopg.Connection[Any],
    source: str,
    kind: str,
    started_at: datetime,
    ok: bool,
    error: str | None,
    rows: int,
    seconds: float,
    watermark: datetime | None,
    update_watermark: bool,
) -> None:
    conn.execute(
        """
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
        """,
        {
            "source": source,
            "kind": kind,
            "at": started_at,
            "ok": ok,
            "status": "ok" if ok else "failed",
            "error": error,
            "rows": rows,
            "seconds": seconds,
            "wm": watermark,
            "update_wm": update_watermark,
        },
    )
    conn.commit()


# ---------------------------------------------------------------- building resources


def _max_cursor(conn: psycopg.Connection[Any], schema: str, table: str, cursor: str) -> Any:
    q = sql.SQL("SELECT max({}) FROM {}.{}").format(
        sql.Identifier(cursor), sql.Identifier(schema), sql.Identifier(table)
    )
    try:
        row = conn.execute(q).fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def _unchanged_tables(
    source: PostgresSource, tables: list[ResolvedTable], saved: dict[str, Any] | None, secrets: list[str]
) -> tuple[set[str], dict[str, str]]:
    url = source_url(source.name, source.connection_env, source.fallback_database)
    secrets.extend(url_secrets(url))
    try:
        src = psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise IngestError(
            scrub(
                f"source {source.name!r}: cannot connect to the source database: {_first_line(exc)}",
                tuple(secrets),
            )
        ) from None
    with src:
        unchanged, prints, _ = detect_changes(
            src, source.source_schema, tables, saved or {"cursors": {}, "prints": {}}
        )
    if saved is None:
        unchanged = set()
    return unchanged, prints


def _build_resources(
    source: AnySource,
    tables: list[ResolvedTable],
    modes: Mapping[str, str],
    secrets: list[str],
    resume_from: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str], Callable[[], None]]:
    """Resources per table, per-table build errors, and a cleanup callback."""
    from heartbeat_core.ingest import kinds

    resources: dict[str, Any] = {}
    errors: dict[str, str] = {}
    cleanup: Callable[[], None] = lambda: None  # noqa: E731

    if not tables:
        return resources, errors, cleanup
    if isinstance(source, PostgresSource):
        url = source_url(source.name, source.connection_env, source.fallback_database)
        secrets.extend(url_secrets(url))
        cx_url = libpq_url(url)
        engine = kinds.sql_engine(cx_url.replace("postgresql://", "postgresql+psycopg2://", 1))
        cleanup = engine.dispose
        try:
            with engine.connect():
                pass
        except Exception as exc:
            engine.dispose()
            raise IngestError(
                f"source {source.name!r}: cannot connect to the source database: {_first_line(exc)}"
            ) from None
        import sqlalchemy as sa

        existing = set(sa.inspect(engine).get_table_names(schema=source.source_schema))
        present = []
        for table in tables:
            name = getattr(table.spec, "source_table", None) or table.name
            if name not in existing:
                errors[table.name] = (
                    f"source {source.name!r} table {table.name!r}: {source.source_schema}.{name} "
                    "does not exist in the source database"
                )
            else:
                present.append(table)
        try:
            resources.update(
                kinds.postgres_resources(source, present, engine, cx_url, modes, resume_from or {})
            )
        except Exception as exc:
            for table in present:
                errors[table.name] = f"source {source.name!r} table {table.name!r}: {_first_line(exc)}"
    elif isinstance(source, RestSource):
        base = (
            os.environ.get(source.base_url_env, "").strip() if source.base_url_env else ""
        ) or source.base_url
        if not base:
            raise IngestError(
                f"source {source.name!r}: environment variable {source.base_url_env} is not set"
            )
        token = os.environ.get(source.token_env, "").strip() if source.token_env else None
        if token:
            secrets.append(token)
        resources.update(kinds.rest_resources(source, tables, base.rstrip("/"), token or None, modes))
    elif isinstance(source, FilesSource):
        for table in tables:
            try:
                resources[table.name] = kinds.files_resource(source, table, modes[table.name])
            except IngestError as exc:
                errors[table.name] = str(exc)
    return resources, errors, cleanup


def _first_line(exc: BaseException) -> str:
    # dlt wraps the real failure; the innermost cause is the one the operator needs
    inner: BaseException = exc
    seen = 0
    while seen < 10:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or isinstance(inner, IngestError):
            break
        inner = nxt
        seen += 1
    text = str(inner).strip()
    first = text.splitlines()[0] if text else type(inner).__name__
    if isinstance(inner, IngestError):
        return first
    return f"{type(inner).__name__}: {first}"[:500]


# ---------------------------------------------------------------- run


def _land(
    source: AnySource, progress: Progress | None, marts: str, conn: psycopg.Connection[Any]
) -> SourceResult:
    started = time.perf_counter()
    tables = resolved_tables(source)
    result = SourceResult(source=source.name, kind=source.kind, ok=False)
    table_results = {t.name: TableResult(name=t.name, write_disposition=t.write_disposition) for t in tables}
    result.tables = list(table_results.values())
    secrets: list[str] = []

    # a table that is missing or empty in marts loads in full: append (nothing to merge with)
    fresh = [t.name for t in tables if not _has_rows(conn, source.name, t.name)]
    modes = {
        t.name: ("append" if t.write_disposition == "merge" and t.name in fresh else t.write_disposition)
        for t in tables
    }
    for t in tables:
        table_results[t.name].mode = modes[t.name]

    # skip tables with nothing new (cheap queries on the source) so a quiet run stays fast
    resume_from: dict[str, Any] = {}
    unchanged: set[str] = set()
    new_prints: dict[str, str] = {}
    workdir = pipelines_dir() / f"heartbeat_{source.name}"
    if isinstance(source, PostgresSource):
        _assert_adbc()
        saved = load_saved(workdir) if _table_exists(conn, source.name, "_dlt_pipeline_state") else None
        unchanged, new_prints = _unchanged_tables(source, tables, saved, secrets)
        unchanged -= set(fresh)
        for name in unchanged:
            table_results[name].mode = "unchanged"
        if len(unchanged) == len(tables) and data_watermark(conn, source.name) is not None:
            # nothing moved: no dlt run at all. Freshness is unaffected: a tracked watermark is never
            # newer than the load that landed it, so the older-of-two rule already rests on it.
            result.ok = True
            result.warnings.extend(apply_indexes(conn, source.name, tables))  # an index added to sources.toml
            result.data_watermark = data_watermark(conn, source.name)
            result.seconds = time.perf_counter() - started
            result.extract_seconds = result.seconds
            return result
    pipeline = _pipeline(source.name, marts, conn)
    _reset_resource_state(pipeline, fresh)
    file_format = "parquet" if isinstance(source, PostgresSource) else None
    to_extract = [t for t in tables if t.name not in unchanged]
    if isinstance(source, PostgresSource):
        # marts is the truth: a table with rows but no local cursor state (HEARTBEAT_HOME/dlt lost, a
        # new container) resumes from the newest cursor value landed, instead of re-landing everything
        for t in to_extract:
            if t.cursor and t.name not in fresh and incremental_state(pipeline, t.name, t.cursor) is None:
                resume_from[t.name] = _max_cursor(conn, source.name, t.name, t.cursor)

    resources, errors, cleanup = _build_resources(source, to_extract, modes, secrets, resume_from)
    try:
        t0 = time.perf_counter()
        if progress:
            progress(f"{source.name}: extracting {', '.join(resources) or 'nothing'}")
        extracted = False
        try:
            # the fast path: every table in one package; the run row only when nothing failed, so a
            # source with a failing table never records a clean completed load
            items = list(resources.values())
            if not errors:
                items.append(_run_resource(len(resources), 0))
            pipeline.extract(items, loader_file_format=file_format)
            extracted = bool(items)
        except Exception:
            # isolate the failing table(s): extract again, one table per package
            cleanup()
            resources, errors, cleanup = _build_resources(source, to_extract, modes, secrets, resume_from)
            for name, resource in resources.items():
                try:
                    pipeline.extract(resource, loader_file_format=file_format)
                    extracted = True
                except Exception as exc:
                    errors[name] = f"source {source.name!r} table {name!r}: {_first_line(exc)}"
        extract_seconds = time.perf_counter() - t0
        if progress:
            progress(f"{source.name}: loading")
        t_load = time.perf_counter()
        counts: dict[str, int] = {}
        if extracted:
            norm = pipeline.normalize(workers=1)
            _drop_empty_parquet(pipeline)
            load_info = pipeline.load(workers=LOAD_WORKERS, raise_on_failed_jobs=True)
            counts = dict(norm.row_counts) if norm is not None else {}
            if file_format == "parquet":
                _check_formats(load_info, {t.name for t in tables})
        load_seconds = time.perf_counter() - t_load
    except Exception as exc:
        cleanup()
        _abort(pipeline)
        # a first load that failed half-way leaves nothing behind
        for name in fresh:
            if modes.get(name) == "append" and _table_exists(conn, source.name, name):
                conn.execute(
                    sql.SQL("DROP TABLE {}.{}").format(sql.Identifier(source.name), sql.Identifier(name))
                )
                conn.commit()
        message = scrub(f"source {source.name!r}: load failed: {_first_line(exc)}", tuple(secrets))
        result.error = message
        result.seconds = time.perf_counter() - started
        for name, why in errors.items():
            table_results[name].error = scrub(why, tuple(secrets))
        return result
    cleanup()

    landed = [t for t in tables if t.name in resources and t.name not in errors]
    if isinstance(source, PostgresSource):
        save_after_load(Path(pipeline.working_dir), pipeline, landed, new_prints, set(errors))
    for t in tables:
        tr = table_results[t.name]
        tr.rows = int(counts.get(t.name, 0))
        if t.name in errors:
            tr.error = scrub(errors[t.name], tuple(secrets))
    share = (load_seconds + extract_seconds) / max(1, len(landed))
    for t in landed:
        table_results[t.name].seconds += share
    result.rows = sum(tr.rows for tr in table_results.values())
    t_index = time.perf_counter()
    result.warnings.extend(apply_indexes(conn, source.name, tables))
    result.index_seconds = time.perf_counter() - t_index
    result.extract_seconds, result.load_seconds = extract_seconds, load_seconds
    # only tables that received rows can move the watermark; the rest keep the recorded one
    previous = data_watermark(conn, source.name)
    moved = [t for t in landed if table_results[t.name].rows > 0] if previous is not None else tables
    newest = compute_watermark(conn, source.name, moved) if moved else None
    result.data_watermark = max(filter(None, (previous, newest)), default=None)
    failed = [tr for tr in table_results.values() if tr.error]
    result.ok = not failed
    if failed:
        result.error = "; ".join(tr.error or "" for tr in failed)
    result.seconds = time.perf_counter() - started
    return result


def _run_resource(tables: int, failed: int) -> Any:
    """One row per run, so every successful run is a completed load in `_dlt_loads` even when no
    source row changed (freshness then rests on the data watermark)."""
    import dlt

    row = {"run_at": datetime.now(UTC), "tables": tables, "failed_tables": failed}
    return dlt.resource([row], name=RUN_TABLE, write_disposition="append")


def _check_formats(load_info: Any, data_tables: set[str]) -> None:
    for package in load_info.load_packages:
        for job in package.jobs.get("completed_jobs", []):
            info = job.job_file_info
            if info.table_name in data_tables and info.file_format in ("insert_values", "csv", "jsonl"):
                raise IngestError(
                    f"table {info.table_name!r} was loaded as {info.file_format}, not parquet: "
                    "the fast path is not active (is adbc-driver-postgresql importable?)"
                )


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
    if isinstance(source, WebhookSource):
        return SourceResult(
            source=source_name,
            kind=source.kind,
            ok=True,
            skipped=True,
            warnings=["webhook sources are pushed (land_events), not pulled"],
        )
    marts = database_url()
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()
    with _source_lock(source_name), connect(marts, autocommit=True) as conn:
        try:
            result = _land(source, progress, marts, conn)
        except Exception as exc:
            result = SourceResult(source=source_name, kind=source.kind, ok=False)
            result.error = scrub(
                str(exc) if isinstance(exc, IngestError) else f"source {source_name!r}: {_first_line(exc)}"
            )
            result.seconds = time.perf_counter() - started
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        record_attempt(
            conn,
            source_name,
            source.kind,
            attempted_at,
            result.ok,
            result.error,
            result.rows,
            result.seconds,
            result.data_watermark,
            update_watermark=result.ok and result.data_watermark is not None,
        )
    if progress:
        progress(
            f"{source_name}: {'ok' if result.ok else 'FAILED'} — {result.rows} rows in {result.seconds:.1f}s"
            + (f" — {result.error}" if result.error else "")
        )
    return result


def run_all(
    names: Sequence[str] | None = None,
    *,
    sources: dict[str, AnySource] | None = None,
    progress: Progress | None = None,
) -> list[SourceResult]:
    """Land every pull source (or the named ones), serially; each failure is recorded and others go on."""
    config = sources if sources is not None else load_sources()
    targets = (
        list(names)
        if names is not None
        else [n for n, s in config.items() if not isinstance(s, WebhookSource)]
    )
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
    import dlt

    config = sources if sources is not None else load_sources()
    spec = config.get(source)
    if spec is None:
        raise SourcesConfigError(f"no source {source!r} in sources.toml")
    if not isinstance(spec, WebhookSource):
        raise SourcesConfigError(f"source {source!r} is {spec.kind}, not webhook: it cannot receive events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError(f"source {source!r}: events must be a list of JSON objects")
    (table,) = resolved_tables(spec)
    marts = database_url()
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()
    result = LandResult(source=source, table=table.name, rows=0, seconds=0.0)
    with _source_lock(source), connect(marts, autocommit=True) as conn:
        pipeline = _pipeline(source, marts, conn)
        try:
            fresh = not _has_rows(conn, source, table.name)
            mode = "append" if table.write_disposition == "merge" and fresh else table.write_disposition
            resource = dlt.resource(
                events,
                name=table.name,
                write_disposition=mode,
                primary_key=table.primary_key or None,  # type: ignore[arg-type]
            )
            info = pipeline.run(resource)
            result.load_id = info.loads_ids[-1] if info.loads_ids else None
            norm = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
            result.rows = int(norm.row_counts.get(table.name, 0)) if norm else len(events)
        except Exception as exc:
            _abort(pipeline)
            result.error = scrub(f"source {source!r} table {table.name!r}: {_first_line(exc)}")
        result.seconds = time.perf_counter() - started
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        apply_indexes(conn, source, [table]) if result.ok else None
        watermark = compute_watermark(conn, source, [table]) if result.ok else None
        record_attempt(
            conn,
            source,
            "webhook",
            attempted_at,
            result.ok,
            result.error,
            result.rows,
            result.seconds,
            watermark,
            update_watermark=watermark is not None,
        )
    return result
