"""Postgres sources: dlt's sql_database with connectorx streaming arrow batches, landed as parquet by
ADBC (binary COPY). The only kind with change detection (a quiet table costs one cheap query) and
with resuming from marts when local dlt state is lost."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
import psycopg

from heartbeat_core.ingest.changes import detect_changes, incremental_state, load_saved, save_after_load
from heartbeat_core.ingest.config import PostgresSource, PostgresTable, ResolvedTable, WriteDisposition
from heartbeat_core.ingest.connections import libpq_url, source_url
from heartbeat_core.ingest.connectors.base import Built, Changes, Connector
from heartbeat_core.ingest.errors import IngestError, first_line
from heartbeat_core.ingest.pipeline import pipeline_workdir
from heartbeat_core.ingest.store import Marts
from heartbeat_core.redaction import redact, url_secrets

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource


class PostgresConnector(Connector[PostgresSource]):
    kind = "postgres"
    file_format = "parquet"

    def secrets(self, source: PostgresSource) -> tuple[str, ...]:
        return url_secrets(_url(source))

    def preflight(self, source: PostgresSource) -> None:
        _assert_adbc()

    def changes(self, source: PostgresSource, tables: list[ResolvedTable], marts: Marts) -> Changes:
        saved = load_saved(pipeline_workdir(source.name)) if marts.has_state(source.name) else None
        url = _url(source)
        try:
            src = psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise IngestError(
                redact(
                    f"source {source.name!r}: cannot connect to the source database: {first_line(exc)}",
                    secrets=url_secrets(url),
                )
            ) from None
        with src:
            unchanged, prints, _ = detect_changes(
                src, source.source_schema, tables, saved or {"cursors": {}, "prints": {}}
            )
        return Changes(unchanged=unchanged if saved is not None else set(), prints=prints)

    def resume_from(
        self,
        source: PostgresSource,
        pipeline: Any,
        marts: Marts,
        tables: list[ResolvedTable],
    ) -> dict[str, Any]:
        # marts is the truth: a table with rows but no local cursor state (HEARTBEAT_HOME/dlt lost, a
        # new container) resumes from the newest cursor value landed, instead of re-landing everything
        return {
            t.name: marts.max_value(source.name, t.name, t.cursor)
            for t in tables
            if t.cursor and incremental_state(pipeline, t.name, t.cursor) is None
        }

    def build(
        self,
        source: PostgresSource,
        tables: list[ResolvedTable],
        modes: Mapping[str, WriteDisposition],
        resume_from: Mapping[str, Any],
    ) -> Built:
        import sqlalchemy as sa

        cx_url = libpq_url(_url(source))
        engine = sql_engine(cx_url.replace("postgresql://", "postgresql+psycopg2://", 1))
        built = Built(cleanup=engine.dispose)
        try:
            with engine.connect():
                pass
        except Exception as exc:
            engine.dispose()
            raise IngestError(
                f"source {source.name!r}: cannot connect to the source database: {first_line(exc)}"
            ) from None
        existing = set(sa.inspect(engine).get_table_names(schema=source.source_schema))
        present = []
        for table in tables:
            name = _source_table(table)
            if name not in existing:
                built.errors[table.name] = (
                    f"source {source.name!r} table {table.name!r}: {source.source_schema}.{name} "
                    "does not exist in the source database"
                )
            else:
                present.append(table)
        try:
            built.resources.update(postgres_resources(source, present, engine, cx_url, modes, resume_from))
        except Exception as exc:
            for table in present:
                built.errors[table.name] = f"source {source.name!r} table {table.name!r}: {first_line(exc)}"
        return built

    def after_load(
        self, pipeline: Any, landed: list[ResolvedTable], changes: Changes, failed: set[str]
    ) -> None:
        save_after_load(Path(pipeline.working_dir), pipeline, landed, changes.prints, failed)


def _url(source: PostgresSource) -> str:
    return source_url(source.name, source.connection_env, source.fallback_database)


def _source_table(table: ResolvedTable) -> str:
    spec = table.spec if isinstance(table.spec, PostgresTable) else None
    return (spec.source_table if spec else None) or table.name


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


def sql_engine(url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(url, pool_pre_ping=False, connect_args={"connect_timeout": 5})


def _incremental(table: ResolvedTable, resume_from: Any) -> Any:
    if not table.cursor:
        return None
    args: dict[str, Any] = {}
    if resume_from is not None:
        args["initial_value"] = resume_from
    # a cursor that is the primary key (an append-only log's id) is unique: strictly greater is exact,
    # and needs no boundary bookkeeping to avoid landing the last row twice
    if table.primary_key == [table.cursor]:
        args["range_start"] = "open"
    return dlt.sources.incremental(table.cursor, **args)


def _widen_smallint(sql_type: Any) -> Any:
    """smallint lands as integer: connectorx hands int16 to arrow, and ADBC's binary COPY cannot put
    int16 into the integer column dlt would create (nor dlt into a smallint one)."""
    import sqlalchemy as sa

    if isinstance(sql_type, sa.SmallInteger):
        return sa.Integer()
    return sql_type


def _widen_int16(batch: Any) -> Any:
    import pyarrow as pa

    schema = batch.schema
    if not any(pa.types.is_int16(f.type) or pa.types.is_int8(f.type) for f in schema):
        return batch
    fields = [
        f.with_type(pa.int32()) if (pa.types.is_int16(f.type) or pa.types.is_int8(f.type)) else f
        for f in schema
    ]
    return batch.cast(pa.schema(fields, metadata=schema.metadata))


def postgres_resources(
    source: PostgresSource,
    tables: list[ResolvedTable],
    engine: Any,
    cx_url: str,
    dispositions: Mapping[str, WriteDisposition],
    resume_from: Mapping[str, Any],
) -> dict[str, DltResource]:
    """Source tables as dlt resources, reflected in one pass: connectorx streams arrow batches of
    `chunk_size` rows (bounded memory), incremental on the cursor, hints per table."""
    from dlt.sources.sql_database import sql_database

    by_source_name = {_source_table(table): table for table in tables}
    if not by_source_name:
        return {}
    src = sql_database(
        credentials=engine,
        schema=source.source_schema,
        table_names=list(by_source_name),
        backend="connectorx",
        backend_kwargs={"conn": cx_url, "return_type": "arrow_stream", "batch_size": source.chunk_size},
        chunk_size=source.chunk_size,
        reflection_level="full_with_precision",
        type_adapter_callback=_widen_smallint,
    )
    out: dict[str, DltResource] = {}
    for source_table, table in by_source_name.items():
        resource = src.resources[source_table]
        resource.apply_hints(
            primary_key=table.primary_key or None,
            write_disposition=dispositions[table.name],
            incremental=_incremental(table, resume_from.get(table.name)),
        )
        if source_table != table.name:
            resource.apply_hints(table_name=table.name)
        resource.add_map(_widen_int16)
        out[table.name] = resource
    return out
