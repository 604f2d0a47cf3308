"""The engines: read-only, time-limited queries, and whole-table replacement for landing.

Each engine enforces the two limits compute holds on Postgres (`SET TRANSACTION READ ONLY` and
`statement_timeout`) with its own means:
- DuckDB: a read-only connection (`read_only=True`, the file cannot be written through it); DuckDB has no
  statement timeout, so a watchdog timer calls `interrupt()` on the query's cursor;
- ClickHouse (chDB in process, or a server): the settings `readonly=1` and `max_execution_time` on every
  query, with `join_use_nulls=1` and `aggregate_functions_null_for_empty=1` so that an outer join's missing
  side and an aggregate over no rows are NULL, as in Postgres, and `session_timezone` = the metric's zone.
Every engine also only ever receives one SELECT (`transpile` refuses anything else).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from heartbeat_core.warehouse.config import WarehouseConfig, WarehouseError, require_runnable


class EngineQueryError(RuntimeError):
    """The engine refused or failed a query; `timed_out` when the time limit stopped it."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class Engine(ABC):
    """What compute, landing and parity need from a warehouse engine."""

    config: WarehouseConfig

    @property
    def name(self) -> str:
        return self.config.label

    @abstractmethod
    def query(self, sql: str, *, timeout_s: float, timezone: str, limit: int | None = None) -> Result:
        """Run one read-only statement within `timeout_s`, in `timezone`."""

    @abstractmethod
    def replace_table(
        self, schema: str, table: str, data: pa.Table, order_by: list[str] | None = None
    ) -> None:
        """Create or replace `schema.table` with `data`, its rows ordered by `order_by` where the engine keys
        storage on it (ClickHouse's MergeTree sorting key)."""

    @abstractmethod
    def execute(self, sql: str, *, timeout_s: float, timezone: str) -> None:
        """Run one writing statement (a rollup refresh's DDL, DELETE or INSERT); only on an engine opened with
        `read_only=False`, never the one metric SQL runs on."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract one
        """Release the engine's files (nothing to do by default)."""


def _refuse_read_only(engine: Engine, read_only: bool) -> None:
    if read_only:
        raise WarehouseError(
            f"{engine.name}: this engine was opened read-only (metric SQL); writes need a writer"
        )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _arrow_result(table: pa.Table, limit: int | None) -> Result:
    rows = table.slice(0, limit).to_pylist() if limit is not None else table.to_pylist()
    return Result(list(table.column_names), [tuple(r.values()) for r in rows])


class DuckDBEngine(Engine):
    def __init__(self, config: WarehouseConfig, *, read_only: bool = True):
        import duckdb

        assert config.path is not None
        self.config = config
        if not read_only:
            config.path.parent.mkdir(parents=True, exist_ok=True)
        elif not config.path.exists():
            raise WarehouseError(
                f"HEARTBEAT_WAREHOUSE_URL: no DuckDB file at {config.path} (land the marts first: "
                "`heartbeat ingest` in warehouse mode, or `heartbeat warehouse parity --engine duckdb`)"
            )
        self.read_only = read_only
        self._conn = duckdb.connect(str(config.path), read_only=read_only)

    def query(self, sql: str, *, timeout_s: float, timezone: str, limit: int | None = None) -> Result:
        import duckdb

        cursor = self._conn.cursor()
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            cursor.interrupt()

        watchdog = threading.Timer(timeout_s, interrupt)
        try:
            cursor.execute("SET TimeZone = $1", [timezone])
            watchdog.start()
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit) if limit is not None else cursor.fetchall()
            return Result(columns, [tuple(r) for r in rows])
        except duckdb.Error as exc:
            if fired.is_set():
                raise EngineQueryError(f"timed out after {timeout_s:g} s", timed_out=True) from exc
            raise EngineQueryError(_first_line(exc)) from exc
        finally:
            watchdog.cancel()
            cursor.close()

    def replace_table(
        self, schema: str, table: str, data: pa.Table, order_by: list[str] | None = None
    ) -> None:
        self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self._conn.register("_heartbeat_landing", data)
        try:
            self._conn.execute(
                f'CREATE OR REPLACE TABLE "{schema}"."{table}" AS SELECT * FROM _heartbeat_landing'
            )
        finally:
            self._conn.unregister("_heartbeat_landing")

    def execute(self, sql: str, *, timeout_s: float, timezone: str) -> None:
        _refuse_read_only(self, self.read_only)
        self.query(sql, timeout_s=timeout_s, timezone=timezone, limit=0)

    def close(self) -> None:
        self._conn.close()


_CHDB_LOCK = threading.Lock()  # chDB runs one session per process; queries on it are serialised
_CHDB_SESSIONS: dict[str, Any] = {}


def clickhouse_settings(timeout_s: float, timezone: str, *, read_only: bool = True) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "max_execution_time": max(1, round(timeout_s)),
        "join_use_nulls": 1,
        "aggregate_functions_null_for_empty": 1,
        "session_timezone": timezone,
    }
    if read_only:
        settings["readonly"] = 1
    return settings


def _settings_clause(settings: dict[str, Any]) -> str:
    parts = [f"{k}='{v}'" if isinstance(v, str) else f"{k}={v}" for k, v in settings.items()]
    return " SETTINGS " + ", ".join(parts)


def _chdb_session(path: str) -> Any:
    from chdb import session as chdb_session

    if path not in _CHDB_SESSIONS:
        for other in list(_CHDB_SESSIONS):  # one session at a time: close the previous directory's
            _CHDB_SESSIONS.pop(other).close()
        _CHDB_SESSIONS[path] = chdb_session.Session(path)
    return _CHDB_SESSIONS[path]


