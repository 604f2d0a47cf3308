"""The dlt side of ingest: process-wide knobs, one pipeline per source with its working folder under
HEARTBEAT_HOME, a cross-process lock per source, and the clean-ups around a load."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from heartbeat_core import clock
from heartbeat_core.ingest.errors import IngestError
from heartbeat_core.ingest.store import Marts
from heartbeat_core.settings import get_settings

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


def dlt_env() -> None:
    for key, value in _DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    # dlt warns about hint merges and schema hashes on every run; errors still surface as exceptions
    logging.getLogger("dlt").setLevel(logging.ERROR)


def warm_up() -> None:
    """Import dlt and the backends once (about a second on a small machine), e.g. at server start,
    so the first ingest of a long-lived process does not pay for it."""
    dlt_env()
    import connectorx  # noqa: F401
    import dlt  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from dlt.destinations.impl.postgres import postgres  # noqa: F401
    from dlt.sources.filesystem import filesystem  # noqa: F401
    from dlt.sources.rest_api import rest_api_resources  # noqa: F401
    from dlt.sources.sql_database import sql_database  # noqa: F401


def pipelines_dir() -> Path:
    path = get_settings().home / "dlt"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pipeline_workdir(source: str) -> Path:
    return pipelines_dir() / f"heartbeat_{source}"


@contextlib.contextmanager
def source_lock(source: str) -> Iterator[None]:
    """One ingest of a source at a time, across processes (the web server, cron, MCP)."""
    lock_path = pipelines_dir() / f"{source}.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_pipeline(source: str, marts: Marts) -> Any:
    """The source's dlt pipeline, loading into `marts` (Postgres, or the warehouse engine). The marts are the
    truth: if the dataset has no dlt state there (a new marts database or engine file), local working state
    (and any staging) is wiped so incremental cursors start over."""
    import dlt

    dlt_env()
    workdir = pipeline_workdir(source)
    if not marts.has_state(source):
        if workdir.exists():
            shutil.rmtree(workdir, ignore_errors=True)
        marts.discard(source)
    return dlt.pipeline(  # type: ignore[call-overload]  # dlt's overloads do not cover progress=None
        pipeline_name=workdir.name,
        pipelines_dir=str(pipelines_dir()),
        destination=marts.destination(source),
        dataset_name=marts.dataset_name(source),
        progress=None,
    )


def reset_resource_state(pipeline: Any, names: Sequence[str]) -> None:
    """Forget incremental state of tables that are missing or empty in the marts (so they reload in full)."""
    if not names:
        return
    with pipeline.managed_state() as state:
        for section in state.get("sources", {}).values():
            resources = section.get("resources", {})
            for name in names:
                resources.pop(name, None)


def drop_empty_parquet(pipeline: Any) -> None:
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


def abort(pipeline: Any) -> None:
    """After a failure: no half-done package is retried later; marts state is restored next run."""
    with contextlib.suppress(Exception):
        pipeline.drop()
    with contextlib.suppress(Exception):
        shutil.rmtree(Path(pipelines_dir()) / pipeline.pipeline_name, ignore_errors=True)


def run_resource(tables: int, failed: int) -> Any:
    """One row per run, so every successful run is a completed load in `_dlt_loads` even when no
    source row changed (freshness then rests on the data watermark)."""
    import dlt

    row = {"run_at": clock.now(), "tables": tables, "failed_tables": failed}
    return dlt.resource([row], name=RUN_TABLE, write_disposition="append")


def check_formats(load_info: Any, data_tables: set[str]) -> None:
    """The parquet fast path really ran: no data table went through a slow text format."""
    for package in load_info.load_packages:
        for job in package.jobs.get("completed_jobs", []):
            info = job.job_file_info
            if info.table_name in data_tables and info.file_format in ("insert_values", "csv", "jsonl"):
                raise IngestError(
                    f"table {info.table_name!r} was loaded as {info.file_format}, not parquet: "
                    "the fast path is not active (is adbc-driver-postgresql importable?)"
                )
