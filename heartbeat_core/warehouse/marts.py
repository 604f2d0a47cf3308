"""Ingest straight into the warehouse engine: the `Marts` of DuckDB, chDB and a ClickHouse server.

In warehouse mode each source's dlt pipeline loads into the engine itself; the Postgres marts hold no copy.
- DuckDB: dlt's `duckdb` destination is the pipeline's destination; merge, append, replace and incremental
  cursors are dlt's own, `_dlt_loads` and `_dlt_pipeline_state` live in the file. Questions are asked on
  short-lived read-write connections (a DuckDB file takes one writer per process: the read-only engine of
  metric SQL is released first, `current.release()`).
- chDB: dlt has no in-process ClickHouse destination. The pipeline loads into dlt's `filesystem` destination
  (parquet, under `HEARTBEAT_HOME/warehouse/staging/`), which keeps dlt's state; `after_load` then moves this
  load's parquet files into chDB MergeTree tables (append: INSERT; merge: the batch's keys deleted, then
  INSERT; replace: CREATE OR REPLACE), records the load in `<source>._dlt_loads` there (freshness reads it) and
  deletes the staged data files. Staging holds one load's files at a time, never a copy of the marts.
- a ClickHouse server: dlt's `clickhouse` destination, one database per source (dataset name empty, so
  metric SQL's `source.table` is `database.table`); untested here (no ClickHouse server >= 20.1 on this machine).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa

from heartbeat_core import clock
from heartbeat_core.ingest.config import ResolvedTable
from heartbeat_core.ingest.store import Marts
from heartbeat_core.settings import get_settings
from heartbeat_core.warehouse.config import WarehouseConfig, WarehouseError, require_runnable
from heartbeat_core.warehouse.transpile import quoted

INDEX_NOTE = "post-ingest Postgres indexes skipped: the marts live in {engine} (ordered by their time column)"


def engine_marts(config: WarehouseConfig) -> Marts:
    """The `Marts` of the configured warehouse."""
    require_runnable(config)
    if config.scheme == "duckdb":
        return DuckDBMarts(config)
    if config.scheme == "chdb":
        return ChDBMarts(config)
    return ClickHouseServerMarts(config)


class DuckDBMarts(Marts):
    label = "duckdb"

    def __init__(self, config: WarehouseConfig):
        from heartbeat_core.warehouse import current

        assert config.path is not None
        current.release()  # the read-only engine of metric SQL lets go of the file: one writer per process
        self.path = config.path
        self._db: Any = None  # one read-write connection for the questions and for dlt's load (opening a
        # file per question cost 3 s of a quiet run at scale 10)

    def _open(self) -> Any:
        import duckdb

        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = duckdb.connect(str(self.path))
        return self._db

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        """A cursor on the marts' connection; None while there is no file (asking creates none)."""
        if self._db is None and not self.path.exists():
            yield None
            return
        cursor = self._open().cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def table_exists(self, schema: str, table: str) -> bool:
        with self._conn() as conn:
            if conn is None:
                return False
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            ).fetchone()
            return bool(row and row[0])

    def has_rows(self, schema: str, table: str) -> bool:
        if not self.table_exists(schema, table):
            return False
        with self._conn() as conn:
            row = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted(schema)}.{quoted(table)})").fetchone()
            return bool(row and row[0])

    def max_value(self, schema: str, table: str, column: str) -> Any:
        import duckdb

        if not self.table_exists(schema, table):
            return None
        with self._conn() as conn:
            try:
                row = conn.execute(
                    f"SELECT max({quoted(column)}) FROM {quoted(schema)}.{quoted(table)}"
                ).fetchone()
            except duckdb.Error:
                return None
            return row[0] if row else None

    def drop_table(self, schema: str, table: str) -> None:
        with self._conn() as conn:
            if conn is not None:
                conn.execute(f"DROP TABLE IF EXISTS {quoted(schema)}.{quoted(table)}")

    def drop_dataset(self, schema: str) -> None:
        with self._conn() as conn:
            if conn is not None:
                conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")

    def destination(self, schema: str) -> Any:
        import dlt

        return dlt.destinations.duckdb(self._open())  # dlt borrows the connection and leaves it open

    def notes(self) -> list[str]:
        return [INDEX_NOTE.format(engine="DuckDB")]