class ChDBEngine(Engine):
    """ClickHouse in process (chDB): the real ClickHouse engine, one data directory."""

    def __init__(self, config: WarehouseConfig, *, read_only: bool = True):
        assert config.path is not None
        self.config = config
        self.read_only = read_only
        config.path.mkdir(parents=True, exist_ok=True)
        with self._session() as session:  # start it now (4–5 s cold): the open pays, not the first metric
            session.query("SELECT 1")

    @contextmanager
    def _session(self) -> Iterator[Any]:
        with _CHDB_LOCK:
            yield _chdb_session(str(self.config.path))

    def query(self, sql: str, *, timeout_s: float, timezone: str, limit: int | None = None) -> Result:
        statement = sql.rstrip().rstrip(";") + _settings_clause(clickhouse_settings(timeout_s, timezone))
        try:
            with self._session() as session:
                table = session.query(statement, "ArrowTable")
        except Exception as exc:  # chDB raises its own RuntimeError subclasses
            text = _first_line(exc)
            raise EngineQueryError(text, timed_out="TIMEOUT_EXCEEDED" in text) from exc
        return _arrow_result(table, limit)

    def replace_table(
        self, schema: str, table: str, data: pa.Table, order_by: list[str] | None = None
    ) -> None:
        landing = data  # chDB's Python() table function reads this local by name
        key = ", ".join(f"`{c}`" for c in order_by) if order_by else "tuple()"
        with self._session() as session:
            session.query(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
            session.query(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
            session.query(
                f"CREATE TABLE `{schema}`.`{table}` ENGINE = MergeTree ORDER BY ({key}) "
                "SETTINGS allow_nullable_key = 1 AS SELECT * FROM Python(landing)"
            )
        del landing

    def execute(self, sql: str, *, timeout_s: float, timezone: str) -> None:
        _refuse_read_only(self, self.read_only)
        settings = clickhouse_settings(timeout_s, timezone, read_only=False)
        statement = sql.rstrip().rstrip(";") + _settings_clause(settings)
        try:
            with self._session() as session:
                session.query(statement)
        except Exception as exc:  # chDB raises its own RuntimeError subclasses
            text = _first_line(exc)
            raise EngineQueryError(text, timed_out="TIMEOUT_EXCEEDED" in text) from exc


class ClickHouseServerEngine(Engine):
    """A ClickHouse server through clickhouse-connect (HTTP). Written to the same settings as chDB; not run
    in CI here (no server of a supported version on this machine, docs/scale-out.md)."""

    def __init__(self, config: WarehouseConfig, *, read_only: bool = True):
        try:
            import clickhouse_connect
        except ImportError:
            raise WarehouseError(
                "HEARTBEAT_WAREHOUSE_URL names a ClickHouse server: pip install clickhouse-connect"
            ) from None
        self.config = config
        self.read_only = read_only
        self._client = clickhouse_connect.get_client(dsn=config.url)

    def query(self, sql: str, *, timeout_s: float, timezone: str, limit: int | None = None) -> Result:
        try:
            table = self._client.query_arrow(sql, settings=clickhouse_settings(timeout_s, timezone))
        except Exception as exc:
            text = _first_line(exc)
            raise EngineQueryError(text, timed_out="TIMEOUT_EXCEEDED" in text) from exc
        return _arrow_result(table, limit)

    def replace_table(
        self, schema: str, table: str, data: pa.Table, order_by: list[str] | None = None
    ) -> None:
        raise WarehouseError(
            "a ClickHouse server is landed by ingest through dlt's `clickhouse` destination (warehouse.marts), "
            "not by copying tables; untested here (no ClickHouse server >= 20.1 on this machine, docs/scale-out.md)"
        )

    def execute(self, sql: str, *, timeout_s: float, timezone: str) -> None:
        _refuse_read_only(self, self.read_only)
        try:
            self._client.command(sql, settings=clickhouse_settings(timeout_s, timezone, read_only=False))
        except Exception as exc:
            raise EngineQueryError(_first_line(exc)) from exc

    def close(self) -> None:
        self._client.close()


def open_engine(config: WarehouseConfig, *, read_only: bool = True) -> Engine:
    """The engine behind a config; an engine whose package is missing says which extra to install."""
    require_runnable(config)
    try:
        if config.scheme == "duckdb":
            return DuckDBEngine(config, read_only=read_only)
        if config.scheme == "chdb":
            return ChDBEngine(config, read_only=read_only)
    except ImportError as exc:
        extra = "duckdb" if config.scheme == "duckdb" else "clickhouse"
        raise WarehouseError(
            f"HEARTBEAT_WAREHOUSE_URL names {config.label}: install it with pip install 'heartbeat[{extra}]' "
            f"({exc.name} is missing)"
        ) from None
    return ClickHouseServerEngine(config, read_only=read_only)


def chdb_statement(path: Path, sql: str, batch: pa.Table | None = None) -> pa.Table:
    """One read-write statement on the process's chDB session of `path` (ingest's writer path; metric SQL goes
    through `ChDBEngine.query`, read-only). The statement reads `batch` as `Python(batch)` (chDB's Python()
    table function finds it among this function's locals)."""
    with _CHDB_LOCK:
        session = _chdb_session(str(path))
        result = session.query(sql, "ArrowTable")
    del batch
    return result if isinstance(result, pa.Table) else pa.table({})
