"""Where the landed tables live, as ingest asks about them: one small interface, two kinds of place.

Ingest needs the same few answers whatever holds the marts — does a table exist, has it rows, where does a
cursor stand (resume, watermark), drop a half-landed table, which dlt destination loads there, and whether the
dataset holds dlt's state. `PostgresMarts` answers them from the read-model Postgres (today's behaviour, the
only one when `HEARTBEAT_WAREHOUSE_URL` is unset); `heartbeat_core.warehouse.marts` answers them from the
warehouse engine, which then receives each source straight from dlt, with no copy in Postgres.

    marts = open_marts(conn)      # PostgresMarts, or the configured engine's
    marts.has_rows("webbank", "payment")
    marts.destination("webbank") # what the source's dlt pipeline loads into
    marts.after_load(...)         # chDB: the staged parquet files into its MergeTree tables
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from heartbeat_core.ingest import indexes
from heartbeat_core.ingest import marts as pg
from heartbeat_core.ingest.config import ResolvedTable
from heartbeat_core.ingest.connections import libpq_url


class Marts(ABC):
    """What ingest asks of the place that holds the landed tables (one schema/database per source)."""

    label: str = "postgres"  # postgres | duckdb | chdb | clickhouse: said in the ingest report line
    file_format: str | None = None  # a loader file format the place needs whatever the connector says

    @abstractmethod
    def table_exists(self, schema: str, table: str) -> bool: ...

    @abstractmethod
    def has_rows(self, schema: str, table: str) -> bool: ...

    @abstractmethod
    def max_value(self, schema: str, table: str, column: str) -> Any:
        """The newest value of `column` landed in the table; None when there is none or it cannot be read."""

    @abstractmethod
    def drop_table(self, schema: str, table: str) -> None: ...

    @abstractmethod
    def destination(self, schema: str) -> Any:
        """The dlt destination a source's pipeline loads into."""

    def dataset_name(self, schema: str) -> str | None:
        """The source's dlt dataset (its schema; None where the destination has one database per source)."""
        return schema

    @abstractmethod
    def drop_dataset(self, schema: str) -> None:
        """Forget a source's landed tables and dlt's state for it (a rebuilt demo world reloads in full)."""

    def has_state(self, schema: str) -> bool:
        """Whether the dataset holds dlt's state (else local working state is stale and is wiped)."""
        return self.table_exists(schema, "_dlt_pipeline_state")

    def apply_indexes(self, schema: str, tables: Sequence[ResolvedTable]) -> list[str]:
        """The post-ingest indexes of `sources.toml`; returns a warning per index that could not be built."""
        return []

    def notes(self) -> list[str]:
        """What this place does differently from the Postgres marts, for the ingest report line."""
        return []

    def after_load(
        self,
        pipeline: Any,
        schema: str,
        tables: Sequence[ResolvedTable],
        modes: Mapping[str, str],
        load_ids: Sequence[str],
    ) -> None:
        """After dlt loaded: anything the place needs beyond dlt's own load (nothing by default)."""
        return None

    def discard(self, schema: str) -> None:
        """After a failed load: drop whatever staging state would let a later run skip rows."""
        return None

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Release connections and files."""


class PostgresMarts(Marts):
    """The marts in the read-model Postgres: today's behaviour, questions asked on ingest's own connection."""

    def __init__(self, conn: psycopg.Connection[Any], url: str):
        self.conn, self.url = conn, url

    def table_exists(self, schema: str, table: str) -> bool:
        return pg.table_exists(self.conn, schema, table)

    def has_rows(self, schema: str, table: str) -> bool:
        return pg.has_rows(self.conn, schema, table)

    def max_value(self, schema: str, table: str, column: str) -> Any:
        if not self.table_exists(schema, table):
            return None
        return pg.max_cursor(self.conn, schema, table, column)

    def drop_table(self, schema: str, table: str) -> None:
        pg.drop_table(self.conn, schema, table)

    def drop_dataset(self, schema: str) -> None:
        self.conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    def destination(self, schema: str) -> Any:
        import dlt
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        creds = PostgresCredentials()
        creds.parse_native_representation(libpq_url(self.url))
        if creds.password is None:
            creds.password = ""
        return dlt.destinations.postgres(credentials=creds)

    def apply_indexes(self, schema: str, tables: Sequence[ResolvedTable]) -> list[str]:
        return indexes.apply_indexes(self.conn, schema, tables)


def open_marts(conn: psycopg.Connection[Any], url: str) -> Marts:
    """The configured warehouse's marts when `HEARTBEAT_WAREHOUSE_URL` is set, else the Postgres marts
    behind `url` (the read-model database, on `conn`)."""
    from heartbeat_core.warehouse import current

    config = current.configured()
    if config is None:
        return PostgresMarts(conn, url)
    from heartbeat_core.warehouse.marts import engine_marts

    return engine_marts(config)
