"""Parse `metric_defs/<id>.sql` (a metadata header plus `@value` / `@detail` / `@history` sections).

A `-- @include <name>` line inside a section is replaced by `shared_sql/<name>.sql` here, at parse time
(heartbeat_core.metrics.shared_sql), so everything downstream sees plain SQL.

Every problem is reported as `file:line: what is wrong (what was expected)`; all problems of a file
are collected, so an author fixes them in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, get_args

from heartbeat_core.metrics.entity import ENTITY_KEYS, EntityKey, parse_entity
from heartbeat_core.metrics.shared_sql import SHARED_DIR, SharedSQL, SqlOrigin, fragment_dir, include_name

Period = Literal["snapshot", "24h", "7d", "30d", "funnel"]
Direction = Literal["higher_is_better", "lower_is_better"]
PERIODS: tuple[Period, ...] = get_args(Period)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
PLAIN_UNITS = ("count", "pct", "ratio", "seconds", "minutes", "hours", "days")
COUNTED_NOUNS = (
    "clients", "payments", "transactions", "tickets", "cards", "invoices", "reviews",
    "events", "files", "users", "accounts", "rates",
)  # fmt: skip
SECTIONS = ("value", "detail", "history", "segments")
# warehouse mode (issue 17): `-- @value[clickhouse]` replaces a section on one engine, for the rare query
# sqlglot cannot transpile from Postgres; the key in `engine_sql` is `value[clickhouse]`
ENGINES = ("duckdb", "clickhouse", "bigquery", "snowflake")
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_HEADER = re.compile(r"^--\s?([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")
_SECTION = re.compile(r"^--\s*@([A-Za-z_]+)(?:\[([A-Za-z_]*)\])?(?![A-Za-z_\[])")
_TRAILING_COMMENT = re.compile(r"\s{2,}--\s.*$")

TEXT_KEYS = ("name", "description", "how_to_read", "methodology")
KNOWN_KEYS = (
    *TEXT_KEYS, "period", "unit", "direction", "sources", "norm", "alert", "target", "target_due_date",
    "owner", "team", "tags", "typical", "typical_window", "typical_min_points", "typical_seasonality",
    "typical_robust", "z_amber", "z_red", "z_implausible", *ENTITY_KEYS,
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
    # the sanity band in the good direction (issue 18); None: `-- z_implausible: off`
    z_implausible: float | None = 4.0

    def as_json(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "min_points": self.min_points,
            "seasonality": self.seasonality,
            "robust": self.robust,
            "z_amber": self.z_amber,
            "z_red": self.z_red,
            "z_implausible": self.z_implausible,
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
    # `dimension, segment, value` plus `numerator, denominator` or `weight` per segment (compute.segments)
    segments_sql: str | None = None
    section_lines: dict[str, int] = field(default_factory=dict)
    entity: EntityKey | None = None
    engine_sql: dict[str, str] = field(default_factory=dict)
    # where each line of a section's (expanded) SQL was written: the metric file or a shared_sql fragment
    section_origins: dict[str, tuple[SqlOrigin, ...]] = field(default_factory=dict)
    includes: tuple[str, ...] = ()  # the shared_sql fragments the file includes, in order of first use

    def section_sql(self, section: str) -> str:
        """A section's SQL by name (`value`, `detail[duckdb]`); "" when the file has none."""
        plain = {
            "value": self.value_sql,
            "detail": self.detail_sql,
            "history": self.history_sql,
            "segments": self.segments_sql,
        }
        return plain.get(section) or self.engine_sql.get(section) or ""

    def sql_origin(self, section: str, position: int | None) -> SqlOrigin:
        """Where a character position (1-based, as Postgres reports) inside a section's SQL was written."""
        start = self.section_lines.get(section, 1)
        sql = self.section_sql(section)
        index = sql[: max(position - 1, 0)].count("\n") if position else 0
        origins = self.section_origins.get(section, ())
        if index < len(origins):
            return origins[index]
        return SqlOrigin(self.path, start + index, start + index)

    def sql_line(self, section: str, position: int | None) -> int:
        """The metric file's line of a position: inside an included fragment, the `-- @include` line."""
        return self.sql_origin(section, position).metric_line


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


def parse_metric_file(
    path: Path, root: Path | None = None, shared: SharedSQL | None = None
) -> MetricDefinition:
    """One file; its includes come from `shared` (default: `shared_sql/` beside the file's folder)."""
    text = path.read_text(encoding="utf-8")
    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    return parse_metric_text(text, path.stem, shown, shared or SharedSQL(fragment_dir(path), root))


