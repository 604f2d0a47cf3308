"""Ingest: land source data in marts with dlt, driven by `sources.toml`."""

from heartbeat_core.ingest.config import SourcesConfigError, load_sources
from heartbeat_core.ingest.engine import LandResult, SourceResult, TableResult, land_events, run_all, run_one
from heartbeat_core.ingest.errors import IngestError

__all__ = [
    "IngestError",
    "LandResult",
    "SourceResult",
    "SourcesConfigError",
    "TableResult",
    "land_events",
    "load_sources",
    "run_all",
    "run_one",
]
