"""Parse `rollups/<id>.sql`: a header naming the landed table, its change cursor and time column, then one SELECT.

    -- name: Ledger entries per day and client
    -- table: webbank.entry          the landed table whose new or changed rows touch days
    -- cursor: updated_at            its change cursor: rows past the last refresh's watermark are new or changed
    -- time: create_time             the column a row's business day is taken from
    -- reach: 31 days                optional: a day's rows read source rows of up to N days before it
    -- index: prev_day; client_id, day  optional: more indexes of the stored table (`;` between them)
    -- watch: webbank.client_profile (cursor updated_at) id = client_profile_id, columns tier
                                     optional: a second table the query joins (a dimension: a client's tier);
                                     its rows changed past their cursor's watermark (and, with `columns`,
                                     whose listed columns differ from the last refresh's) touch the days of
                                     the landed table's rows with their key
    SELECT e.create_time::date AS day, e.client_profile_id, count(*) AS entries, sum(e.fee) AS fee
    FROM webbank.entry e
    WHERE e.create_time >= heartbeat.rollup_from() AND e.create_time < heartbeat.rollup_to()
    GROUP BY 1, 2

The SELECT returns a `day` column (the business day of `time`, in the session's time zone, which compute and
refresh set to the project's) and bounds `time` by `heartbeat.rollup_from()` / `rollup_to()`, so the same SQL
rebuilds any range of days and reads the still-open part of a window from raw rows. Problems name file and line.

A rollup with a reach (e.g. each client's gap since its previous active day, capped at 31 days) looks back
before `rollup_from()` itself; a late row of day t then changes days t..t+N, which the refresh rebuilds, and
metrics read only its whole days (a window's cut day and today come from raw rows in the metric's own SQL).

A rollup that joins a dimension (`-- watch:`, e.g. per day × tier, the tier read from client_profile) stays
exact when a dimension row changes: that row's key touches every day of the landed table's rows carrying it,
and those days are rebuilt like days of late rows (with their reach). With `columns`, the refresh keeps the
listed columns of every dimension row as of its last build (`rollups."<id>__watched"`), and only a row whose
columns differ (or that is new) touches days: a profile edited for another reason rebuilds nothing. The landed
table wants an index on that key column (the refresh asks for its days by key).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from heartbeat_core.metrics.definition import SLUG, Problem

_HEADER = re.compile(r"^--\s?([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_QUALIFIED = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
FROM_CALL = re.compile(r"\bheartbeat\s*\.\s*rollup_from\s*\(\s*\)", re.IGNORECASE)
TO_CALL = re.compile(r"\bheartbeat\s*\.\s*rollup_to\s*\(\s*\)", re.IGNORECASE)
KEYS = ("name", "description", "table", "cursor", "time", "reach", "index", "watch")
_REACH = re.compile(r"^(\d{1,3})\s+days?$")
_WATCH = re.compile(
    r"^([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(\s*cursor\s+([a-z_][a-z0-9_]*)\s*\)"
    r"\s*([a-z_][a-z0-9_]*)\s*=\s*([a-z_][a-z0-9_]*)"
    r"(?:\s*,\s*columns\s+([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*))?$"
)
WATCH_EXAMPLE = "webbank.client_profile (cursor updated_at) id = client_profile_id, columns tier"


@dataclass(frozen=True)
class Watch:
    """A dimension table the rollup's query joins: its change cursor, its key and the landed table's column
    holding that key."""

    table: str
    cursor_column: str
    key_column: str
    source_column: str
    columns: tuple[str, ...] = ()  # the dimension columns the query reads; () = any change of the row

    @property
    def spec(self) -> str:
        spec = f"{self.table} (cursor {self.cursor_column}) {self.key_column} = {self.source_column}"
        return spec + (f", columns {', '.join(self.columns)}" if self.columns else "")


def parse_watch(value: str) -> Watch | None:
    """`schema.table (cursor c) key = column[, columns a, b]` → Watch; None when empty or malformed."""
    match = _WATCH.match(value.strip())
    if not match:
        return None
    table, cursor, key, source, columns = match.groups()
    return Watch(
        table, cursor, key, source, tuple(c.strip() for c in (columns or "").split(",") if c.strip())
    )


REQUIRED = ("table", "cursor", "time")


@dataclass(frozen=True)
class RollupDefinition:
    rollup_id: str
    source_table: str
    cursor_column: str
    time_column: str
    sql: str
    path: str
    file_hash: str
    name: str = ""
    description: str = ""
    sql_start_line: int = 1
    key_lines: tuple[tuple[str, int], ...] = ()
    reach_days: int = 0
    index_columns: tuple[str, ...] = ()
    watch: Watch | None = None

    @property
    def watch_spec(self) -> str:
        """The watch as the registry stores it ("" for none)."""
        return self.watch.spec if self.watch else ""

    def sql_line(self, position: int | None) -> int:
        """File line of a 1-based character position inside the SQL (as Postgres reports it)."""
        if not position:
            return self.sql_start_line
        return self.sql_start_line + self.sql[: max(position - 1, 0)].count("\n")

    def key_line(self, key: str) -> int:
        return dict(self.key_lines).get(key, 1)


@dataclass
class RollupLoad:
    definitions: list[RollupDefinition]
    problems: list[Problem]


def parse_rollup(path: Path) -> tuple[RollupDefinition | None, list[Problem]]:
    """One file; either a definition or every problem found in it."""
    where = str(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    values: dict[str, str] = {}
    key_lines: dict[str, int] = {}
    problems: list[Problem] = []
    sql_start = len(lines) + 1
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or (stripped.startswith("--") and not _HEADER.match(stripped)):
            continue
        match = _HEADER.match(stripped)
        if match is None:
            sql_start = number
            break
        key, value = match.group(1).lower(), match.group(2).strip()
        if key not in KEYS:
            problems.append(
                Problem(where, number, f"unknown header key {key!r} (expected one of {', '.join(KEYS)})")
            )
            continue
        values[key], key_lines[key] = value, number
    sql = "\n".join(lines[sql_start - 1 :]).strip().rstrip(";").strip()
    problems += _check(where, path.stem, values, key_lines, sql, sql_start)
    if problems:
        return None, problems
    return RollupDefinition(
        rollup_id=path.stem,
        source_table=values["table"],
        cursor_column=values["cursor"],
        time_column=values["time"],
        sql=sql,
        path=where,
        file_hash=hashlib.sha256(text.encode()).hexdigest(),
        name=values.get("name", ""),
        description=values.get("description", ""),
        sql_start_line=sql_start,
        key_lines=tuple(key_lines.items()),
        reach_days=_reach(values.get("reach", "")),
        index_columns=_index_columns(values.get("index", "")),
        watch=parse_watch(values.get("watch", "")),
    ), []


def _reach(value: str) -> int:
    match = _REACH.match(value.strip())
    return int(match.group(1)) if match else 0


def _index_columns(value: str) -> tuple[str, ...]:
    """`a; b, c` → ("a", "b, c"): one entry per index, its columns comma-separated."""
    return tuple(", ".join(c.strip() for c in part.split(",")) for part in value.split(";") if part.strip())


def _check(
    where: str, stem: str, values: dict[str, str], key_lines: dict[str, int], sql: str, sql_start: int
) -> list[Problem]:
    problems = []
    if not SLUG.match(stem):
        problems.append(Problem(where, 1, f"file name {stem!r} is not an id (expected lower_snake_case.sql)"))
    for key in REQUIRED:
        if not values.get(key):
            problems.append(Problem(where, 1, f"missing header `-- {key}:` (expected {_EXPECTED[key]})"))
    if values.get("table") and not _QUALIFIED.match(values["table"]):
        problems.append(
            Problem(where, key_lines["table"], f"table {values['table']!r}: expected schema.table")
        )
    for key in ("cursor", "time"):
        if values.get(key) and not _IDENT.match(values[key]):
            problems.append(
                Problem(where, key_lines[key], f"{key} {values[key]!r}: expected one column name")
            )
    problems += _check_optional(where, values, key_lines)
    if not sql:
        problems.append(Problem(where, sql_start, "no SELECT after the header (expected the rollup's query)"))
    elif not (FROM_CALL.search(sql) and TO_CALL.search(sql)):
        problems.append(
            Problem(
                where,
                sql_start,
                "the query must bound its time column by heartbeat.rollup_from() and heartbeat.rollup_to()"
                " (so a refresh rebuilds only the days it touches)",
            )
        )
    return problems


def _check_optional(where: str, values: dict[str, str], key_lines: dict[str, int]) -> list[Problem]:
    """`-- reach:` is a number of days, `-- index:` a list of column names, `-- watch:` a dimension table."""
    problems = []
    if values.get("reach") and not _REACH.match(values["reach"].strip()):
        problems.append(
            Problem(
                where,
                key_lines["reach"],
                f"reach {values['reach']!r}: expected a number of days, e.g. `31 days`",
            )
        )
    if values.get("watch") and parse_watch(values["watch"]) is None:
        problems.append(
            Problem(
                where,
                key_lines["watch"],
                f"watch {values['watch']!r}: expected `schema.table (cursor <column>) <its key> = <column of"
                f" the table>[, columns <the columns the query reads>]`, e.g. `{WATCH_EXAMPLE}`",
            )
        )
    columns = [c.strip() for part in values.get("index", "").split(";") for c in part.split(",")]
    if values.get("index") and not all(_IDENT.match(c) for c in columns):
        problems.append(
            Problem(
                where,
                key_lines["index"],
                f"index {values['index']!r}: expected column names, e.g. `prev_day; client_id, day`",
            )
        )
    return problems


_EXPECTED = {
    "table": "the landed table, schema.table",
    "cursor": "its change cursor column, e.g. updated_at",
    "time": "the column whose day a row belongs to, e.g. create_time",
}


def load_rollups(directory: Path) -> RollupLoad:
    """Every `*.sql` in `directory` (none when it does not exist); one bad file never hides the others."""
    load = RollupLoad([], [])
    if not directory.is_dir():
        return load
    for path in sorted(directory.glob("*.sql")):
        definition, problems = parse_rollup(path)
        load.problems += problems
        if definition is not None:
            load.definitions.append(definition)
    return load
