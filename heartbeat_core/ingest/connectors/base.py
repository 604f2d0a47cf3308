"""The one shape of a connector (dlt style: one module per source kind, chosen by the config's `kind`).

A connector builds the dlt resources of its source spec, one per table, and says what else differs per
kind: the secrets of its connection (masked in every message), the loader file format, whether the
source is pulled at all, and the optional steps around a load (skipping unchanged tables, resuming
from what marts holds, recording state after a load). The engine does the rest the same way for all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from heartbeat_core.ingest.config import ResolvedTable, WriteDisposition
from heartbeat_core.ingest.store import Marts

S = TypeVar("S")


def _nothing() -> None:
    return None


@dataclass
class Built:
    """A connector's dlt resources for one run, the tables it could not build, and what to close after."""

    resources: dict[str, Any] = field(default_factory=dict)  # table name -> dlt resource
    errors: dict[str, str] = field(default_factory=dict)  # table name -> why (names source and table)
    cleanup: Callable[[], None] = _nothing


@dataclass
class Changes:
    """Tables with nothing new at the source (skipped this run), and fingerprints to keep after the load."""

    unchanged: set[str] = field(default_factory=set)
    prints: dict[str, str] = field(default_factory=dict)


class Connector(Generic[S]):
    """Defaults for the optional steps; every connector names its kind and builds its resources."""

    kind: ClassVar[str]
    pulled: ClassVar[bool] = True  # False: the source pushes its rows (land_events)
    file_format: ClassVar[str | None] = None  # the loader file format dlt writes (None: dlt's default)

    def secrets(self, source: S) -> tuple[str, ...]:
        """The secrets of the source's connection, masked in every message about it."""
        return ()

    def preflight(self, source: S) -> None:
        """Raise an IngestError before any work when something the connector needs is missing."""
        return None

    def changes(self, source: S, tables: list[ResolvedTable], marts: Marts) -> Changes:
        """Which tables have nothing new at the source (cheap queries), so a quiet run stays fast."""
        return Changes()

    def resume_from(
        self, source: S, pipeline: Any, marts: Marts, tables: list[ResolvedTable]
    ) -> dict[str, Any]:
        """Cursor values to resume from, per table, when local dlt state is lost but marts has rows."""
        return {}

    def build(
        self,
        source: S,
        tables: list[ResolvedTable],
        modes: Mapping[str, WriteDisposition],
        resume_from: Mapping[str, Any],
    ) -> Built:
        """One dlt resource per table, with `modes` as each table's write disposition this run."""
        raise NotImplementedError

    def after_load(
        self, pipeline: Any, landed: list[ResolvedTable], changes: Changes, failed: set[str]
    ) -> None:
        """Record what the next run's change detection needs."""
        return None
