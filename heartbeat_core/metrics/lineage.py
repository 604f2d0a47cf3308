"""Which mart tables a metric's SQL reads (table-level lineage, sqlglot over the postgres dialect).

Two problem metrics that read the same table share evidence of one cause (incidents); CTE names are not
tables. A statement that does not parse reads nothing we can name, never an error here (the gate reports it).
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp


@lru_cache(maxsize=1024)
def tables_read(sql: str) -> frozenset[str]:
    """`schema.table` names the SQL reads (lower case), without its CTEs; empty when it does not parse."""
    try:
        statements = sqlglot.parse(sql, dialect="postgres")
    except sqlglot.errors.SqlglotError:
        return frozenset()
    found: set[str] = set()
    for statement in statements:
        if statement is None:
            continue
        ctes = {c.alias_or_name.lower() for c in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if not name or (not table.db and name in ctes):
                continue
            found.add(f"{table.db.lower()}.{name}" if table.db else name)
    return frozenset(found)
