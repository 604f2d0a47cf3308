"""dlt resources per source kind: postgres (sql_table, connectorx + arrow stream), rest (rest_api),
files (filesystem + a strict reader). Each builder returns one resource per table, or raises an
`IngestError` naming the source and the table."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from heartbeat_core.ingest.config import (
    FilesSource,
    FilesTable,
    PostgresSource,
    PostgresTable,
    ResolvedTable,
    RestSource,
    RestTable,
)


class IngestError(RuntimeError):
    """One source or table failed; the message names it and carries no secrets."""


def _incremental(table: ResolvedTable, **kwargs: Any) -> Any:
    if not table.cursor:
        return None
    return dlt.sources.incremental(table.cursor, **kwargs)


# ---------------------------------------------------------------- postgres


def _incremental_args(table: ResolvedTable, resume_from: Any) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if resume_from is not None:
        args["initial_value"] = resume_from
    # a cursor that is the primary key (an append-only log's id) is unique: strictly greater is exact,
    # and needs no boundary bookkeeping to avoid landing the last row twice
    if table.cursor and table.primary_key == [table.cursor]:
        args["range_start"] = "open"
    return args


def sql_engine(url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(url, pool_pre_ping=False, connect_args={"connect_timeout": 5})


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
    dispositions: Mapping[str, str],
    resume_from: Mapping[str, Any],
) -> dict[str, DltResource]:
    """Source tables as dlt resources, reflected in one pass: connectorx streams arrow batches of
    `chunk_size` rows (bounded memory), incremental on the cursor, hints per table."""
    from dlt.sources.sql_database import sql_database

    by_source_name: dict[str, ResolvedTable] = {}
    for table in tables:
        spec = table.spec if isinstance(table.spec, PostgresTable) else None
        by_source_name[(spec.source_table if spec else None) or table.name] = table
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
            primary_key=table.primary_key or None,  # type: ignore[arg-type]
            write_disposition=dispositions[table.name],  # type: ignore[arg-type]
            incremental=_incremental(table, **_incremental_args(table, resume_from.get(table.name))),
        )
        if source_table != table.name:
            resource.apply_hints(table_name=table.name)
        resource.add_map(_widen_int16)
        out[table.name] = resource
    return out


# ---------------------------------------------------------------- rest


class NextPagePaginator:
    """`{"items": [...], "page": N, "next_page": N+1 | null}`: follow `next_page` until it is null."""

    def __new__(cls, page_param: str, next_page_path: str) -> Any:
        from dlt.sources.helpers.rest_client.paginators import BasePaginator

        class _Paginator(BasePaginator):
            def __init__(self) -> None:
                super().__init__()
                self.next_page: Any = None

            def init_request(self, request: Any) -> None:
                self._has_next_page = True
                self.next_page = None

            def update_state(self, response: Any, data: list[Any] | None = None) -> None:
                try:
                    body = response.json()
                except ValueError as exc:
                    raise IngestError(f"response is not valid JSON: {exc}") from None
                value = body.get(next_page_path) if isinstance(body, dict) else None
                self.next_page = value
                self._has_next_page = value is not None

            def update_request(self, request: Any) -> None:
                if request.params is None:
                    request.params = {}
                request.params[page_param] = self.next_page

        return _Paginator()


def rest_resources(
    source: RestSource,
    tables: list[ResolvedTable],
    base_url: str,
    token: str | None,
    dispositions: Mapping[str, str],
) -> dict[str, DltResource]:
    from dlt.sources.helpers import requests as dlt_requests
    from dlt.sources.rest_api import rest_api_resources

    client = dlt_requests.Client(
        request_timeout=source.timeout_s,
        request_max_attempts=source.max_attempts,
        request_backoff_factor=0.2,
        request_max_retry_delay=2,
        raise_for_status=True,
    )
    out: dict[str, DltResource] = {}
    for table in tables:
        spec = table.spec
        assert isinstance(spec, RestTable)
        params: dict[str, Any] = dict(spec.params)
        if source.per_page_param:
            params.setdefault(source.per_page_param, source.per_page)
        params.setdefault(source.page_param, 1)
        if spec.since_param and table.cursor:
            params[spec.since_param] = {
                "type": "incremental",
                "cursor_path": table.cursor,
                "initial_value": spec.initial_since,
            }
        client_cfg: dict[str, Any] = {
            "base_url": base_url,
            "paginator": NextPagePaginator(source.page_param, source.next_page_path),
            "session": client.session,
        }
        if token:
            client_cfg["auth"] = {"type": "bearer", "token": token}
        resource_cfg: dict[str, Any] = {
            "name": table.name,
            "write_disposition": dispositions[table.name],
            "endpoint": {"path": spec.path, "params": params, "data_selector": spec.data_selector},
        }
        if table.primary_key:
            resource_cfg["primary_key"] = table.primary_key
        config: Any = {"client": client_cfg, "resources": [resource_cfg]}
        (resource,) = rest_api_resources(config)
        out[table.name] = resource
    return out


# ---------------------------------------------------------------- files


def _convert(value: str, kind: str) -> Any:
    if value == "":
        return None
    if kind == "text":
        return value
    if kind == "bigint":
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "decimal":
        try:
            return Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal: {value!r}") from None
    if kind == "bool":
        low = value.strip().lower()
        if low in ("true", "t", "1", "yes", "y"):
            return True
        if low in ("false", "f", "0", "no", "n"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if kind == "date":
        return date.fromisoformat(value.strip())
    if kind == "timestamp":
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if kind == "json":
        return json.loads(value)
    raise ValueError(f"unknown column type {kind}")


_DLT_TYPES = {
    "text": "text",
    "bigint": "bigint",
    "double": "double",
    "decimal": "decimal",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "json": "json",
}


def _rows_from_text(
    text: str, fmt: str, file_name: str, spec: FilesTable, source: str, table: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def bad(line: int, why: str) -> IngestError:
        return IngestError(f"source {source!r} table {table!r}: {file_name} line {line}: {why}")

    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise bad(n, f"not valid JSON ({exc})") from None
            if not isinstance(item, dict):
                raise bad(n, "expected a JSON object")
            row = {str(k).strip().lower(): v for k, v in item.items()}
            for col, kind in spec.columns.items():
                if isinstance(row.get(col), str):
                    try:
                        row[col] = _convert(row[col], kind)
                    except ValueError as exc:
                        raise bad(n, f"column {col}: {exc}") from None
            rows.append(row)
        return rows
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return rows
    except csv.Error as exc:
        raise bad(1, f"malformed CSV ({exc})") from None
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise bad(1, "the header has empty or repeated column names")
    missing = [c for c in spec.columns if c not in names]
    if missing:
        raise bad(1, f"missing column(s) {', '.join(missing)}")
    try:
        for record in reader:
            line_no = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != len(names):
                raise bad(line_no, f"expected {len(names)} fields, got {len(record)}")
            parsed: dict[str, Any] = {}
            for name, raw in zip(names, record, strict=True):
                kind = spec.columns.get(name, "text")
                try:
                    parsed[name] = _convert(raw, kind)
                except (ValueError, TypeError) as exc:
                    raise bad(line_no, f"column {name}: {exc}") from None
            rows.append(parsed)
    except csv.Error as exc:
        raise bad(reader.line_num, f"malformed CSV ({exc})") from None
    return rows


def files_resource(source: FilesSource, table: ResolvedTable, disposition: str) -> DltResource:
    """Files matching the table's glob, newer than the last run (modification time), parsed strictly:
    a malformed row fails the whole table with the file and line, so nothing partial lands."""
    from dlt.sources.filesystem import filesystem

    spec = table.spec
    assert isinstance(spec, FilesTable)
    folder = source.folder
    if not folder.is_dir():
        raise IngestError(f"source {source.name!r} table {table.name!r}: folder {folder} does not exist")
    listing = filesystem(bucket_url=folder.as_uri(), file_glob=spec.glob)
    listing.apply_hints(incremental=dlt.sources.incremental("modification_date"))
    source_name = source.name
    table_name = table.name

    @dlt.transformer(name=table.name)
    def read(items: list[Any]) -> Iterator[list[dict[str, Any]]]:
        for item in sorted(items, key=lambda i: i["file_name"]):
            with item.open(mode="rb") as handle:
                raw = handle.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise IngestError(
                    f"source {source_name!r} table {table_name!r}: {item['file_name']} is not UTF-8 text"
                ) from None
            rows = _rows_from_text(text, spec.format, item["file_name"], spec, source_name, table_name)
            if rows:
                yield rows

    resource = listing | read
    columns = {name: {"data_type": _DLT_TYPES[kind], "nullable": True} for name, kind in spec.columns.items()}
    for key in table.primary_key:
        columns.setdefault(key, {})
        columns[key]["nullable"] = False
    resource.apply_hints(
        table_name=table.name,
        primary_key=table.primary_key or None,
        write_disposition=disposition,  # type: ignore[arg-type]
        columns=columns,  # type: ignore[arg-type]
    )
    return resource
