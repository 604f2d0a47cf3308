"""schemathesis hooks for tests/test_web_schemathesis.py: `only_401`, the check of a run without a
credential (every operation is refused; none answers data)."""

from __future__ import annotations

import re
from typing import Any

import schemathesis

DATA = re.compile(r"shop_|rates_coverage|ACME|Customers with")


@schemathesis.check
def only_401(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code != 401:
        raise AssertionError(f"expected 401 without a credential, got {response.status_code}")
    if DATA.search(response.text or ""):
        raise AssertionError("a refusal carried metric data")
    return None
