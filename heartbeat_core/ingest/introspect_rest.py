"""Sample a JSON API and propose how its endpoints land: `heartbeat sources add rest NAME --path /tickets`.

The first page of each path is read (GET, `Authorization: Bearer` from the token variable when given), its
records found under the data selector (`items` unless told; else the only list in the body), and their fields
typed like CSV cells (`introspect_files.plan_from_sample`): an `id`-like key, the business timestamp, a status
and an amount. Pagination follows the connector's convention (`page` / `next_page`); an endpoint is re-read
each run and merged on its key, or appended when it has none. Nested objects and lists land as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from heartbeat_core.ingest.config import IDENT
from heartbeat_core.ingest.introspect import IntrospectError, TablePlan
from heartbeat_core.ingest.introspect_files import plan_from_sample
from heartbeat_core.redaction import redact

TIMEOUT_S = 15.0


def _get(base_url: str, path: str, token: str | None) -> Any:
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT_S, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise IntrospectError(f"GET {redact(url)}: {redact(str(exc)) or type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise IntrospectError(
            f"GET {redact(url)}: {response.status_code} — check the token variable (--token-env)"
        )
    if response.status_code >= 400:
        raise IntrospectError(
            f"GET {redact(url)}: HTTP {response.status_code} (expected 200 with a JSON body)"
        )
    try:
        return response.json()
    except ValueError:
        raise IntrospectError(f"GET {redact(url)}: the body is not JSON") from None


def _records(body: Any, selector: str | None, where: str) -> tuple[list[dict[str, Any]], str]:
    """The page's records and the selector that finds them."""
    if isinstance(body, list):
        raise IntrospectError(
            f"{where}: the body is a bare list; the connector expects an object with a list in it"
        )
    if not isinstance(body, dict):
        raise IntrospectError(f"{where}: expected a JSON object with a list of records")
    if selector is None:
        lists = [k for k, v in body.items() if isinstance(v, list)]
        selector = "items" if "items" in lists else (lists[0] if len(lists) == 1 else None)
        if selector is None:
            raise IntrospectError(
                f"{where}: no single list of records in the body; name it with --data-selector"
            )
    records = body.get(selector)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise IntrospectError(f"{where}: {selector!r} is not a list of objects")
    if not records:
        raise IntrospectError(
            f"{where}: {selector!r} is empty on the first page: nothing to type the columns by"
        )
    return records, selector


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def table_name(path: str) -> str:
    return path.strip("/").split("/")[-1].replace("-", "_").lower()


def inspect_rest(
    base_url: str, paths: list[str], token: str | None, selector: str | None
) -> list[tuple[TablePlan, str, str]]:
    """(plan, path, data selector) per endpoint; IntrospectError with one line naming what to fix."""
    if not paths:
        raise IntrospectError("name at least one endpoint with --path (e.g. --path /tickets)")
    out = []
    for path in paths:
        name = table_name(path)
        where = f"GET {redact(base_url.rstrip('/'))}{path}"
        if not IDENT.match(name):
            raise IntrospectError(f"{where}: table name {name!r} is not an identifier (lowercase, digits, _)")
        records, found = _records(_get(base_url, path, token), selector, where)
        names = list(dict.fromkeys(k for r in records for k in r))
        bad = [n for n in names if not IDENT.match(n)]
        if bad:
            raise IntrospectError(
                f"{where}: field names must be lowercase identifiers (got {', '.join(bad)})"
            )
        rows = [{k: _cell(r.get(k)) for k in names} for r in records]
        plan, _ = plan_from_sample(name, names, rows, len(json.dumps(records)))
        out.append((plan, path, found))
    return out
