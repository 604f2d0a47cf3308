"""Data tests as declared in `sources.toml`, per table, parsed one by one.

    [sources.webbank.tables.entry]
    tests = [
      { unique = ["payment_id"] },                        # one or several columns, together unique
      { not_null = ["client_profile_id", "fee"] },
      { accepted_values = "product", values = ["sepa_transfer", "swift_transfer"] },
      { relationships = "payment_id", to = "payment.id" },  # every value found in a landed table's column
      { rows_per_day = "create_time" },                   # rows so far today vs the same hours of past same
                                                          # weekdays (z beyond 4 either way fails; `z = 5`)
      { rows_per_load = true },                           # rows the last load brought vs earlier loads
    ]

A bad declaration (unknown test, wrong shape, a relationship to a table no source declares) becomes an `error`
result naming the file, source, table and key; the other tests and sources still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from heartbeat_core.ingest.config import IDENT, AnySource, WebhookSource

TestName = Literal["unique", "not_null", "accepted_values", "relationships", "rows_per_day", "rows_per_load"]
TEST_NAMES: tuple[TestName, ...] = (
    "unique",
    "not_null",
    "accepted_values",
    "relationships",
    "rows_per_day",
    "rows_per_load",
)
_EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "accepted_values": ("values",),
    "relationships": ("to",),
    "rows_per_day": ("z",),
    "rows_per_load": ("z",),
}
_ALL_EXTRA = {k for keys in _EXTRA_KEYS.values() for k in keys}
VOLUME_Z = 4.0  # the row-volume band's default half-width in σ, as the implausible band's (z_implausible)


@dataclass(frozen=True)
class TestSpec:
    """One declared test on one landed table; `problem` set when the declaration itself is wrong."""

    source: str
    table: str
    test: str
    columns: tuple[str, ...]
    values: tuple[str, ...] = ()
    to_source: str | None = None
    to_table: str | None = None
    to_column: str | None = None
    z: float = VOLUME_Z
    problem: str | None = None
    where: str = field(default="", compare=False)  # "file: source 'x', table 'y', tests[2]" for messages

    @property
    def key(self) -> str:
        return f"{self.test}:{','.join(self.columns)}"

    @property
    def subject_id(self) -> str:
        """The alert subject (`source_test`): `{source}.{table}:{test}:{columns}`."""
        return f"{self.source}.{self.table}:{self.key}"


def _columns(raw: Any) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else None
    if not items or not all(isinstance(c, str) and IDENT.match(c.strip()) for c in items):
        raise ValueError(f"expected a column or a list of columns (lowercase identifiers), got {raw!r}")
    return tuple(c.strip() for c in items)


def _target(raw: Any, source: str, sources: dict[str, AnySource]) -> tuple[str, str, str]:
    """`table.column` in the same source, or `source.table.column`; the table must be declared."""
    parts = raw.split(".") if isinstance(raw, str) else []
    if len(parts) not in (2, 3) or not all(IDENT.match(p) for p in parts):
        raise ValueError(f"key 'to': expected 'table.column' or 'source.table.column', got {raw!r}")
    src, table, column = parts if len(parts) == 3 else [source, *parts]
    if table not in _tables(sources.get(src)):
        raise ValueError(f"key 'to': table {src}.{table} is not declared in sources.toml")
    return src, table, column


def _tables(source: AnySource | None) -> dict[str, Any]:
    """A source's declared tables (a webhook source has one, `table`, with no tests)."""
    if source is None:
        return {}
    if isinstance(source, WebhookSource):
        return {source.table: None}
    return dict(source.tables)


def _one(raw: Any, source: str, table: str, sources: dict[str, AnySource]) -> TestSpec:
    if not isinstance(raw, dict):
        raise ValueError(f'expected a table like {{ unique = ["id"] }}, got {raw!r}')
    names = [k for k in raw if k in TEST_NAMES]
    unknown = [k for k in raw if k not in TEST_NAMES and k not in _ALL_EXTRA]
    if unknown or len(names) != 1:
        what = f"unknown test {unknown[0]!r}" if unknown else "expected exactly one test name"
        raise ValueError(f"{what} (expected one of {', '.join(TEST_NAMES)})")
    test = names[0]
    stray = [k for k in raw if k != test and k not in _EXTRA_KEYS.get(test, ())]
    if stray:
        raise ValueError(f"key {stray[0]!r} does not belong to a {test} test")
    if test in ("rows_per_day", "rows_per_load"):
        return _volume(raw, test, source, table)
    columns = _columns(raw[test])
    if test == "unique" or test == "not_null":
        return TestSpec(source, table, test, columns)
    if len(columns) != 1:
        raise ValueError(f"{test} takes one column, got {list(columns)}")
    if test == "accepted_values":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise ValueError("key 'values': expected a non-empty list of accepted values")
        return TestSpec(source, table, test, columns, values=tuple(str(v) for v in values))
    to_source, to_table, to_column = _target(raw.get("to"), source, sources)
    return TestSpec(source, table, test, columns, to_source=to_source, to_table=to_table, to_column=to_column)


def _volume(raw: dict[str, Any], test: str, source: str, table: str) -> TestSpec:
    """`rows_per_day` names the business timestamp its days are counted by; `rows_per_load` is `true`."""
    z = raw.get("z", VOLUME_Z)
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not 1 <= z <= 20:
        raise ValueError(f"key 'z': expected a number of σ between 1 and 20, got {z!r}")
    if test == "rows_per_load":
        if raw[test] is not True:
            raise ValueError(f"key 'rows_per_load': expected true, got {raw[test]!r}")
        return TestSpec(source, table, test, (), z=float(z))
    columns = _columns(raw[test])
    if len(columns) != 1:
        raise ValueError(f"rows_per_day takes one timestamp column, got {list(columns)}")
    return TestSpec(source, table, test, columns, z=float(z))


def declared_tests(sources: dict[str, AnySource], path: str, only: str | None = None) -> list[TestSpec]:
    """Every test of every source (or of `only`), a wrong declaration as a spec with its `problem`."""
    specs: list[TestSpec] = []
    for name, source in sorted(sources.items()):
        if only is not None and name != only:
            continue
        for table, config in sorted(_tables(source).items()):
            for n, raw in enumerate(config.tests if config is not None else []):
                where = f"{path}: source {name!r}, table {table!r}, tests[{n}]"
                try:
                    spec = _one(raw, name, table, sources)
                except ValueError as exc:
                    test = next((k for k in raw if isinstance(k, str)), "?") if isinstance(raw, dict) else "?"
                    spec = TestSpec(name, table, str(test), (f"#{n}",), problem=f"{where}: {exc}")
                specs.append(TestSpec(**{**spec.__dict__, "where": where}))
    return specs
