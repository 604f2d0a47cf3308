"""Parse `metric_defs/<id>.sql` (a metadata header plus `@value` / `@detail` / `@history` sections).

Every problem is reported as `file:line: what is wrong (what was expected)`; all problems of a file
are collected, so an author fixes them in one pass.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, get_args

Period = Literal["snapshot", "24h", "7d", "30d", "funnel"]
Direction = Literal["higher_is_better", "lower_is_better"]
PERIODS: tuple[Period, ...] = get_args(Period)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
PLAIN_UNITS = ("count", "pct", "ratio", "seconds", "minutes", "hours", "days")
COUNTED_NOUNS = (
    "clients", "payments", "transactions", "tickets", "cards", "invoices", "reviews",
    "events", "files", "users", "accounts", "rates",
)  # fmt: skip
SECTIONS = ("value", "detail", "history")
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_HEADER = re.compile(r"^--\s?([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")
_SECTION = re.compile(r"^--\s*@([A-Za-z_]+)\b")
_TRAILING_COMMENT = re.compile(r"\s{2,}--\s.*$")

TEXT_KEYS = ("name", "description", "how_to_read", "methodology")
KNOWN_KEYS = (
    *TEXT_KEYS, "period", "unit", "direction", "sources", "norm", "alert", "target", "target_due_date",
    "owner", "team", "tags", "typical", "typical_window", "typical_min_points", "typical_seasonality",
    "typical_robust", "z_amber", "z_red",
)  # fmt: skip
REQUIRED_KEYS = ("name", "period", "unit", "direction", "sources")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class DefinitionError(ValueError):
    """One file's problems, each with its line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class TypicalOptions:
    window_days: int = 28
    min_points: int = 14
    seasonality: str = "none"
    robust: bool = False
    z_amber: float = 1.0
    z_red: float = 2.0

    def as_json(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "min_points": self.min_points,
            "seasonality": self.seasonality,
            "robust": self.robust,
            "z_amber": self.z_amber,
            "z_red": self.z_red,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TypicalOptions:
        return cls(**(data or {}))


@dataclass(frozen=True)
class MetricDefinition:
    metric_id: str
    name: str
    period: str
    unit: str
    direction: str
    sources: tuple[str, ...]
    value_sql: str
    path: str
    file_hash: str
    description: str = ""
    how_to_read: str = ""
    methodology: str = ""
    norm: Decimal | None = None
    alert: Decimal | None = None
    target: Decimal | None = None
    target_due_date: date | None = None
    owner: str | None = None
    team: str | None = None
    tags: tuple[str, ...] = ()
    typical: str = "none"
    typical_options: TypicalOptions = field(default_factory=TypicalOptions)
    detail_sql: str | None = None
    history_sql: str | None = None
    section_lines: dict[str, int] = field(default_factory=dict)

    def sql_line(self, section: str, position: int | None) -> int:
        """File line of a character position (1-based, as Postgres reports) inside a section's SQL."""
        start = self.section_lines.get(section, 1)
        sql = {"value": self.value_sql, "detail": self.detail_sql, "history": self.history_sql}.get(
            section
        ) or ""
        if not position:
            return start
        return start + sql[: max(position - 1, 0)].count("\n")


def check_lines(
    direction: str, norm: Decimal | None, alert: Decimal | None, target: Decimal | None
) -> list[str]:
    """Lines must agree with the direction: amber before red, target better than norm."""
    problems = []
    worse = (lambda a, b: a > b) if direction == "lower_is_better" else (lambda a, b: a < b)
    if norm is not None and alert is not None and worse(norm, alert):
        word = "above" if direction == "lower_is_better" else "below"
        problems.append(
            f"norm {norm} is {word} alert {alert}: for {direction} the amber line comes before the red one"
        )
    reference = norm if norm is not None else alert
    if target is not None and reference is not None and worse(target, reference):
        problems.append(
            f"target {target} is worse than the {'norm' if norm is not None else 'alert'} line {reference} for {direction}"
        )
    return problems


def valid_unit(unit: str) -> bool:
    if unit in PLAIN_UNITS or unit in COUNTED_NOUNS:
        return True
    return bool(re.fullmatch(r"money:[A-Z]{3}", unit))


def parse_metric_file(path: Path, root: Path | None = None) -> MetricDefinition:
    text = path.read_text(encoding="utf-8")
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    return parse_metric_text(text, path.stem, shown)


def parse_metric_text(text: str, metric_id: str, shown_path: str) -> MetricDefinition:
    problems: list[Problem] = []

    def problem(line: int, message: str) -> None:
        problems.append(Problem(shown_path, line, message))

    if not SLUG.match(metric_id):
        problem(
            1, f"file name {metric_id!r} is not a metric id: use lowercase letters, digits and _ (a slug)"
        )

    header: dict[str, tuple[str, int]] = {}
    sections: dict[str, list[str]] = {}
    section_lines: dict[str, int] = {}
    current_section: str | None = None
    last_key: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        marker = _SECTION.match(line.strip())
        if marker:
            name = marker.group(1).lower()
            if name not in SECTIONS:
                problem(lineno, f"unknown section @{name} (expected @value, @detail or @history)")
                current_section = None
                continue
            if name in sections:
                problem(lineno, f"section @{name} appears twice")
            current_section = name
            sections[name] = []
            section_lines[name] = lineno + 1
            continue
        if current_section is not None:
            sections[current_section].append(raw)
            continue
        stripped = line.strip()
        if not stripped:
            last_key = None
            continue
        if not stripped.startswith("--"):
            problem(lineno, "SQL before the first section: start the query with a `-- @value` line")
            current_section = "_stray"
            sections["_stray"] = []
            continue
        continuation = re.match(r"^--\s{3,}(\S.*)$", stripped)
        if continuation and last_key in TEXT_KEYS:
            value, first_line = header[last_key]
            header[last_key] = (f"{value} {continuation.group(1).strip()}".strip(), first_line)
            continue
        match = _HEADER.match(stripped)
        if not match:
            if stripped.strip("- ") == "":
                continue
            problem(lineno, f"cannot read header line {stripped!r} (expected `-- key: value`)")
            continue
        key, value = match.group(1).lower(), match.group(2)
        value = _TRAILING_COMMENT.sub("", value).strip()
        if key not in KNOWN_KEYS:
            problem(lineno, f"unknown header key {key!r} (known: {', '.join(KNOWN_KEYS)})")
            last_key = None
            continue
        if key in header:
            problem(lineno, f"header key {key!r} is given twice (first on line {header[key][1]})")
        header[key] = (value, lineno)
        last_key = key
    sections.pop("_stray", None)

    def get(key: str) -> str | None:
        return header[key][0] if key in header and header[key][0] != "" else None

    def at(key: str) -> int:
        return header[key][1] if key in header else 1

    for key in REQUIRED_KEYS:
        if get(key) is None:
            problem(at(key), f"header is missing {key!r}")

    period = get("period") or ""
    if period and period not in PERIODS:
        problem(at("period"), f"unknown period {period!r} (expected one of {', '.join(PERIODS)})")
    direction = get("direction") or ""
    if direction and direction not in DIRECTIONS:
        problem(
            at("direction"), f"unknown direction {direction!r} (expected higher_is_better or lower_is_better)"
        )
    unit = get("unit") or ""
    if unit and not valid_unit(unit):
        problem(
            at("unit"),
            f"unknown unit {unit!r} (expected {', '.join(PLAIN_UNITS)}, money:<ISO code> or one of {', '.join(COUNTED_NOUNS)})",
        )
    sources = tuple(s.strip() for s in (get("sources") or "").split(",") if s.strip())
    for source in sources:
        if not SLUG.match(source):
            problem(at("sources"), f"source {source!r} is not a dataset name (lowercase slug)")

    def numeric(key: str) -> Decimal | None:
        raw = get(key)
        if raw is None:
            return None
        try:
            parsed = Decimal(raw.replace("_", ""))
        except InvalidOperation:
            problem(at(key), f"{key} {raw!r} is not a number")
            return None
        if not parsed.is_finite():
            problem(at(key), f"{key} {raw!r} is not a finite number")
            return None
        return parsed

    norm, alert, target = numeric("norm"), numeric("alert"), numeric("target")
    if direction in DIRECTIONS:
        for message in check_lines(direction, norm, alert, target):
            problem(at("norm") if norm is not None else at("target"), message)

    due: date | None = None
    if get("target_due_date"):
        try:
            due = date.fromisoformat(get("target_due_date") or "")
        except ValueError:
            problem(
                at("target_due_date"),
                f"target_due_date {get('target_due_date')!r} is not a date (YYYY-MM-DD)",
            )

    owner = get("owner")
    if owner and not EMAIL.match(owner):
        problem(at("owner"), f"owner {owner!r} is not an email address")

    typical = get("typical") or "none"
    if typical not in ("none", "rolling_stat"):
        problem(at("typical"), f"unknown typical {typical!r} (expected none or rolling_stat)")
    options = _typical_options(get, at, problem)

    for name in sections:
        lines = sections[name]
        leading = next((i for i, item in enumerate(lines) if item.strip()), 0)
        section_lines[name] = section_lines.get(name, 1) + leading
        sections[name] = ["\n".join(lines).strip()]
    value_sql = _clean_sql(sections.get("value"))
    if "value" not in sections:
        problem(
            len(text.splitlines()) or 1,
            "missing `-- @value` section (the SQL that returns the metric's value)",
        )
    elif not value_sql:
        problem(section_lines["value"] - 1, "the @value section is empty")
    detail_sql = _clean_sql(sections.get("detail"))
    history_sql = _clean_sql(sections.get("history"))

    if problems:
        raise DefinitionError(problems)
    return MetricDefinition(
        metric_id=metric_id,
        name=get("name") or metric_id,
        period=period,
        unit=unit,
        direction=direction,
        sources=sources,
        value_sql=value_sql or "",
        path=shown_path,
        file_hash=hashlib.sha256(text.encode()).hexdigest(),
        description=get("description") or "",
        how_to_read=get("how_to_read") or "",
        methodology=get("methodology") or "",
        norm=norm,
        alert=alert,
        target=target,
        target_due_date=due,
        owner=owner,
        team=get("team"),
        tags=tuple(t.strip() for t in (get("tags") or "").split(",") if t.strip()),
        typical=typical,
        typical_options=options,
        detail_sql=detail_sql,
        history_sql=history_sql,
        section_lines=section_lines,
    )


def _clean_sql(lines: list[str] | None) -> str | None:
    if not lines:
        return None
    sql = lines[0].strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return sql or None


def _typical_options(get: Any, at: Any, problem: Any) -> TypicalOptions:
    values: dict[str, Any] = {}
    for key, target, kind in (
        ("typical_window", "window_days", int),
        ("typical_min_points", "min_points", int),
        ("z_amber", "z_amber", float),
        ("z_red", "z_red", float),
    ):
        raw = get(key)
        if raw is None:
            continue
        try:
            parsed = kind(raw)
        except ValueError:
            problem(at(key), f"{key} {raw!r} is not {'an integer' if kind is int else 'a number'}")
            continue
        if parsed <= 0:
            problem(at(key), f"{key} must be positive, got {raw}")
            continue
        values[target] = parsed
    seasonality = get("typical_seasonality")
    if seasonality is not None:
        if seasonality not in ("none", "weekday"):
            problem(
                at("typical_seasonality"),
                f"unknown typical_seasonality {seasonality!r} (expected none or weekday)",
            )
        else:
            values["seasonality"] = seasonality
    robust = get("typical_robust")
    if robust is not None:
        if robust.lower() not in ("true", "false", "yes", "no"):
            problem(at("typical_robust"), f"typical_robust {robust!r} is not true or false")
        else:
            values["robust"] = robust.lower() in ("true", "yes")
    options = TypicalOptions(**values)
    if options.z_amber >= options.z_red:
        problem(at("z_amber"), f"z_amber {options.z_amber} must be below z_red {options.z_red}")
    return options


@dataclass
class LoadResult:
    definitions: list[MetricDefinition]
    errors: list[DefinitionError]
    unreadable: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for e in self.errors for p in e.problems] + self.unreadable


def load_directory(directory: Path) -> LoadResult:
    """Parse every `*.sql` in the directory; one bad file never hides the others."""
    result = LoadResult([], [])
    if not directory.is_dir():
        result.unreadable.append(Problem(str(directory), 0, "metric definitions directory does not exist"))
        return result
    for path in sorted(directory.glob("*.sql")):
        try:
            result.definitions.append(parse_metric_file(path, directory.parent))
        except DefinitionError as exc:
            result.errors.append(exc)
        except (OSError, UnicodeDecodeError) as exc:
            result.unreadable.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
    return result
