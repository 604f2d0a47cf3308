"""What every check of one file reads: the file, its parsed definition, the connection, the limits, the
moment; and the facts several checks share (the static SQL scan, the value run), computed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg

from heartbeat_core.metrics.definition import MetricDefinition, TypicalOptions
from heartbeat_core.metrics.gate.report import Limits
from heartbeat_core.metrics.registry import RegistryMetric
from heartbeat_core.metrics.shared_sql import SharedSQL

T = TypeVar("T")


@dataclass
class GateContext:
    path: Path
    text: str
    conn: psycopg.Connection[Any]
    limits: Limits
    now: datetime
    tz: tzinfo
    sources_path: Path
    definition: MetricDefinition | None
    parse_problems: list[str]
    line_problems: list[str]
    shared: SharedSQL = field(default_factory=lambda: SharedSQL(None))  # the fragments its includes read
    _facts: dict[Callable[..., Any], Any] = field(default_factory=dict, init=False)

    @property
    def parsed(self) -> MetricDefinition:
        """The definition; the walk runs checks that read it only when the file parsed."""
        if self.definition is None:
            raise RuntimeError("this check needs a parsed definition")
        return self.definition

    @cached_property
    def metric(self) -> RegistryMetric:
        return to_registry_metric(self.parsed)

    def once(self, compute: Callable[[GateContext], T]) -> T:
        """A fact several checks share, computed on first use (the order of the checks decides when)."""
        if compute not in self._facts:
            self._facts[compute] = compute(self)
        return cast(T, self._facts[compute])

    def computed(self, compute: Callable[[GateContext], T]) -> T | None:
        """The fact if a check has computed it already, else None."""
        return cast("T | None", self._facts.get(compute))


def sections(definition: MetricDefinition) -> Iterator[tuple[str, str]]:
    """(section name, SQL) of the sections the file has: value, then detail, history and segments."""
    for name, text in (
        ("value", definition.value_sql),
        ("detail", definition.detail_sql),
        ("history", definition.history_sql),
        ("segments", definition.segments_sql),
    ):
        if text:
            yield name, text


def to_registry_metric(definition: MetricDefinition) -> RegistryMetric:
    """The compiled form compute runs, built from a parsed (not yet synced) file."""

    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return RegistryMetric(
        metric_id=definition.metric_id,
        name=definition.name,
        period=definition.period,
        unit=definition.unit,
        direction=definition.direction,
        sources=definition.sources,
        value_sql=definition.value_sql,
        detail_sql=definition.detail_sql,
        history_sql=definition.history_sql,
        norm_value=num(definition.norm),
        alert_value=num(definition.alert),
        target_value=num(definition.target),
        typical_method=definition.typical,
        typical_options=definition.typical_options or TypicalOptions(),
        benchmark_mean=None,
        benchmark_stddev=None,
        benchmark_points=None,
        file_path=definition.path,
        entity=definition.entity,
        engine_sql=dict(definition.engine_sql),
        segments_sql=definition.segments_sql,
    )
