"""MCP tools over the audit cuts: `audit_page` and `audit_cut`, summarised for an agent's context.

Both read snapshots only (never compute a cut) and return the takeaway and the few rows that carry it,
not whole series; the full payload stays on the web page and in `GET /api/audit/cuts/{id}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from heartbeat_core.audit import UnknownCut, UnknownPage, UnknownWindow, cut_view, page_view, pages_index
from heartbeat_core.audit.read import summarize_cut
from heartbeat_mcp.answers import READ, answer, tool_errors
from heartbeat_mcp.heartbeat import Heartbeat

TOP_ON_PAGE = 3
TOP_IN_CUT = 8


class CutSummary(BaseModel):
    cut_id: str
    title: str
    page: str
    kind: str
    question: str = ""
    window: str
    windows: list[str] = Field(default_factory=list)
    takeaway: str | None = None
    unit: str | None = None
    top: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    how_to_read: str | None = None
    computed_at: str | None = None
    freshness: str
    out_of_date: str | None = Field(default=None, description="set when its sources landed after it")
    error: str | None = None
    related_metrics: list[dict[str, Any]] = Field(default_factory=list)
    verification_state: str
    owner: str | None = None
    url: str


class CutLine(BaseModel):
    cut_id: str
    title: str
    takeaway: str | None = None
    freshness: str
    out_of_date: str | None = None
    error: str | None = None


class PageLine(BaseModel):
    page: str
    title: str
    cuts: list[CutLine] = Field(default_factory=list)


class PageSummary(BaseModel):
    page: str
    title: str
    intro: str = ""
    window: str | None = None
    cuts: list[CutSummary] = Field(default_factory=list)
    pages: list[PageLine] = Field(
        default_factory=list, description="with no page asked: every page, one line per cut"
    )


def _pages(pages: list[dict[str, Any]]) -> PageSummary:
    """Every page with one line per cut: its takeaway and freshness."""
    return PageSummary(
        page="",
        title="Audit pages",
        pages=[
            PageLine(
                page=p["page"],
                title=p["title"],
                cuts=[
                    CutLine(
                        cut_id=c["cut_id"],
                        title=c["title"],
                        takeaway=(c["payload"] or {}).get("takeaway"),
                        freshness=c["freshness"],
                        out_of_date=c["freshness_reason"] if c.get("out_of_date") else None,
                        error=c["error"],
                    )
                    for c in p["cuts"]
                ],
            )
            for p in pages
        ],
    )


def _summary(view: dict[str, Any], top: int, with_prose: bool) -> CutSummary:
    data = summarize_cut(view, top)
    known = set(CutSummary.model_fields)
    extra = {k: v for k, v in data.items() if k not in known}
    summary = CutSummary(**{k: v for k, v in data.items() if k in known})
    if "last_category" in extra:
        summary.top.append({"latest": extra["last_category"]})
    if with_prose:
        summary.how_to_read = view["how_to_read"] or None
    return summary


def register(server: MCPServer, hb: Heartbeat) -> None:
    """Add `audit_page` and `audit_cut`."""

    @server.tool(annotations=READ)
    def audit_page(page: str = "", window: str | None = None) -> Annotated[CallToolResult, PageSummary]:
        """An audit page (clients, journeys, risk, ...): each cut's question, takeaway and top rows, in page
        order. Empty `page` gives every page with its cuts' takeaways. `window`: 7d, 30d or 90d (default:
        each cut's own). Audit cuts answer the questions a red metric raises: which clients, where, since when."""
        with tool_errors():
            try:
                with hb.connection() as conn:
                    if not page:
                        return answer(_pages(pages_index(conn)))
                    view = page_view(conn, page, window)
            except (UnknownPage, UnknownWindow) as exc:
                raise ToolError(f"{exc}. Call audit_page with no page to list them.") from None
            return answer(
                PageSummary(
                    page=view["page"],
                    title=view["title"],
                    intro=view["intro"],
                    window=window,
                    cuts=[_summary(c, TOP_ON_PAGE, False) for c in view["cuts"]],
                )
            )

    @server.tool(annotations=READ)
    def audit_cut(cut_id: str, window: str | None = None) -> Annotated[CallToolResult, CutSummary]:
        """One audit cut: the question it answers, today's takeaway, its top rows, how to read it, its
        related metrics and the freshness of its snapshot. `window`: 7d, 30d or 90d (default: the cut's own)."""
        with tool_errors():
            try:
                with hb.connection() as conn:
                    view = cut_view(conn, cut_id, window)
            except (UnknownCut, UnknownWindow) as exc:
                raise ToolError(f"{exc}. Call audit_page with no page to list the cuts.") from None
            return answer(_summary(view, TOP_IN_CUT, True))
