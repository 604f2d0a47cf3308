"""A failing data test as incident evidence (issue 18): problem metrics made suspect by the same failing test
share its cause, so an incident groups them and names the test ("failing data test webbank.entry
unique(payment_id)"). Read from each state's `suspect` flag (`readmodel.suspect`), so the grouping follows the
same table-level lineage the flag does."""

from __future__ import annotations

import re
from typing import Any

_PREFIX = "data test failed: "
_TAIL = re.compile(r"(: [\d,.]+[kM]? failing rows)?( \(\+\d+ more\))?$")


def failing_test_keys(state: Any) -> set[str]:
    """`failing data test {source}.{table} {test}({columns})` per suspect flag of the state."""
    keys = set()
    for flag in getattr(state, "flags", None) or []:
        if flag.kind == "suspect" and flag.reason.startswith(_PREFIX):
            keys.add("failing data test " + _TAIL.sub("", flag.reason.removeprefix(_PREFIX)))
    return keys
