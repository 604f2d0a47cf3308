"""Read a folder of CSV files and propose how they land: `heartbeat sources add files NAME --path DIR`.

Files group into tables by name (`orders_20261201.csv` and `orders_20261202.csv` → table `orders`); the newest
file of each table is sampled (up to `SAMPLE_ROWS` rows) to type its columns (bigint, decimal, date, timestamp,
bool, text), find a unique `id`-like key, the business timestamp (the watermark and what starter metrics count
by), a status and an amount column. Files land incrementally (new files only), so a table without a key is
appended, never replaced.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from heartbeat_core.ingest.config import IDENT
from heartbeat_core.ingest.introspect import (
    _AMOUNT,
    _STATUS,
    MAX_STATUS_VALUES,
    Column,
    IntrospectError,
    TablePlan,
)
from heartbeat_core.metrics.scaffold import pick_time_column

SAMPLE_ROWS = 1000
_DATED = re.compile(r"[_-]?\d{4}-?\d{2}-?\d{2}$")
# our column type → the catalogue type the starter metrics and pattern rules read
PG_TYPE = {
    "bigint": "bigint",
    "decimal": "numeric",
    "date": "date",
    "timestamp": "timestamp with time zone",
    "bool": "boolean",
    "text": "text",
}


def _is(value: str, parse: type | object) -> bool:
    try:
        parse(value)  # type: ignore[operator]
    except (ValueError, InvalidOperation, TypeError):
        return False
    return True


def _timestamp(value: str) -> datetime:
    if len(value) <= 10:
        raise ValueError("a date")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def infer_type(values: list[str]) -> str:
    """The narrowest of our file column types that parses every non-empty sample value."""
    seen = [v.strip() for v in values if v.strip()]
    if not seen:
        return "text"
    for kind, parse in (
        ("bigint", int),
        ("decimal", Decimal),
        ("date", date.fromisoformat),
        ("timestamp", _timestamp),
    ):
        if all(_is(v, parse) for v in seen):
            return kind
    if all(v.lower() in ("true", "false", "t", "f", "yes", "no") for v in seen):
        return "bool"
    return "text"


def table_name(path: Path) -> str:
    return _DATED.sub("", path.stem).lower()


def _sample(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [row for _, row in zip(range(SAMPLE_ROWS), reader, strict=False)]
            names = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IntrospectError(f"{path}: cannot read as UTF-8 CSV ({exc})") from None
    bad = [n for n in names if not IDENT.match(n)]
    if not names or bad:
        raise IntrospectError(
            f"{path}: header columns must be lowercase identifiers (got {', '.join(bad) or 'none'})"
        )
    return names, rows


def _plan_table(name: str, files: list[Path]) -> tuple[TablePlan, dict[str, str]]:
    newest = max(files, key=lambda p: p.stat().st_mtime)
    names, rows = _sample(newest)
    return plan_from_sample(name, names, rows, sum(p.stat().st_size for p in files))


def plan_from_sample(
    name: str, names: list[str], rows: list[dict[str, str]], size: int
) -> tuple[TablePlan, dict[str, str]]:
    """A table's plan from sampled rows as text (CSV cells, or JSON values of a REST page as strings)."""
    types = {n: infer_type([r.get(n) or "" for r in rows]) for n in names}
    columns = [Column(n, PG_TYPE[types[n]]) for n in names]
    key = next(
        (n for n in ("id", f"{name}_id") if n in types and len({r.get(n) for r in rows}) == len(rows)), None
    )
    table = TablePlan(name, columns, [key] if key else [], len(rows), size)
    table.write_disposition = "merge" if key else "append"
    table.cursor = ""
    table.business_time = pick_time_column([(c.name, c.type) for c in columns])
    for col in names:
        values = Counter(r[col] for r in rows if r.get(col))
        if (
            table.status_column is None
            and _STATUS.match(col)
            and types[col] == "text"
            and 0 < len(values) <= MAX_STATUS_VALUES
        ):
            table.status_column, table.status_values = col, [v for v, _ in values.most_common()]
        if (
            table.amount_column is None
            and _AMOUNT.match(col)
            and types[col] in ("decimal", "bigint")
            and col != key
        ):
            table.amount_column = col
    table.indexes = [table.business_time] if table.business_time else []
    return table, types


def inspect_folder(folder: Path, pattern: str = "*.csv") -> list[tuple[TablePlan, dict[str, str], str]]:
    """(plan, column types, glob) per table of the CSV files in `folder`; IntrospectError with one line."""
    if not folder.is_dir():
        raise IntrospectError(f"folder {folder} does not exist")
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not files:
        raise IntrospectError(f"no files match {pattern} in {folder}")
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(table_name(path), []).append(path)
    bad = [t for t in groups if not IDENT.match(t)]
    if bad:
        raise IntrospectError(f"file names give table names that are not identifiers: {', '.join(bad)}")
    out = []
    for name, members in sorted(groups.items()):
        plan, types = _plan_table(name, members)
        suffix = members[0].suffix
        dated = any(p.stem.lower() != name for p in members)
        glob = f"{name}[_-][0-9]*{suffix}" if dated else f"{name}{suffix}"
        out.append((plan, types, glob))
    return out
