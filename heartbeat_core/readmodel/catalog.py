"""The catalog: every active metric and audit cut with what it means, generated from the registries.

One source for `/catalog` (HTML) and `heartbeat catalog export` (Markdown for a wiki), so a project's catalog
is never a separate document that drifts. Lines are the ones in force (operator values over the file's);
the owner likewise; verification names who verified and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core.formatting import format_clock, format_date, format_value


@dataclass(frozen=True)
class CatalogEntry:
    kind: str  # "metric" or "audit cut"
    id: str
    name: str
    description: str
    how_to_read: str
    methodology: str
    sources: list[str]
    lines: list[str]
    owner: str | None
    team: str | None
    verification_state: str
    verified_by: str | None
    verified_at: datetime | None
    link: str
    tags: list[str] = field(default_factory=list)
    period: str = ""

    @property
    def search_text(self) -> str:
        """What the page's filter matches against (lowercase)."""
        parts = [self.id, self.name, self.description, self.how_to_read, self.owner or "", self.team or ""]
        return " ".join([*parts, *self.sources, *self.tags, self.kind, self.verification_state]).lower()


@dataclass(frozen=True)
class Catalog:
    metrics: list[CatalogEntry]
    cuts: list[CatalogEntry]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _lines(row: dict[str, Any]) -> list[str]:
    unit = str(row["unit"])
    found = []
    for label, live, initial in (
        ("amber (norm)", "norm_value", "initial_norm"),
        ("red (alert)", "alert_value", "initial_alert"),
        ("target", "target_value", "initial_target"),
    ):
        value = _num(row[live] if row[live] is not None else row[initial])
        if value is not None:
            found.append(f"{label} {format_value(value, unit)}")
    if row["typical_method"] == "rolling_stat":
        options = row["typical_options"] or {}
        window = options.get("window_days", "")
        season = " by weekday" if options.get("seasonality") == "weekday" else ""
        found.append(f"typical band ({window}-day{season})")
    return found


def _metric(row: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        kind="metric",
        id=row["metric_id"],
        name=row["name"],
        description=row["description"] or "",
        how_to_read=row["how_to_read"] or "",
        methodology=row["methodology"] or "",
        sources=list(row["sources"] or []),
        lines=_lines(row),
        owner=row["owner"] or row["initial_owner"],
        team=row["team"],
        verification_state=row["verification_state"],
        verified_by=row["verification_updated_by"] if row["verification_state"] == "verified" else None,
        verified_at=row["verification_updated_at"] if row["verification_state"] == "verified" else None,
        link=f"/metrics/{row['metric_id']}",
        tags=list(row["tags"] or []),
        period=row["period"],
    )


def _cut(row: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        kind="audit cut",
        id=row["cut_id"],
        name=row["title"],
        description=row["description"] or "",
        how_to_read=row["how_to_read"] or "",
        methodology=f"{row['kind']} chart over windows {', '.join(row['windows'])}",
        sources=[],
        lines=[f"explains {', '.join(row['metric_ids'])}"] if row["metric_ids"] else [],
        owner=row["owner"] or row["initial_owner"],
        team=None,
        verification_state=row["verification_state"],
        verified_by=row["verification_updated_by"] if row["verification_state"] == "verified" else None,
        verified_at=row["verification_updated_at"] if row["verification_state"] == "verified" else None,
        link=f"/audit/{row['page']}#cut-{row['cut_id']}",
    )


def catalog(conn: psycopg.Connection[Any]) -> Catalog:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM heartbeat.metric_registry WHERE retired_at IS NULL ORDER BY metric_id")
        metrics = [_metric(r) for r in cur.fetchall()]
        cur.execute(
            "SELECT * FROM heartbeat.audit_cut_registry WHERE retired_at IS NULL ORDER BY page, position, cut_id"
        )
        cuts = [_cut(r) for r in cur.fetchall()]
    return Catalog(metrics, cuts)


def _md_entry(e: CatalogEntry, base_url: str, today: date, tz: tzinfo) -> list[str]:
    verified = f"verified by {e.verified_by}" if e.verification_state == "verified" else "unverified"
    if e.verified_at is not None and e.verification_state == "verified":
        verified += f" on {format_date(e.verified_at.astimezone(tz).date(), today)}"
    rows = [
        f"### [{e.name}]({base_url}{e.link}) (`{e.id}`)",
        "",
        f"- **Description:** {e.description or '—'}",
        f"- **How to read:** {e.how_to_read or '—'}",
        f"- **Methodology:** {e.methodology or '—'}",
    ]
    if e.sources:
        rows.append(f"- **Sources:** {', '.join(e.sources)}")
    rows.append(f"- **Lines:** {'; '.join(e.lines) if e.lines else 'none'}")
    rows.append(f"- **Owner:** {e.owner or 'nobody yet'}" + (f" (team {e.team})" if e.team else ""))
    rows += [f"- **Verification:** {verified}", ""]
    return rows


def catalog_markdown(cat: Catalog, base_url: str, now: datetime, tz: tzinfo) -> str:
    """The catalog as Markdown for a wiki: the same fields as `/catalog`, links to the live pages. A wiki
    page is read for months, so days are named (`on 3 Dec at 06:12 UTC`, `verified … on 2 Nov`), without ages."""
    today = now.astimezone(tz).date()
    generated = f"on {format_date(today, today)} at {format_clock(now, now, tz)}"
    out = [
        "# Heartbeat catalog",
        "",
        f"Generated from the registries {generated}: {len(cat.metrics)} metrics, {len(cat.cuts)} audit cuts.",
        "",
        "## Metrics",
        "",
    ]
    for entry in cat.metrics:
        out += _md_entry(entry, base_url, today, tz)
    out += ["## Audit cuts", ""]
    for entry in cat.cuts:
        out += _md_entry(entry, base_url, today, tz)
    return "\n".join(out).rstrip() + "\n"