def parse_metric_text(
    text: str, metric_id: str, shown_path: str, shared: SharedSQL | None = None
) -> MetricDefinition:
    """One file into a definition; DefinitionError lists every problem, in file order per parser.
    Without `shared` there is no fragment directory: an include is a problem."""
    shared = shared or SharedSQL(None)
    header = _Header(shown_path)
    if not SLUG.match(metric_id):
        header.problem(
            1, f"file name {metric_id!r} is not a metric id: use lowercase letters, digits and _ (a slug)"
        )
    scanner = _Scanner(header)
    lines = text.splitlines()
    for lineno, raw in enumerate(lines, start=1):
        scanner.feed(lineno, raw)
    scanner.sections.pop("_stray", None)

    for key in REQUIRED_KEYS:
        if header.get(key) is None:
            header.problem(header.at(key), f"header is missing {key!r}")
    period, direction, unit = (header.choice(key, allowed, expected) for key, allowed, expected in _CHOICES)
    sources = _sources(header)
    norm, alert, target = (_decimal(header, key) for key in ("norm", "alert", "target"))
    if direction in DIRECTIONS:
        for message in check_lines(direction, norm, alert, target):
            header.problem(header.at("norm") if norm is not None else header.at("target"), message)
    due = _date(header, "target_due_date")
    owner = header.get("owner")
    if owner and not EMAIL.match(owner):
        header.problem(header.at("owner"), f"owner {owner!r} is not an email address")
    typical = header.choice("typical", _TYPICALS.__contains__, "none or rolling_stat") or "none"
    options = _typical_options(header)
    sql, origins, includes = _section_sql(scanner, header, len(lines), shared)
    entity = _entity(header, has_detail=bool(sql.get("detail")))

    if header.problems:
        raise DefinitionError(header.problems)
    return MetricDefinition(
        metric_id=metric_id,
        name=header.get("name") or metric_id,
        period=period,
        unit=unit,
        direction=direction,
        sources=sources,
        value_sql=sql.get("value") or "",
        path=shown_path,
        file_hash=shared.file_hash(text, includes),
        description=header.get("description") or "",
        how_to_read=header.get("how_to_read") or "",
        methodology=header.get("methodology") or "",
        norm=norm,
        alert=alert,
        target=target,
        target_due_date=due,
        owner=owner,
        team=header.get("team"),
        tags=_split_list(header.get("tags")),
        typical=typical,
        typical_options=options,
        detail_sql=sql.get("detail"),
        history_sql=sql.get("history"),
        segments_sql=sql.get("segments"),
        section_lines=scanner.section_lines,
        entity=entity,
        engine_sql={k: v for k, v in sql.items() if "[" in k and v},
        section_origins=origins,
        includes=tuple(includes),
    )


@dataclass
class _Header:
    """The header keys read so far, each as (value, line), and every problem found in the file."""

    path: str
    keys: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def get(self, key: str) -> str | None:
        """The key's value; None when it is absent or empty."""
        return self.keys[key][0] if key in self.keys and self.keys[key][0] != "" else None

    def at(self, key: str) -> int:
        """The key's line, or line 1 when it is absent (a missing key is reported at the top)."""
        return self.keys[key][1] if key in self.keys else 1

    def choice(self, key: str, allowed: Callable[[str], bool], expected: str) -> str:
        """A key with a fixed vocabulary; "" when absent or unknown (the unknown value is reported)."""
        value = self.get(key) or ""
        if value and not allowed(value):
            self.problem(self.at(key), f"unknown {key} {value!r} (expected {expected})")
            return ""
        return value


# Header keys with a fixed vocabulary, checked in this order: (key, allowed, what the message expects).
_CHOICES: tuple[tuple[str, Callable[[str], bool], str], ...] = (
    ("period", PERIODS.__contains__, f"one of {', '.join(PERIODS)}"),
    ("direction", DIRECTIONS.__contains__, "higher_is_better or lower_is_better"),
    ("unit", valid_unit, f"{', '.join(PLAIN_UNITS)}, money:<ISO code> or one of {', '.join(COUNTED_NOUNS)}"),
)
_TYPICALS = ("none", "rolling_stat")
_SEASONALITIES = ("none", "weekday")
# Positive numbers of the typical band: (header key, TypicalOptions field, type).
_TYPICAL_NUMBERS: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("typical_window", "window_days", int),
    ("typical_min_points", "min_points", int),
    ("z_amber", "z_amber", float),
    ("z_red", "z_red", float),
)


