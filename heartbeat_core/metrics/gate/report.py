"""What the gate reports: one `Check` per named check, a `ValidationReport` per file, and its `Limits`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["pass", "fail", "skip"]

DEFAULT_TIME_LIMIT_S = 5.0
DEFAULT_LARGE_TABLE_BYTES = 200 * 1024 * 1024
DEFAULT_NESTED_LOOP_OUTER_ROWS = 100_000
DEFAULT_RUN_ROWS = 50_000_000


@dataclass
class Check:
    name: str
    status: Status
    evidence: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "evidence": self.evidence}
        if self.fix:
            out["fix"] = self.fix
        if self.data:
            out["data"] = self.data
        return out


@dataclass
class ValidationReport:
    metric_id: str
    path: str
    checks: list[Check] = field(default_factory=list)
    value: float | None = None
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return all(c.status == "pass" for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "metric_id": self.metric_id,
            "path": self.path,
            "ok": self.ok,
            "failed": [c.name for c in self.failed],
            "value": self.value,
            "seconds": self.seconds,
            "checks": [c.as_json() for c in self.checks],
        }


@dataclass(frozen=True)
class Limits:
    """Thresholds of the gate; tests make them small."""

    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    large_table_bytes: int = DEFAULT_LARGE_TABLE_BYTES
    nested_loop_outer_rows: int = DEFAULT_NESTED_LOOP_OUTER_ROWS
    # `scales_with_rows` (issue 19): a larger copy of the marts (e.g. the demo world at scale 50), the as-of
    # moment to run there (its data's own "now"), and how much faster than the rows it reads a metric's time
    # may grow before the gate flags it (above a noise floor of `scale_floor_s` on the copy)
    scale_url: str | None = None
    scale_as_of: datetime | None = None
    scale_growth_factor: float = 2.0
    scale_floor_s: float = 0.25
    # `plan_at_scale`: without a copy, the planner's row estimates × `scale_factor` (None: the data at hand);
    # above `run_rows` estimated rows read the value is not run at all, only its plan judged (0: always run)
    scale_factor: float | None = None
    run_rows: int = DEFAULT_RUN_ROWS


@dataclass(frozen=True)
class Outcome:
    """A check's verdict without its name: the registry names it, so a name lives in one place."""

    status: Status
    evidence: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def named(self, name: str) -> Check:
        return Check(name, self.status, self.evidence, self.fix, dict(self.data))


def passed(evidence: str, data: dict[str, Any] | None = None) -> Outcome:
    return Outcome("pass", evidence, data=data or {})


def failed(evidence: str, fix: str | None = None, data: dict[str, Any] | None = None) -> Outcome:
    return Outcome("fail", evidence, fix, data or {})


def skipped(evidence: str) -> Outcome:
    return Outcome("skip", evidence)
