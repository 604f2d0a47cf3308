"""Table-level lineage of a metric: which landed tables its SQL reads, parsed with sqlglot (not guessed from
the `sources` header). A failing data test marks only the metrics that read the broken table (suspect); two
problem metrics that read the same table share evidence of one cause (incidents)."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp


@lru_cache(maxsize=4096)
def tables_read(sql: str) -> frozenset[tuple[str, str]]:
    """`(schema, table)` of every schema-qualified table the statement reads, CTE names and heartbeat's own
    schema left out. A statement sqlglot cannot parse reads nothing it can name (an empty set)."""
    try:
        trees = sqlglot.parse(sql, read="postgres")
    except sqlglot.errors.SqlglotError:
        return frozenset()
    found: set[tuple[str, str]] = set()
    for tree in trees:
        if tree is None:
            continue
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            schema, name = table.db, table.name
            if schema and name and schema != "heartbeat" and name not in ctes:
                found.add((schema.lower(), name.lower()))
    return frozenset(found)


def metric_tables(value_sql: str, detail_sql: str | None = None) -> frozenset[tuple[str, str]]:
    """The tables behind a metric's value and its detail rows."""
    return tables_read(value_sql) | (tables_read(detail_sql) if detail_sql else frozenset())