def _b(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChDBMarts(Marts):
    label = "chdb"
    file_format = "parquet"  # the staged files chDB reads, whatever the connector would write

    def __init__(self, config: WarehouseConfig):
        assert config.path is not None
        self.path = config.path
        self.staging = get_settings().home / "warehouse" / "staging" / "chdb"

    def _run(self, sql: str, batch: pa.Table | None = None) -> pa.Table:
        """One statement on the process's chDB session (serialised with metric SQL), read-write; it reads
        `batch` as `Python(batch)`."""
        from heartbeat_core.warehouse.engines import chdb_statement

        self.path.mkdir(parents=True, exist_ok=True)
        return chdb_statement(self.path, sql, batch)

    def table_exists(self, schema: str, table: str) -> bool:
        found = self._run(
            f"SELECT count() AS n FROM system.tables WHERE database = {_lit(schema)} AND name = {_lit(table)}"
        )
        return bool(found.column("n")[0].as_py())

    def has_rows(self, schema: str, table: str) -> bool:
        if not self.table_exists(schema, table):
            return False
        found = self._run(f"SELECT count() AS n FROM (SELECT 1 FROM {_b(schema)}.{_b(table)} LIMIT 1)")
        return bool(found.column("n")[0].as_py())

    def max_value(self, schema: str, table: str, column: str) -> Any:
        if not self.table_exists(schema, table):
            return None
        try:
            found = self._run(
                f"SELECT max({_b(column)}) AS m FROM {_b(schema)}.{_b(table)} "
                "SETTINGS aggregate_functions_null_for_empty = 1"
            )
        except Exception:  # a column that is not there: no cursor to resume from
            return None
        return found.column("m")[0].as_py()

    def drop_table(self, schema: str, table: str) -> None:
        self._run(f"DROP TABLE IF EXISTS {_b(schema)}.{_b(table)}")

    def drop_dataset(self, schema: str) -> None:
        self._run(f"DROP DATABASE IF EXISTS {_b(schema)}")
        self.discard(schema)

    def has_state(self, schema: str) -> bool:
        """The engine holds the source (its `_dlt_loads`) and the staging keeps dlt's state for it."""
        return self.table_exists(schema, "_dlt_loads") and (self.staging / schema).is_dir()

    def destination(self, schema: str) -> Any:
        import dlt

        self.staging.mkdir(parents=True, exist_ok=True)
        # replace: the staged table's files are swapped whole; merge falls back to append there (dlt merges
        # on files only as delta/iceberg tables), and `after_load` merges on the key inside chDB
        return dlt.destinations.filesystem(
            bucket_url=self.staging.as_uri(), replace_strategy="truncate-and-insert"
        )

    def notes(self) -> list[str]:
        return [INDEX_NOTE.format(engine="ClickHouse (chDB)")]

    def discard(self, schema: str) -> None:
        """A failed move into chDB: the staged state would let the next run skip the rows chDB lacks."""
        shutil.rmtree(self.staging / schema, ignore_errors=True)

    def after_load(
        self,
        pipeline: Any,
        schema: str,
        tables: Sequence[ResolvedTable],
        modes: Mapping[str, str],
        load_ids: Sequence[str],
    ) -> None:
        """This load's staged parquet files into chDB, table by table, then the load into `_dlt_loads`."""
        from heartbeat_core.warehouse.land import sort_keys

        keys = sort_keys([schema])
        self._run(f"CREATE DATABASE IF NOT EXISTS {_b(schema)}")
        moved: list[Path] = []
        for table in tables:
            files = [  # in the order dlt wrote them (its file ids are random)
                f
                for load_id in load_ids
                for f in sorted(
                    (self.staging / schema / table.name).glob(f"{load_id}.*.parquet"),
                    key=lambda f: f.stat().st_mtime_ns,
                )
            ]
            order = keys.get((schema, table.name)) or table.primary_key
            mode = modes.get(table.name, table.write_disposition)
            exists = self.table_exists(schema, table.name)  # asked once: the first file creates it
            for path in files:  # file by file (dlt's bounded parquet files): memory stays flat at any size;
                # a key in two files of one load ends with the later file's row
                self._move(schema, table, mode, _read_parquet(path), order, exists)
                mode = "append" if mode == "replace" else mode  # replace: the first file swaps the table
                exists = True
                moved.append(path)
        for load_id in load_ids:
            self._record_load(schema, load_id)
            # what chDB does not take (the run table, dlt's child tables): this load's files go all the same
            moved.extend(f for f in (self.staging / schema).glob(f"[!_]*/{load_id}.*") if f.is_file())
        for path in moved:
            path.unlink(missing_ok=True)

    def _move(
        self, schema: str, table: ResolvedTable, mode: str, batch: pa.Table, order: list[str], exists: bool
    ) -> None:
        target = f"{_b(schema)}.{_b(table.name)}"
        key = ", ".join(_b(c) for c in order if c in batch.column_names) or "tuple()"
        create = f"ENGINE = MergeTree ORDER BY ({key}) SETTINGS allow_nullable_key = 1"
        if mode == "replace" or not exists:
            self._run(f"CREATE OR REPLACE TABLE {target} {create} AS SELECT * FROM Python(batch)", batch)
            return
        self._add_new_columns(schema, table.name, batch)
        columns = ", ".join(_b(c) for c in batch.column_names)
        if mode != "merge" or not table.primary_key:
            self._run(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM Python(batch)", batch)
            return
        batch = _last_per_key(batch, table.primary_key)
        staged = f"{_b(schema)}.{_b(table.name + '__heartbeat_batch')}"
        pk = ", ".join(_b(c) for c in table.primary_key)
        self._run(f"DROP TABLE IF EXISTS {staged}")
        self._run(f"CREATE TABLE {staged} {create} AS SELECT * FROM Python(batch)", batch)
        try:  # dlt's delete-insert merge: the batch's keys leave, the batch comes in
            self._run(f"DELETE FROM {target} WHERE ({pk}) IN (SELECT {pk} FROM {staged})")
            self._run(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staged}")
        finally:
            self._run(f"DROP TABLE IF EXISTS {staged}")

    def _add_new_columns(self, schema: str, table: str, batch: pa.Table) -> None:
        """A column the source gained (dlt evolves its schema): added to the chDB table before the insert."""
        found = self._run(
            f"SELECT name FROM system.columns WHERE database = {_lit(schema)} AND table = {_lit(table)}"
        )
        have = set(found.column("name").to_pylist())
        new = [c for c in batch.column_names if c not in have]
        if not new:
            return
        probe = batch.select(new).slice(0, 0)
        described = self._run("DESCRIBE TABLE (SELECT * FROM Python(batch))", probe)
        for name, kind in zip(
            described.column("name").to_pylist(), described.column("type").to_pylist(), strict=True
        ):
            self._run(f"ALTER TABLE {_b(schema)}.{_b(table)} ADD COLUMN IF NOT EXISTS {_b(name)} {kind}")

    def _record_load(self, schema: str, load_id: str) -> None:
        """The load in the engine's own `_dlt_loads`, as dlt writes it elsewhere: freshness reads it."""
        self._run(
            f"CREATE TABLE IF NOT EXISTS {_b(schema)}.`_dlt_loads` (load_id String, schema_name String, "
            "status Int64, inserted_at DateTime64(6, 'UTC'), schema_version_hash String) "
            "ENGINE = MergeTree ORDER BY inserted_at"
        )
        at = clock.now().isoformat(sep=" ", timespec="microseconds")[:26]
        self._run(
            f"INSERT INTO {_b(schema)}.`_dlt_loads` VALUES "
            f"({_lit(load_id)}, {_lit(schema)}, 0, toDateTime64({_lit(at)}, 6, 'UTC'), '')"
        )


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _last_per_key(batch: pa.Table, key: Sequence[str]) -> pa.Table:
    """One row per primary key, the last one landed (dlt's merge keeps one row per key too)."""
    if not all(c in batch.column_names for c in key):
        return batch
    numbered = batch.append_column("__heartbeat_row", pa.array(range(batch.num_rows), pa.int64()))
    last = numbered.group_by(list(key)).aggregate([("__heartbeat_row", "max")])
    if last.num_rows == batch.num_rows:
        return batch
    keep = sorted(last.column("__heartbeat_row_max").to_pylist())
    return batch.take(pa.array(keep, pa.int64()))


class ClickHouseServerMarts(Marts):
    """A ClickHouse server through dlt's `clickhouse` destination: one database per source. Untested here."""

    label = "clickhouse"

    def __init__(self, config: WarehouseConfig):
        self.config = config

    def _engine(self) -> Any:
        from heartbeat_core.warehouse.engines import open_engine

        return open_engine(self.config)

    def _ask(self, sql: str) -> Any:
        engine = self._engine()
        try:
            result = engine.query(sql, timeout_s=get_settings().metric_statement_timeout_s, timezone="UTC")
        finally:
            engine.close()
        return result.rows[0][0] if result.rows else None

    def table_exists(self, schema: str, table: str) -> bool:
        return bool(
            self._ask(
                f"SELECT count() FROM system.tables WHERE database = {_lit(schema)} AND name = {_lit(table)}"
            )
        )

    def has_rows(self, schema: str, table: str) -> bool:
        return self.table_exists(schema, table) and bool(
            self._ask(f"SELECT count() FROM (SELECT 1 FROM {_b(schema)}.{_b(table)} LIMIT 1)")
        )

    def max_value(self, schema: str, table: str, column: str) -> Any:
        if not self.table_exists(schema, table):
            return None
        return self._ask(f"SELECT max({_b(column)}) FROM {_b(schema)}.{_b(table)}")

    def drop_table(self, schema: str, table: str) -> None:
        import clickhouse_connect

        client = clickhouse_connect.get_client(dsn=self.config.url)
        try:
            client.command(f"DROP TABLE IF EXISTS {_b(schema)}.{_b(table)}")
        finally:
            client.close()

    def drop_dataset(self, schema: str) -> None:
        import clickhouse_connect

        client = clickhouse_connect.get_client(dsn=self.config.url)
        try:  # the source's own database: its tables and dlt's state tables
            for (name,) in client.query(f"SHOW TABLES FROM {_b(schema)}").result_rows:
                client.command(f"DROP TABLE IF EXISTS {_b(schema)}.{_b(name)}")
        finally:
            client.close()

    def dataset_name(self, schema: str) -> str | None:
        return None  # the source's own database holds its tables (no `dataset___table` prefix)

    def destination(self, schema: str) -> Any:
        import dlt

        return dlt.destinations.clickhouse(credentials=clickhouse_credentials(self.config.url, schema))

    def notes(self) -> list[str]:
        return [INDEX_NOTE.format(engine="ClickHouse")]


def clickhouse_credentials(url: str, database: str) -> Any:
    """`clickhouse://user:password@host:8123/db?secure=0&native_port=9000` as dlt's ClickHouse credentials for
    one source's database. The URL's port is the HTTP port (what clickhouse-connect and dlt's file loads use);
    dlt's SQL client speaks the native protocol: `native_port` (default 9000, 9440 with `secure=1`)."""
    from dlt.destinations.impl.clickhouse.configuration import ClickHouseCredentials

    parts = urlsplit(url)
    if not parts.hostname:
        raise WarehouseError(
            f"HEARTBEAT_WAREHOUSE_URL={url!r}: no host; expected clickhouse://user:password@host:8123/db"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    secure = int(query.get("secure", "1" if parts.port == 8443 else "0"))
    creds = ClickHouseCredentials()
    creds.host = parts.hostname
    creds.http_port = parts.port or (8443 if secure else 8123)
    creds.port = int(query.get("native_port", "9440" if secure else "9000"))
    creds.username = unquote(parts.username) if parts.username else "default"
    creds.password = unquote(parts.password) if parts.password else ""
    creds.database = database
    creds.secure = 1 if secure else 0
    return creds
