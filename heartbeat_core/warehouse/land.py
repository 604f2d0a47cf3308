"""Landing the Postgres marts into an engine for `warehouse parity`: every landed table, copied as Arrow
(ingest in warehouse mode does not come here: it lands straight into the engine, `warehouse.marts`).

- DuckDB: end to end through dlt's `duckdb` destination (one pipeline per source, dataset = the source's
  schema, `replace`), so the file holds what a dlt load holds, `_dlt_loads` included;
- chDB: dlt has no in-process chDB destination (its `clickhouse` destination talks to a server), so tables are
  copied as Arrow into MergeTree tables (`Python()` table function); the `_dlt_loads` table comes along.

Postgres `numeric(p,s)` arrives from ADBC as text and is cast to `decimal128(p,s)` (bare numeric: scale 10),
so the engines compute in exact decimals as Postgres does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from heartbeat_core.warehouse.config import WarehouseConfig, WarehouseError
from heartbeat_core.warehouse.engines import open_engine
from heartbeat_core.warehouse.transpile import DECIMAL_SCALE

_DLT_OWN = ("_dlt_pipeline_state", "_dlt_version")


@dataclass
class LandReport:
    engine: str
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def landed_tables(conn: Any, schemas: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """`(schema, table)` of every table in a schema dlt landed (one with `_dlt_loads`), dlt's bookkeeping
    tables but `_dlt_loads` left out."""
    rows = conn.execute(
        """SELECT t.table_schema, t.table_name FROM information_schema.tables t
           WHERE t.table_type = 'BASE TABLE' AND EXISTS (
               SELECT 1 FROM information_schema.tables l
               WHERE l.table_schema = t.table_schema AND l.table_name = '_dlt_loads')
           ORDER BY 1, 2"""
    ).fetchall()
    wanted = set(schemas) if schemas else None
    return [
        (s, t)
        for s, t in rows
        if t not in _DLT_OWN and (wanted is None or s in wanted) and not s.endswith("_staging")
    ]


def _numeric_type(field_: pa.Field) -> pa.DataType | None:
    meta = field_.metadata or {}
    if meta.get(b"POSTGRESQL:type") != b"numeric":
        return None
    typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1"))
    if typmod < 4:
        return pa.decimal128(38, DECIMAL_SCALE)
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return pa.decimal128(max(precision, 1), scale)


def _clean(table: pa.Table) -> pa.Table:
    """Numeric text to decimals, driver metadata dropped."""
    columns, fields = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        field_ = table.schema.field(name)
        decimal = _numeric_type(field_)
        if decimal is not None:
            storage = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
            if isinstance(column.type, pa.ExtensionType):
                storage = pa.chunked_array([c.storage for c in column.chunks], type=pa.string())
            column = storage.cast(decimal)
        columns.append(column)
        fields.append(pa.field(name, column.type))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def sort_keys(schemas: Sequence[str] | None = None) -> dict[tuple[str, str], list[str]]:
    """Per table, the columns its rows are ordered by in the engine: the first post-ingest index of
    `sources.toml` that is not the primary key (the time column metric windows filter on, e.g. `create_time`).
    A ClickHouse MergeTree prunes ranges on its sorting key and DuckDB on row-group min/max, so a 24 h window
    reads a day of parts, not the table. No sources file: no keys (tables keep their landed order)."""
    from heartbeat_core.ingest.config import load_sources, resolved_tables

    try:
        sources = load_sources()
    except Exception:  # a parity run over marts without a project still lands, unsorted
        return {}
    keys: dict[tuple[str, str], list[str]] = {}
    for name, source in sources.items():
        if schemas and name not in schemas:
            continue
        for table in resolved_tables(source):
            first = next((i for i in table.indexes if i != table.primary_key), None)
            if first:
                keys[(name, table.name)] = list(first)
    return keys


def _sorted(table: pa.Table, keys: list[str] | None) -> pa.Table:
    if not keys or not all(k in table.column_names for k in keys):
        return table
    return table.sort_by([(k, "ascending") for k in keys])


def read_tables(url: str, tables: Sequence[tuple[str, str]]) -> dict[tuple[str, str], pa.Table]:
    """Each table as Arrow through the ADBC Postgres driver (binary COPY, no per-row Python)."""
    import adbc_driver_postgresql.dbapi as adbc

    found: dict[tuple[str, str], pa.Table] = {}
    with adbc.connect(url) as conn, conn.cursor() as cur:
        for schema, table in tables:
            cur.execute(f'SELECT * FROM "{schema}"."{table}"')
            found[(schema, table)] = _clean(cur.fetch_arrow_table())
    return found


def land(
    config: WarehouseConfig, marts_url: str, conn: Any, *, schemas: Sequence[str] | None = None,
    pipelines_dir: Path,
) -> LandReport:  # fmt: skip
    """Copy the landed tables of the marts behind `conn` into the engine; returns rows per table."""
    started = time.perf_counter()
    report = LandReport(config.label)
    data = read_tables(marts_url, landed_tables(conn, schemas))
    keys = sort_keys(schemas)
    data = {name: _sorted(arrow, keys.get(name)) for name, arrow in data.items()}
    if config.scheme == "duckdb":
        try:
            _land_duckdb(config, data, pipelines_dir)
        except ImportError as exc:
            raise WarehouseError(
                f"landing into DuckDB needs it: pip install 'heartbeat[duckdb]' ({exc.name} is missing)"
            ) from None
    else:
        engine = open_engine(config, read_only=False)
        try:
            for (schema, table), arrow in data.items():
                engine.replace_table(schema, table, arrow, order_by=keys.get((schema, table)))
        finally:
            engine.close()
    report.tables = {f"{s}.{t}": a.num_rows for (s, t), a in data.items()}
    report.seconds = time.perf_counter() - started
    return report


def _land_duckdb(
    config: WarehouseConfig, data: dict[tuple[str, str], pa.Table], pipelines_dir: Path | None
) -> None:
    """One dlt pipeline per source schema into the DuckDB file, through the destination ingest uses there."""
    import dlt

    assert config.path is not None
    config.path.parent.mkdir(parents=True, exist_ok=True)
    by_schema: dict[str, list[Any]] = {}
    for (schema, table), arrow in data.items():
        if table.startswith("_dlt_"):
            continue  # dlt records its own loads in the engine
        arrow = arrow.drop_columns([c for c in arrow.column_names if c.startswith("_dlt_")])
        by_schema.setdefault(schema, []).append(
            dlt.resource([arrow], name=table, write_disposition="replace")  # one batch, the whole table
        )
    for schema, resources in by_schema.items():
        pipeline = dlt.pipeline(
            pipeline_name=f"heartbeat_warehouse_{schema}",
            destination=dlt.destinations.duckdb(str(config.path)),
            dataset_name=schema,
            pipelines_dir=str(pipelines_dir),
        )
        pipeline.run(resources)
