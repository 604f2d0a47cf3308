"""What a sync from files (metric definitions, audit cuts) did: one report shape for both registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    problems: list[Any] = field(default_factory=list)  # file problems, printable as `path:line: message`
    warnings: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "retired": self.retired,
            "problems": [str(p) for p in self.problems],
            "warnings": [str(w) for w in self.warnings],
        }

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.retired)} retired, {len(self.problems)} with problems"
        )
