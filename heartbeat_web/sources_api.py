"""REST for issue 18: `GET /api/sources`, each source's freshness and its data-test verdicts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder

from heartbeat_core.readmodel.freshness import sources_status
from heartbeat_core.readmodel.suspect import test_lines, test_results
from heartbeat_web.deps import database_reads, web

router = APIRouter(prefix="/api")


@router.get("/sources", summary="Each source: last load, freshness, and its data tests (failing ones first)")
def api_sources(request: Request) -> Any:
    with database_reads(web(request)) as conn:
        if conn is None:
            raise HTTPException(503, "the database is unreachable; the sources list is not cached")
        lines = test_lines(conn)
        sources = [s.model_copy(update={"tests": lines.get(s.source, [])}) for s in sources_status(conn)]
        tests = sorted(test_results(conn), key=lambda t: t["status"] == "pass")
    return jsonable_encoder({"sources": sources, "tests": tests})
