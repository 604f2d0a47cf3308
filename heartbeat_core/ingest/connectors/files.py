"""Files sources: CSV or JSONL files in a folder, matched by a glob per table, listed by dlt's
filesystem source (new files only, by modification time) and parsed strictly: a malformed row fails
the whole table with the file and the line, so nothing partial lands."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import dlt

from heartbeat_core.formatting import plural
from heartbeat_core.ingest.config import FilesSource, FilesTable, ResolvedTable, WriteDisposition
from heartbeat_core.ingest.connectors.base import Built, Connector
from heartbeat_core.ingest.errors import IngestError

if TYPE_CHECKING:
    from dlt.extract.resource import DltResource

Bad = Callable[[int, str], IngestError]


class FilesConnector(Connector[FilesSource]):
    kind = "files"

    def build(
        self,
        source: FilesSource,
        tables: list[ResolvedTable],
        modes: Mapping[str, WriteDisposition],
        resume_from: Mapping[str, Any],
    ) -> Built:
        built = Built()
        for table in tables:
            try:
                built.resources[table.name] = files_resource(source, table, modes[table.name])
            except IngestError as exc:
                built.errors[table.name] = str(exc)
        return built


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in ("true", "t", "1", "yes", "y"):
        return True
    if low in ("false", "f", "0", "no", "n"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# One parser per declared column type of a file source.
_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "bigint": int,
    "double": float,
    "decimal": _decimal,
    "bool": _bool,
    "date": lambda v: date.fromisoformat(v.strip()),
    "timestamp": _timestamp,
    "json": json.loads,
}


def _convert(value: str, kind: str) -> Any:
    """A CSV cell as its declared type; an empty cell is NULL."""
    if value == "":
        return None
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise ValueError(f"unknown column type {kind}")
    return converter(value)


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


def _jsonl_rows(text: str, spec: FilesTable, bad: Bad) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
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


def _csv_header(reader: Any, spec: FilesTable, bad: Bad) -> list[str] | None:
    try:
        header = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise bad(1, f"malformed CSV ({exc})") from None
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise bad(1, "the header has empty or repeated column names")
    missing = [c for c in spec.columns if c not in names]
    if missing:
        raise bad(1, f"missing {plural(len(missing), 'column')} {', '.join(missing)}")
    return names


def _csv_rows(text: str, spec: FilesTable, bad: Bad) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    names = _csv_header(reader, spec, bad)
    if names is None:
        return rows
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


def rows_from_text(
    text: str, fmt: str, file_name: str, spec: FilesTable, source: str, table: str
) -> list[dict[str, Any]]:
    """The rows of one file, typed by the table's `columns`; an IngestError names the file and line."""

    def bad(line: int, why: str) -> IngestError:
        return IngestError(f"source {source!r} table {table!r}: {file_name} line {line}: {why}")

    return _jsonl_rows(text, spec, bad) if fmt == "jsonl" else _csv_rows(text, spec, bad)


def files_resource(source: FilesSource, table: ResolvedTable, disposition: WriteDisposition) -> DltResource:
    """Files matching the table's glob, newer than the last run (modification time), parsed strictly."""
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
            rows = rows_from_text(text, spec.format, item["file_name"], spec, source_name, table_name)
            if rows:
                yield rows

    resource = listing | read
    resource.apply_hints(
        table_name=table.name,
        primary_key=table.primary_key or None,
        write_disposition=disposition,
        columns=_column_hints(spec, table.primary_key),  # type: ignore[arg-type]  # dlt's TypedDict
    )
    return resource


def _column_hints(spec: FilesTable, primary_key: list[str]) -> dict[str, dict[str, Any]]:
    columns: dict[str, dict[str, Any]] = {
        name: {"data_type": _DLT_TYPES[kind], "nullable": True} for name, kind in spec.columns.items()
    }
    for key in primary_key:
        columns.setdefault(key, {})
        columns[key]["nullable"] = False
    return columns
