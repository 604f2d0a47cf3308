"""`sources.toml`: which sources exist and how they land, validated with pydantic.

Shape (one `[sources.<name>]` table per source; the marts schema is the source name):

    [sources.webbank]
    kind = "postgres"                       # postgres | rest | files | webhook
    connection_env = "HEARTBEAT_DEMO_SOURCE_URL"
    fallback_database = "heartbeat_demo_source"   # when the variable is unset: this database on the marts server
    schema = "webbank"                      # schema in the source database (default: the source name)
    primary_key = "id"                      # defaults for every table of the source
    cursor = "updated_at"
    schedule = "hourly"                     # hourly | daily | a cron expression

    [sources.webbank.tables.payment]
    indexes = ["type_id, created_at", "sender_profile_id"]   # post-ingest, CREATE INDEX IF NOT EXISTS

A typo (unknown key, unknown kind, bad value) is an error naming the file, the source and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
WriteDisposition = Literal["merge", "append", "replace"]
ColumnType = Literal["text", "bigint", "double", "decimal", "bool", "date", "timestamp", "json"]


class SourcesConfigError(ValueError):
    """`sources.toml` cannot be used; the message names the file, the source and the key."""


def _ident(value: str, what: str) -> str:
    if not IDENT.match(value):
        raise ValueError(f"{what} {value!r} must be a lowercase identifier (a-z, 0-9, _)")
    return value


def _keys(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [_ident(v.strip(), "column") for v in items if v.strip()]


def _index_columns(spec: str) -> list[str]:
    cols = [c.strip() for c in spec.split(",") if c.strip()]
    if not cols:
        raise ValueError("an index needs at least one column")
    return [_ident(c, "index column") for c in cols]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableBase(_Strict):
    primary_key: str | list[str] | None = None
    cursor: str | None = None
    write_disposition: WriteDisposition | None = None
    indexes: list[str] = Field(default_factory=list)
    watermark: bool | None = None
    # data tests (issue 18), checked one by one in `heartbeat_core.datatests.spec` so a bad test is an error
    # result of that test, never a config that stops every source
    tests: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("indexes")
    @classmethod
    def _check_indexes(cls, value: list[str]) -> list[str]:
        for spec in value:
            _index_columns(spec)
        return value

    @field_validator("cursor")
    @classmethod
    def _check_cursor(cls, value: str | None) -> str | None:
        if value:
            _ident(value, "cursor")
        return value


class PostgresTable(TableBase):
    source_table: str | None = None


class RestTable(TableBase):
    path: str
    data_selector: str = "items"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    since_param: str | None = None  # query parameter that receives the incremental cursor's last value
    initial_since: str = "1970-01-01T00:00:00Z"


class FilesTable(TableBase):
    glob: str
    format: Literal["csv", "jsonl"] = "csv"
    columns: dict[str, ColumnType] = Field(default_factory=dict)
    watermark_column: str | None = None  # a data column whose newest value is the data watermark


class SourceBase(_Strict):
    name: str = ""
    schedule: str = "hourly"
    primary_key: str | list[str] | None = None
    cursor: str | None = None
    description: str = ""
    owner: str | None = None  # who hears about failing data tests

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if value in ("hourly", "daily"):
            return value
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"schedule {value!r}: expected hourly, daily or a cron expression")
        return value


class PostgresSource(SourceBase):
    kind: Literal["postgres"]
    connection_env: str
    fallback_database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    chunk_size: int = Field(default=100_000, ge=1_000)
    tables: dict[str, PostgresTable]

    @property
    def source_schema(self) -> str:
        return self.schema_ or self.name


class RestSource(SourceBase):
    kind: Literal["rest"]
    base_url: str | None = None
    base_url_env: str | None = None
    token_env: str | None = None
    page_param: str = "page"
    next_page_path: str = "next_page"
    per_page_param: str | None = "per_page"
    per_page: int = Field(default=500, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    tables: dict[str, RestTable]

    @model_validator(mode="after")
    def _needs_url(self) -> RestSource:
        if not self.base_url and not self.base_url_env:
            raise ValueError("needs base_url or base_url_env")
        return self


class FilesSource(SourceBase):
    kind: Literal["files"]
    path: str
    tables: dict[str, FilesTable]

    @property
    def folder(self) -> Path:
        return Path(expand_vars(self.path)).expanduser()


class WebhookSource(SourceBase):
    kind: Literal["webhook"]
    table: str = "event"
    write_disposition: WriteDisposition | None = None
    watermark: bool | None = None


SourceConfig = Annotated[
    PostgresSource | RestSource | FilesSource | WebhookSource, Field(discriminator="kind")
]
AnySource = PostgresSource | RestSource | FilesSource | WebhookSource


class SourcesFile(_Strict):
    sources: dict[str, SourceConfig] = Field(default_factory=dict)


def expand_vars(text: str) -> str:
    """`${HEARTBEAT_HOME}` and other `${VAR}`; HEARTBEAT_HOME falls back to the settings' home."""
    from heartbeat_core.settings import get_settings

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "HEARTBEAT_HOME":
            return str(get_settings().home)
        value = os.environ.get(name)
        if value is None:
            raise SourcesConfigError(f"${{{name}}} is used in sources.toml but not set")
        return value

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", repl, text)


