"""What a cut's `compute()` may return, per kind: validated with pydantic before it becomes a snapshot.

Every payload carries a `takeaway` (one line: the answer the chart gives today) and may carry `notes`.
Shapes are small on purpose — a cut is a chart with prose, not a data export — so the limits below are
part of the contract: an audit page stays fast to render and an agent's summary stays short.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heartbeat_core.formatting import plural

KINDS = ("bar", "line", "stacked", "funnel", "table", "heat_table")
Kind = Literal["bar", "line", "stacked", "funnel", "table", "heat_table"]

Label = Annotated[str, Field(max_length=200)]
Number = float | int
Cell = str | float | int | bool | None

Tone = Literal["good", "bad", "warn", "neutral", "info"]  # a series' meaning, drawn in its colour

MAX_BARS = 60
MAX_POINTS = 400
MAX_SERIES = 12
MAX_ROWS = 200
MAX_COLUMNS = 40


class PayloadError(ValueError):
    """A payload that does not fit its kind; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{field}: expected a finite number, got {value}")
    return value


class Band(_Strict):
    """A typical range (e.g. mean ± σ) drawn as a shaded band."""

    low: float
    high: float
    label: Label = "typical"

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        _finite(self.low, "band.low")
        _finite(self.high, "band.high")
        if self.low > self.high:
            raise ValueError("band: low must not exceed high")
        return self


class Lines(_Strict):
    """Reference lines a chart draws across its value axis."""

    norm: float | None = None
    alert: float | None = None
    target: float | None = None
    band: Band | None = None


class _Base(_Strict):
    takeaway: Annotated[str, Field(min_length=1, max_length=400)]
    unit: Annotated[str, Field(max_length=40)] = "count"
    notes: list[Annotated[str, Field(max_length=400)]] = Field(default_factory=list, max_length=5)


class Bar(_Strict):
    label: Label
    value: float
    note: Label | None = None
    highlight: bool = False

    @field_validator("value")
    @classmethod
    def _value(cls, v: float) -> float:
        return _finite(v, "value") or 0.0


class BarPayload(_Base):
    x_label: Label = ""
    y_label: Label = ""
    bars: list[Bar] = Field(max_length=MAX_BARS)
    lines: Lines = Field(default_factory=Lines)


class Point(_Strict):
    x: Label
    y: float | None

    @field_validator("y")
    @classmethod
    def _y(cls, v: float | None) -> float | None:
        return _finite(v, "y")


class Series(_Strict):
    name: Label
    tone: Tone | None = None
    points: list[Point] = Field(max_length=MAX_POINTS)


class LinePayload(_Base):
    x_label: Label = ""
    y_label: Label = ""
    series: list[Series] = Field(min_length=1, max_length=MAX_SERIES)
    lines: Lines = Field(default_factory=Lines)


class StackSeries(_Strict):
    name: Label
    tone: Tone | None = None
    values: list[float]


class StackedPayload(_Base):
    x_label: Label = ""
    y_label: Label = ""
    categories: list[Label] = Field(max_length=MAX_BARS)
    series: list[StackSeries] = Field(min_length=1, max_length=MAX_SERIES)
    percent: bool = False  # draw each category as 100 %

    @model_validator(mode="after")
    def _aligned(self) -> StackedPayload:
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(
                    f"series {s.name!r}: {len(s.values)} values for {len(self.categories)} categories"
                )
            for v in s.values:
                _finite(v, f"series {s.name!r}")
                if v < 0:
                    raise ValueError(f"series {s.name!r}: stacked values must not be negative")
        return self


class Step(_Strict):
    label: Label
    value: float
    note: Label | None = None

    @field_validator("value")
    @classmethod
    def _value(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError("funnel steps are finite, non-negative counts")
        return v


class FunnelPayload(_Base):
    steps: list[Step] = Field(min_length=1, max_length=12)


class Column(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
    label: Label
    unit: Annotated[str, Field(max_length=40)] | None = None  # numbers are formatted with it
    align: Literal["left", "right"] | None = None


class TablePayload(_Base):
    columns: list[Column] = Field(min_length=1, max_length=MAX_COLUMNS)
    rows: list[dict[str, Cell]] = Field(max_length=MAX_ROWS)
    total_rows: int | None = None  # rows before the cut truncated them
    highlight_key: Annotated[str, Field(max_length=60)] | None = None  # a boolean column marking rows to flag

    @model_validator(mode="after")
    def _keys(self) -> TablePayload:
        keys = {c.key for c in self.columns}
        if len(keys) != len(self.columns):
            raise ValueError("columns: keys must be unique")
        allowed = keys | ({self.highlight_key} if self.highlight_key else set())
        for i, row in enumerate(self.rows):
            extra = set(row) - allowed
            if extra:
                raise ValueError(f"rows[{i}]: unknown {plural(len(extra), 'key')} {', '.join(sorted(extra))}")
            for k, v in row.items():
                if isinstance(v, float):
                    _finite(v, f"rows[{i}].{k}")
                if isinstance(v, str) and len(v) > 500:
                    raise ValueError(f"rows[{i}].{k}: text longer than 500 characters")
        return self


class HeatTablePayload(_Base):
    row_label: Label = ""
    column_label: Label = ""
    rows: list[Label] = Field(max_length=MAX_ROWS)
    columns: list[Label] = Field(min_length=1, max_length=MAX_COLUMNS)
    values: list[list[float | None]]
    higher_is_worse: bool = True  # colour scale direction

    @model_validator(mode="after")
    def _grid(self) -> HeatTablePayload:
        if len(self.values) != len(self.rows):
            raise ValueError(f"values: {len(self.values)} rows for {len(self.rows)} row labels")
        for i, row in enumerate(self.values):
            if len(row) != len(self.columns):
                raise ValueError(f"values[{i}]: {len(row)} cells for {len(self.columns)} columns")
            for v in row:
                _finite(v, f"values[{i}]")
        return self


MODELS: dict[str, type[_Base]] = {
    "bar": BarPayload,
    "line": LinePayload,
    "stacked": StackedPayload,
    "funnel": FunnelPayload,
    "table": TablePayload,
    "heat_table": HeatTablePayload,
}


def validate_payload(kind: str, payload: Any) -> dict[str, Any]:
    """The payload, normalised (defaults filled, numbers as floats), or `PayloadError` naming the field."""
    model = MODELS.get(kind)
    if model is None:
        raise PayloadError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if not isinstance(payload, dict):
        raise PayloadError(f"compute() returned {type(payload).__name__}, expected a dict")
    try:
        return model.model_validate(payload).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PayloadError(f"{kind} payload: {where + ': ' if where else ''}{message}{more}") from None
