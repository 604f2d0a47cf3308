"""`/catalog`: every metric and audit cut with what it means, from the registries (laptop page).

The same entries as `heartbeat catalog export` (`heartbeat_core.readmodel.catalog`); the filter box is a
small client-side script over the rendered entries.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from heartbeat_core import clock
from heartbeat_core.formatting import format_clock
from heartbeat_core.readmodel.catalog import catalog
from heartbeat_web.deps import database_reads, web
from heartbeat_web.views import _html

router = APIRouter(include_in_schema=False)


@router.get("/catalog", response_class=HTMLResponse)
def catalog_page(request: Request) -> Response:
    w = web(request)
    with database_reads(w) as conn:
        if conn is None:
            page = w.env.get_template("not_found.html").render(
                build=w.build, message="The database is unreachable; the catalog is read from its registries."
            )
            return _html(page, 503, {"Retry-After": "5"})
        cat = catalog(conn)
    now = clock.now()
    generated = format_clock(now, now, w.settings.tz)  # rendered per request: a time, no "(0 s ago)"
    page = w.env.get_template("catalog.html").render(build=w.build, cat=cat, generated=generated)
    return _html(page)