class ResolvedTable(BaseModel):
    """One table with the source's defaults applied: what the engine actually lands."""

    model_config = ConfigDict(frozen=True)
    name: str
    primary_key: list[str]
    cursor: str | None
    write_disposition: WriteDisposition
    indexes: list[list[str]]
    watermark: bool
    spec: Any = None


def resolve_table(source: AnySource, name: str, table: TableBase | None) -> ResolvedTable:
    spec = table
    pk_raw = table.primary_key if table and table.primary_key is not None else source.primary_key
    primary_key = _keys(pk_raw)
    cursor_raw = table.cursor if table and table.cursor is not None else source.cursor
    cursor = cursor_raw or None
    disposition = table.write_disposition if table else None
    if isinstance(source, WebhookSource):
        disposition = source.write_disposition
    if disposition is None:
        disposition = "merge" if primary_key else ("append" if cursor else "replace")
    if disposition == "merge" and not primary_key:
        raise ValueError(f"table {name!r}: write_disposition merge needs a primary_key")
    indexes = [_index_columns(s) for s in (table.indexes if table else [])]
    # every merged table gets an index on its primary key: dlt lands none, and merges join on it
    if disposition == "merge" and primary_key and primary_key not in indexes:
        indexes.insert(0, primary_key)
    wm_flag = table.watermark if table else (source.watermark if isinstance(source, WebhookSource) else None)
    has_wm_col = isinstance(table, FilesTable) and bool(table.watermark_column)
    watermark = (
        wm_flag if wm_flag is not None else ((bool(cursor) or has_wm_col) and disposition != "replace")
    )
    return ResolvedTable(
        name=name,
        primary_key=primary_key,
        cursor=cursor,
        write_disposition=disposition,
        indexes=indexes,
        watermark=watermark,
        spec=spec,
    )


def resolved_tables(source: AnySource) -> list[ResolvedTable]:
    if isinstance(source, WebhookSource):
        return [resolve_table(source, source.table, None)]
    return [resolve_table(source, name, t) for name, t in source.tables.items()]


def _format_error(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        # loc looks like ('sources', 'webbank', 'postgres', 'tables', 'payment', 'cursr')
        where = ""
        if len(loc) >= 2 and loc[0] == "sources":
            source = loc[1]
            rest = [p for p in loc[2:] if p not in ("postgres", "rest", "files", "webhook")]
            where = f"source {source!r}"
            if rest:
                where += f", key {'.'.join(rest)!r}"
        elif loc:
            where = f"key {'.'.join(loc)!r}"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown kind {err.get('input', {}).get('kind') if isinstance(err.get('input'), dict) else ''!r}, expected postgres, rest, files or webhook"
        elif err["type"] == "union_tag_not_found":
            msg = "missing kind (postgres, rest, files or webhook)"
        problems.append(f"{where}: {msg}" if where else msg)
    return f"{path}: " + "; ".join(problems)


def _relative_to(source: AnySource, folder: Path) -> dict[str, str]:
    """A files source's relative `path` is read from the folder of `sources.toml`, not the current one."""
    if isinstance(source, FilesSource) and not source.path.startswith(("$", "~", "/")):
        return {"path": str(folder.resolve() / source.path)}
    return {}


def parse_sources(text: str, path: Path) -> dict[str, AnySource]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise SourcesConfigError(_format_error(path, exc)) from None
    sources: dict[str, AnySource] = {}
    for name, source in parsed.sources.items():
        if not IDENT.match(name) or name.startswith("_"):
            raise SourcesConfigError(f"{path}: source {name!r}: the name must be a lowercase identifier")
        if name == "heartbeat":
            raise SourcesConfigError(
                f"{path}: source 'heartbeat': the name is reserved for heartbeat's own schema"
            )
        tables = getattr(source, "tables", None)
        if tables is not None and not tables:
            raise SourcesConfigError(f"{path}: source {name!r}: key 'tables': needs at least one table")
        for tname in tables or {}:
            if not IDENT.match(tname):
                raise SourcesConfigError(
                    f"{path}: source {name!r}: table {tname!r} must be a lowercase identifier"
                )
        source = source.model_copy(update={"name": name, **_relative_to(source, path.parent)})
        try:
            resolved_tables(source)
        except ValueError as exc:
            raise SourcesConfigError(f"{path}: source {name!r}: {exc}") from None
        sources[name] = source
    return sources


def load_sources(path: Path | None = None) -> dict[str, AnySource]:
    """Read and validate `sources.toml` (default: settings' `HEARTBEAT_SOURCES`)."""
    from heartbeat_core.settings import get_settings

    target = path or get_settings().sources
    try:
        text = Path(target).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesConfigError(
            f"{target}: no such file (set HEARTBEAT_SOURCES or create sources.toml)"
        ) from None
    return parse_sources(text, Path(target))