class _Scanner:
    """One pass over the lines: header lines into the `_Header`, section lines into `sections`."""

    def __init__(self, header: _Header) -> None:
        self.header = header
        self.sections: dict[str, list[str]] = {}
        self.section_lines: dict[str, int] = {}
        self.current: str | None = None
        self.last_key: str | None = None

    def feed(self, lineno: int, raw: str) -> None:
        line = raw.rstrip()
        marker = _SECTION.match(line.strip())
        if include_name(line.strip()) is not None:
            self._include(lineno, raw)
        elif marker and marker.group(2) is not None:
            self._start_override(lineno, marker.group(1).lower(), marker.group(2).lower())
        elif marker:
            self._start_section(lineno, marker.group(1).lower())
        elif self.current is not None:
            self.sections[self.current].append(raw)
        else:
            self._header_line(lineno, line.strip())

    def _include(self, lineno: int, raw: str) -> None:
        """`-- @include <name>` is SQL of the section it stands in (expanded by _section_sql)."""
        if self.current is None:
            self.header.problem(
                lineno,
                "`-- @include` before the first section: put it inside the SQL of a section such as @value",
            )
            return
        self.sections[self.current].append(raw)

    def _start_section(self, lineno: int, name: str, *, known: bool = False) -> None:
        if name not in SECTIONS and not known:
            self.header.problem(
                lineno, f"unknown section @{name} (expected @value, @detail, @history or @segments)"
            )
            self.current = None
            return
        if name in self.sections:
            self.header.problem(lineno, f"section @{name} appears twice")
        self.current = name
        self.sections[name] = []
        self.section_lines[name] = lineno + 1

    def _start_override(self, lineno: int, name: str, engine: str) -> None:
        """`-- @value[clickhouse]`: the section's SQL on one warehouse engine (docs/scale-out.md)."""
        if name not in SECTIONS or engine not in ENGINES:
            what = f"section @{name}" if name not in SECTIONS else f"engine {engine!r}"
            self.header.problem(
                lineno,
                f"unknown {what} in @{name}[{engine}] (expected @value, @detail or @history with one of "
                f"{', '.join(ENGINES)}, e.g. -- @value[clickhouse])",
            )
            self.current = None
            return
        self._start_section(lineno, f"{name}[{engine}]", known=True)

    def _header_line(self, lineno: int, stripped: str) -> None:
        if not stripped:
            self.last_key = None  # a blank line ends a continued text value
            return
        if not stripped.startswith("--"):
            self.header.problem(
                lineno, "SQL before the first section: start the query with a `-- @value` line"
            )
            self.current = "_stray"  # swallow the stray SQL: one problem, not one per line
            self.sections["_stray"] = []
            return
        continuation = re.match(r"^--\s{3,}(\S.*)$", stripped)
        if continuation and self.last_key in TEXT_KEYS:
            value, first_line = self.header.keys[self.last_key]
            self.header.keys[self.last_key] = (f"{value} {continuation.group(1).strip()}".strip(), first_line)
            return
        match = _HEADER.match(stripped)
        if match:
            self._key(lineno, match.group(1).lower(), _TRAILING_COMMENT.sub("", match.group(2)).strip())
        elif stripped.strip("- ") != "":
            self.header.problem(lineno, f"cannot read header line {stripped!r} (expected `-- key: value`)")

    def _key(self, lineno: int, key: str, value: str) -> None:
        if key not in KNOWN_KEYS:
            self.header.problem(lineno, f"unknown header key {key!r} (known: {', '.join(KNOWN_KEYS)})")
            self.last_key = None
            return
        if key in self.header.keys:
            first = self.header.keys[key][1]
            self.header.problem(lineno, f"header key {key!r} is given twice (first on line {first})")
        self.header.keys[key] = (value, lineno)
        self.last_key = key


def _split_list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _sources(header: _Header) -> tuple[str, ...]:
    sources = _split_list(header.get("sources"))
    for source in sources:
        if not SLUG.match(source):
            header.problem(header.at("sources"), f"source {source!r} is not a dataset name (lowercase slug)")
    return sources


def _decimal(header: _Header, key: str) -> Decimal | None:
    raw = header.get(key)
    if raw is None:
        return None
    try:
        parsed = Decimal(raw.replace("_", ""))
    except InvalidOperation:
        header.problem(header.at(key), f"{key} {raw!r} is not a number")
        return None
    if not parsed.is_finite():
        header.problem(header.at(key), f"{key} {raw!r} is not a finite number")
        return None
    return parsed


def _date(header: _Header, key: str) -> date | None:
    raw = header.get(key)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        header.problem(header.at(key), f"{key} {raw!r} is not a date (YYYY-MM-DD)")
        return None


def _positive(header: _Header, key: str, kind: type[int] | type[float]) -> int | float | None:
    raw = header.get(key)
    if raw is None:
        return None
    try:
        parsed = kind(raw)
    except ValueError:
        header.problem(header.at(key), f"{key} {raw!r} is not {'an integer' if kind is int else 'a number'}")
        return None
    if parsed <= 0:
        header.problem(header.at(key), f"{key} must be positive, got {raw}")
        return None
    return parsed


