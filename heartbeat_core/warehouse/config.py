"""`HEARTBEAT_WAREHOUSE_URL`: which engine holds the marts, read into one `WarehouseConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# scheme → (engine, what the URL names); the engine name is the sqlglot dialect and the override key
SCHEMES: dict[str, tuple[str, str]] = {
    "duckdb": ("duckdb", "a DuckDB file: duckdb:///abs/path/marts.duckdb"),
    "chdb": ("clickhouse", "a chDB data directory (in-process ClickHouse): chdb:///abs/path/dir"),
    "clickhouse": ("clickhouse", "a ClickHouse server: clickhouse://user:password@host:8123/database"),
    "bigquery": ("bigquery", "a BigQuery project and dataset: bigquery://project/dataset (untested here)"),
    "snowflake": ("snowflake", "snowflake://user@account/database/schema (untested here)"),
}
RUNNABLE = ("duckdb", "chdb", "clickhouse")


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as configured; the message names the setting and what was expected."""


@dataclass(frozen=True)
class WarehouseConfig:
    url: str
    scheme: str
    engine: str  # duckdb | clickhouse | bigquery | snowflake: the SQL dialect and the override key
    path: Path | None = None  # duckdb file, chdb directory

    @property
    def label(self) -> str:
        """The engine as a person reads it: `chdb` and a ClickHouse server both speak `clickhouse`."""
        return "chdb" if self.scheme == "chdb" else self.engine


def parse_url(url: str, setting: str = "HEARTBEAT_WAREHOUSE_URL") -> WarehouseConfig:
    """One URL into a config; an unknown scheme or a missing path is an error naming the setting."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        known = "; ".join(f"{name}:// ({what})" for name, (_e, what) in SCHEMES.items())
        raise WarehouseError(
            f"{setting}={url!r}: unknown engine {scheme or '(none)'!r}; expected one of {known}"
        )
    engine, what = SCHEMES[scheme]
    if scheme in ("duckdb", "chdb"):
        raw = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not raw or raw == "/":
            raise WarehouseError(f"{setting}={url!r}: no path; expected {what}")
        return WarehouseConfig(url, scheme, engine, Path(raw).expanduser())
    return WarehouseConfig(url, scheme, engine)


def require_runnable(config: WarehouseConfig) -> None:
    """BigQuery and Snowflake are configuration on paper here (docs/scale-out.md), not a runnable engine."""
    if config.scheme not in RUNNABLE:
        raise WarehouseError(
            f"HEARTBEAT_WAREHOUSE_URL: {config.engine} is documented (docs/scale-out.md) but has no engine in "
            f"this build: metric SQL transpiles to it (`heartbeat warehouse transpile --engine {config.engine}`), "
            "running it needs the vendor's client, untested here"
        )
