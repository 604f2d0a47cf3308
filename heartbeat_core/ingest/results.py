"""What an ingest run reports: per source, per table, and per webhook batch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class TableResult:
    name: str
    rows: int = 0
    write_disposition: str = ""
    mode: str = ""  # the disposition actually used this run (a first merge load appends)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SourceResult:
    source: str
    kind: str
    ok: bool
    rows: int = 0
    seconds: float = 0.0
    error: str | None = None
    tables: list[TableResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_watermark: datetime | None = None
    skipped: bool = False
    extract_seconds: float = 0.0
    load_seconds: float = 0.0  # normalize + load
    index_seconds: float = 0.0  # post-ingest indexes
    marts: str = "postgres"  # where the rows landed: postgres | duckdb | chdb | clickhouse (warehouse mode)
    notes: list[str] = field(
        default_factory=list
    )  # what the marts do differently (indexes skipped on engines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_watermark"] = self.data_watermark.isoformat() if self.data_watermark else None
        return out


@dataclass
class LandResult:
    source: str
    table: str
    rows: int
    seconds: float
    load_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