def _typical_options(header: _Header) -> TypicalOptions:
    values: dict[str, Any] = {}
    for key, target, kind in _TYPICAL_NUMBERS:
        parsed = _positive(header, key, kind)
        if parsed is not None:
            values[target] = parsed
    seasonality = header.choice("typical_seasonality", _SEASONALITIES.__contains__, "none or weekday")
    if seasonality:
        values["seasonality"] = seasonality
    robust = header.get("typical_robust")
    if robust is not None:
        if robust.lower() not in ("true", "false", "yes", "no"):
            header.problem(header.at("typical_robust"), f"typical_robust {robust!r} is not true or false")
        else:
            values["robust"] = robust.lower() in ("true", "yes")
    _implausible(header, values)
    options = TypicalOptions(**values)
    if options.z_amber >= options.z_red:
        header.problem(header.at("z_amber"), f"z_amber {options.z_amber} must be below z_red {options.z_red}")
    return options


def _implausible(header: _Header, values: dict[str, Any]) -> None:
    """`-- z_implausible: N` (a positive number) or `off` (a metric whose good side may legitimately leap)."""
    raw = header.get("z_implausible")
    if raw is None:
        return
    if raw.strip().lower() in ("off", "none", "false"):
        values["z_implausible"] = None
        return
    parsed = _positive(header, "z_implausible", float)
    if parsed is not None:
        values["z_implausible"] = parsed


def _entity(header: _Header, has_detail: bool) -> EntityKey | None:
    """The entity declaration; it names columns of the @detail rows, so it needs a @detail section."""
    entity, problems = parse_entity({k: header.keys[k] for k in ENTITY_KEYS if k in header.keys})
    for line, message in problems:
        header.problem(line, message)
    if entity is not None and entity.weight_unit and not valid_unit(entity.weight_unit):
        header.problem(
            header.at("entity_weight_unit"),
            f"unknown entity_weight_unit {entity.weight_unit!r} (expected a unit such as money:EUR or count)",
        )
    if entity is not None and not has_detail:
        header.problem(entity.line, "entity is declared but there is no @detail section whose rows list it")
    return entity


def _section_sql(
    scanner: _Scanner, header: _Header, line_count: int, shared: SharedSQL
) -> tuple[dict[str, str | None], dict[str, tuple[SqlOrigin, ...]], list[str]]:
    """Each section's SQL, includes expanded, without trailing semicolons; its line moves to its first
    non-blank line. Also the origin of each SQL line and the fragments included (in order of first use)."""
    found: dict[str, str | None] = {}
    origins: dict[str, tuple[SqlOrigin, ...]] = {}
    used: list[str] = []
    for name, section in scanner.sections.items():
        expanded = shared.expand(section, scanner.section_lines[name], header.path)
        for line, message in expanded.problems:
            header.problem(line, message)
        used += [fragment for fragment in expanded.used if fragment not in used]
        lines = expanded.lines
        leading = next((i for i, item in enumerate(lines) if item.strip()), 0)
        origins[name] = tuple(expanded.origins[leading:])
        if origins[name]:
            scanner.section_lines[name] = origins[name][0].metric_line
        found[name] = _clean_sql("\n".join(lines))
    if "value" not in found:
        header.problem(
            line_count or 1, "missing `-- @value` section (the SQL that returns the metric's value)"
        )
    elif not found["value"]:
        header.problem(scanner.section_lines["value"] - 1, "the @value section is empty")
    return found, origins, used


def _clean_sql(text: str) -> str | None:
    sql = text.strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return sql or None


@dataclass
class LoadResult:
    definitions: list[MetricDefinition]
    errors: list[DefinitionError]
    unreadable: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for e in self.errors for p in e.problems] + self.unreadable


def load_directory(directory: Path, shared_dir: Path | None = None) -> LoadResult:
    """Parse every `*.sql` in the directory; one bad file never hides the others. Includes come from
    `shared_dir` (default `shared_sql/` beside the directory), each fragment read once."""
    result = LoadResult([], [])
    if not directory.is_dir():
        result.unreadable.append(Problem(str(directory), 0, "metric definitions directory does not exist"))
        return result
    shared = SharedSQL(shared_dir or directory.parent / SHARED_DIR, directory.parent)
    for path in sorted(directory.glob("*.sql")):
        try:
            result.definitions.append(parse_metric_file(path, directory.parent, shared))
        except DefinitionError as exc:
            result.errors.append(exc)
        except (OSError, UnicodeDecodeError) as exc:
            result.unreadable.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
    return result
