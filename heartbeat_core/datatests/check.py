"""Wrong data-test declarations, found before any test runs: `heartbeat sync` fails on them (naming the file,
source, table and key) so a typo in `sources.toml` is caught when it is written, not at 3 am.

Three kinds: the declaration itself (unknown test name, wrong shape, a relationship to a table no source
declares, see `spec`), and a column the landed table does not have (the test's own columns, or the column a
relationship points at). A table that has not landed yet is not a wrong declaration: its tests say so when
they run. Nothing here stops a source from landing: ingest never reads the `tests` lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from heartbeat_core.datatests.run import landed_columns, missing
from heartbeat_core.datatests.spec import TestSpec, declared_tests
from heartbeat_core.ingest.config import SourcesConfigError, load_sources


def declaration_problems(conn: psycopg.Connection[Any], path: Path) -> list[str]:
    """One line per wrong declaration in `path` (none when the file is absent or unreadable: a broken
    `sources.toml` is reported by ingest and by `heartbeat sources test`)."""
    if not path.exists():
        return []
    try:
        sources = load_sources(path)
    except SourcesConfigError:
        return []
    problems = []
    for spec in declared_tests(sources, str(path)):
        if spec.problem:
            problems.append(spec.problem)
        elif _landed(conn, spec):
            absent = missing(conn, spec)
            if absent:
                problems.append(absent)
    return problems


def _landed(conn: psycopg.Connection[Any], spec: TestSpec) -> bool:
    """The test's table (and a relationship's target) have landed, so their columns can be checked."""
    if not landed_columns(conn, spec.source, spec.table):
        return False
    if spec.to_source and spec.to_table:
        return bool(landed_columns(conn, spec.to_source, spec.to_table))
    return True
