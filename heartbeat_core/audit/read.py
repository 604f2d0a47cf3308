"""The audit read side: pages, cuts and the registry as surfaces show them, from snapshots only.

Nothing here computes a cut. A cut shows the snapshot of the requested window when it offers that
window, else its default; each snapshot carries its freshness (judged like a 24h metric's sources: the
daily refresh keeps it fresh) and the error of the last failed refresh, if any, beside the last good
payload. `summarize_cut` shortens a payload for an agent: the takeaway and the top rows.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock, readmodel
from heartbeat_core.audit.currency import OutOfDate, out_of_date_cuts
from heartbeat_core.audit.discovery import WINDOWS
from heartbeat_core.audit.registry import UnknownCut, active_cut_ids
from heartbeat_core.formatting import format_duration, format_number, format_value
from heartbeat_core.readmodel.status import resolve_freshness

# Titles and introductions of the pages the demo cuts name; any other page gets its name, titled.
PAGES: dict[str, dict[str, str]] = {
    "clients": {
        "title": "Clients",
        "intro": "Who the clients are, how they arrive and where onboarding loses them; which clients "
        "carry the money at risk behind a red tile.",
    },
    "journeys": {
        "title": "Journeys",
        "intro": "What happens to a payment between creation and completion: where it stalls, how long "
        "it takes, why it is rejected, and where fee revenue comes from.",
    },
    "risk": {
        "title": "Risk & operations",
        "intro": "The queues that must not grow quietly: AML reviews, overdue card collateral and the "
        "helpdesk load behind them.",
    },
}


class UnknownPage(LookupError):
    def __init__(self, page: str, known: list[str]) -> None:
        close = difflib.get_close_matches(page, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; pages: {', '.join(known) or 'none'}"
        super().__init__(f"unknown audit page {page!r}{hint}")
        self.page = page


class UnknownWindow(ValueError):
    pass


def check_window(window: str | None) -> str | None:
    if window is None or window == "":
        return None
    if window not in WINDOWS:
        raise UnknownWindow(f"window: expected one of {', '.join(WINDOWS)}, got {window!r}")
    return window


def page_info(page: str) -> dict[str, str]:
    info = PAGES.get(page)
    if info:
        return {"page": page, **info}
    return {"page": page, "title": page.replace("_", " ").replace("-", " ").capitalize(), "intro": ""}


def audit_version(conn: psycopg.Connection[Any]) -> int:
    """Moves whenever a cut's registry row or snapshot changes; caches of audit pages key on it."""
    row = conn.execute("SELECT version FROM heartbeat.audit_state").fetchone()
    return int(row[0]) if row else 0


def snapshot_freshness(computed_at: datetime | None, now: datetime) -> dict[str, Any]:
    """How old a snapshot is: fresh, amber after 36 h, red after 72 h (two missed daily refreshes)."""
    if computed_at is None:
        return {"freshness": "red", "freshness_reason": "never computed", "age_s": None}
    result = resolve_freshness("24h", computed_at, now)
    age = format_duration(result.age_s or 0.0)
    reason = {
        "fresh": f"computed {age} ago",
        "amber": f"computed {age} ago (amber after 36 h)",
        "red": f"computed {age} ago (red after 72 h)",
    }[result.freshness]
    return {"freshness": result.freshness, "freshness_reason": reason, "age_s": result.age_s}


_CUT_SQL = """
SELECT r.cut_id, r.page, r.title, r.kind, r.description, r.how_to_read, r.window_default, r.windows,
       r.metric_ids, r.position, r.owner, r.owner_updated_by, r.owner_updated_at, r.verification_state,
       r.verification_updated_by, r.verification_updated_at, r.file_path, r.synced_at, r.names,
       s.window_key, s.payload, s.computed_at, s.duration_ms, s.attempted_at, s.error, s.error_at
FROM heartbeat.audit_cut_registry r
LEFT JOIN heartbeat.audit_cut_snapshot s
       ON s.cut_id = r.cut_id
      AND s.window_key = CASE WHEN %(window)s::text = ANY (r.windows) THEN %(window)s::text ELSE r.window_default END
WHERE r.retired_at IS NULL {where}
ORDER BY r.page, r.position, r.cut_id
"""


def _metric_links(conn: psycopg.Connection[Any], ids: set[str], now: datetime) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    links = {}
    for state in readmodel.metric_states(conn, sorted(ids), now=now):
        links[state.metric_id] = {
            "metric_id": state.metric_id,
            "name": state.name,
            "status": state.status,
            "reason": state.reason,
            "value": state.value,
            "value_text": format_value(state.value, state.unit),
            "url": f"/metrics/{state.metric_id}",
        }
    return links


def _currency(row: dict[str, Any], late: OutOfDate | None, now: datetime) -> dict[str, Any]:
    """The snapshot's freshness, amber at least (with the reason) when its sources landed after it."""
    judged = snapshot_freshness(row["computed_at"], now)
    if late is None or row["computed_at"] is None:
        return {**judged, "out_of_date": False}
    reason = late.reason(now)
    freshness = "amber" if judged["freshness"] == "fresh" else judged["freshness"]
    return {**judged, "freshness": freshness, "freshness_reason": reason, "out_of_date": True}


def _shape(
    row: dict[str, Any],
    requested: str | None,
    links: dict[str, dict[str, Any]],
    now: datetime,
    late: OutOfDate | None = None,
) -> dict[str, Any]:
    windows = list(row["windows"])
    shown = requested if requested in windows else row["window_default"]
    metrics = [
        links.get(
            m, {"metric_id": m, "name": m, "status": None, "reason": "not in the registry", "url": None}
        )
        for m in row["metric_ids"]
    ]
    has_snapshot = row["window_key"] is not None
    return {
        "cut_id": row["cut_id"],
        "page": row["page"],
        "title": row["title"],
        "kind": row["kind"],
        "description": row["description"],
        "how_to_read": row["how_to_read"],
        "windows": windows,
        "window_default": row["window_default"],
        "window": shown,
        "window_requested": requested,
        "window_fixed": requested is not None and requested not in windows,
        "metrics": metrics,
        "owner": row["owner"],
        "names": row["names"],
        "verification_state": row["verification_state"],
        "verification_updated_by": row["verification_updated_by"],
        "verification_updated_at": row["verification_updated_at"],
        "payload": row["payload"] if has_snapshot else None,
        "computed_at": row["computed_at"],
        "attempted_at": row["attempted_at"],
        "duration_ms": row["duration_ms"],
        "error": row["error"],
        "error_at": row["error_at"],
        **_currency(row, late, now),
        "url": f"/audit/{row['page']}#cut-{row['cut_id']}",
        "api_url": f"/api/audit/cuts/{row['cut_id']}?window={shown}",
    }


def _fetch(
    conn: psycopg.Connection[Any], where: str, params: dict[str, Any], window: str | None, now: datetime
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_CUT_SQL.format(where=where), {"window": window or "", **params})  # type: ignore[arg-type]
        rows = cur.fetchall()
    ids = {m for r in rows for m in r["metric_ids"]}
    links = _metric_links(conn, ids, now)
    late = out_of_date_cuts(conn)
    return [_shape(r, window, links, now, late.get(r["cut_id"])) for r in rows]


def cut_view(
    conn: psycopg.Connection[Any], cut_id: str, window: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """One active cut with the snapshot of `window` (or its default); `UnknownCut` otherwise."""
    window = check_window(window)
    rows = _fetch(conn, "AND r.cut_id = %(cut_id)s", {"cut_id": cut_id}, window, now or clock.now())
    if not rows:
        raise UnknownCut(cut_id, active_cut_ids(conn))
    return rows[0]


def known_pages(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT page, min(position) FROM heartbeat.audit_cut_registry WHERE retired_at IS NULL"
        " GROUP BY page ORDER BY page"
    ).fetchall()
    found = [r[0] for r in rows]
    ordered = [p for p in PAGES if p in found]
    return ordered + [p for p in found if p not in PAGES]


def page_view(
    conn: psycopg.Connection[Any], page: str, window: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A page: its title and introduction, and its cuts in META order with their snapshots."""
    window = check_window(window)
    moment = now or clock.now()
    cuts = _fetch(conn, "AND r.page = %(page)s", {"page": page}, window, moment)
    if not cuts:
        raise UnknownPage(page, known_pages(conn))
    return {
        **page_info(page),
        "window": window,
        "windows": list(WINDOWS),
        "generated_at": moment,
        "cuts": cuts,
        "counts": _counts(cuts),
    }


def _counts(cuts: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "cuts": len(cuts),
        "errors": sum(1 for c in cuts if c["error"]),
        "stale": sum(1 for c in cuts if c["freshness"] != "fresh"),
        "missing": sum(1 for c in cuts if c["payload"] is None),
        "verified": sum(1 for c in cuts if c["verification_state"] == "verified"),
    }


def pages_index(conn: psycopg.Connection[Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """Every page with its cuts' titles, takeaways and freshness, for the /audit overview."""
    moment = now or clock.now()
    cuts = _fetch(conn, "", {}, None, moment)
    by_page: dict[str, list[dict[str, Any]]] = {}
    for cut in cuts:
        by_page.setdefault(cut["page"], []).append(cut)
    order = [p for p in PAGES if p in by_page] + sorted(p for p in by_page if p not in PAGES)
    return [{**page_info(p), "cuts": by_page[p], "counts": _counts(by_page[p])} for p in order]


def registry_view(conn: psycopg.Connection[Any], now: datetime | None = None) -> list[dict[str, Any]]:
    """Every active cut with its operator columns and the state of each window's snapshot."""
    moment = now or clock.now()
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT r.cut_id, r.page, r.title, r.kind, r.description, r.window_default, r.windows,
                      r.metric_ids, r.position, r.owner, r.verification_state, r.verification_updated_by,
                      r.verification_updated_at, r.file_path, r.synced_at, r.names,
                      coalesce(jsonb_agg(jsonb_build_object(
                          'window', s.window_key, 'computed_at', s.computed_at, 'attempted_at', s.attempted_at,
                          'error', s.error, 'duration_ms', s.duration_ms, 'takeaway', s.payload ->> 'takeaway'))
                          FILTER (WHERE s.cut_id IS NOT NULL), '[]') AS snapshots
               FROM heartbeat.audit_cut_registry r
               LEFT JOIN heartbeat.audit_cut_snapshot s ON s.cut_id = r.cut_id
               WHERE r.retired_at IS NULL
               GROUP BY r.cut_id ORDER BY r.page, r.position, r.cut_id"""
        )
        rows = cur.fetchall()
    late = out_of_date_cuts(conn)
    for row in rows:
        behind = late.get(row["cut_id"])
        row["out_of_date"] = behind.reason(moment) if behind else None
        for snap in row["snapshots"]:
            computed = datetime.fromisoformat(snap["computed_at"]) if snap["computed_at"] else None
            snap.update(snapshot_freshness(computed, moment))
        order = {w: i for i, w in enumerate(WINDOWS)}
        row["snapshots"].sort(key=lambda s: order.get(s["window"], 99))
    return rows


# ------------------------------------------------------------------------------- agent summaries

TOP = 5


def _fmt(value: Any, unit: str | None) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and unit:
        return format_number(float(value), unit)
    return value


def _bar_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    bars = payload.get("bars", [])
    flagged = [b for b in bars if b.get("highlight")]
    ranked = flagged + sorted((b for b in bars if not b.get("highlight")), key=lambda b: -abs(b["value"]))
    return {
        "top": [{"label": b["label"], "value": _fmt(b["value"], unit)} for b in ranked[:top]],
        "bars": len(bars),
    }


def _line_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    series = []
    for s in payload.get("series", [])[:top]:
        values = [p for p in s["points"] if p["y"] is not None]
        if not values:
            series.append({"name": s["name"], "points": 0})
            continue
        peak = max(values, key=lambda p: p["y"])
        series.append(
            {
                "name": s["name"],
                "first": {"x": values[0]["x"], "y": _fmt(values[0]["y"], unit)},
                "last": {"x": values[-1]["x"], "y": _fmt(values[-1]["y"], unit)},
                "peak": {"x": peak["x"], "y": _fmt(peak["y"], unit)},
                "points": len(s["points"]),
            }
        )
    return {"top": series}


def _stacked_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    cats = payload.get("categories", [])
    totals = [sum(s["values"][i] for s in payload.get("series", [])) for i in range(len(cats))]
    series_totals = sorted(
        ((s["name"], sum(s["values"])) for s in payload.get("series", [])), key=lambda p: -p[1]
    )
    out: dict[str, Any] = {"top": [{"series": n, "total": _fmt(v, unit)} for n, v in series_totals[:top]]}
    if cats:
        out["last_category"] = {
            "category": cats[-1],
            "total": _fmt(totals[-1], unit),
            "by_series": {s["name"]: _fmt(s["values"][-1], unit) for s in payload.get("series", [])[:top]},
        }
    return out


def _funnel_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    steps = payload.get("steps", [])
    first = steps[0]["value"] if steps else 0
    return {
        "top": [
            {
                "step": s["label"],
                "value": _fmt(s["value"], unit),
                "of_first": f"{100 * s['value'] / first:.1f}%" if first else None,
            }
            for s in steps
        ]
    }


def _table_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    columns = payload.get("columns", [])
    units = {c["key"]: c.get("unit") for c in columns}
    hk = payload.get("highlight_key")
    rows = payload.get("rows", [])
    if hk:
        rows = [r for r in rows if r.get(hk)] + [r for r in rows if not r.get(hk)]
    return {
        "top": [{c["label"]: _fmt(r.get(c["key"]), units[c["key"]]) for c in columns} for r in rows[:top]],
        "rows": payload.get("total_rows") or len(payload.get("rows", [])),
    }


def _heat_table_top(payload: dict[str, Any], unit: str, top: int) -> dict[str, Any]:
    rows, cols, values = payload.get("rows", []), payload.get("columns", []), payload.get("values", [])
    cells = [
        (values[i][j], rows[i], cols[j])
        for i in range(len(rows))
        for j in range(len(cols))
        if values[i][j] is not None
    ]
    worst = sorted(cells, key=lambda c: -c[0] if payload.get("higher_is_worse", True) else c[0])
    return {"top": [{"row": r, "column": c, "value": _fmt(v, unit)} for v, r, c in worst[:top]]}


# One summary per chart kind (payloads.KINDS): the rows that carry the takeaway.
_SUMMARIES: dict[str, Callable[[dict[str, Any], str, int], dict[str, Any]]] = {
    "bar": _bar_top,
    "line": _line_top,
    "stacked": _stacked_top,
    "funnel": _funnel_top,
    "table": _table_top,
    "heat_table": _heat_table_top,
}


def summarize_payload(kind: str, payload: dict[str, Any] | None, top: int = TOP) -> dict[str, Any]:
    """The takeaway and the few rows that carry it, never the whole series."""
    if not payload:
        return {"takeaway": None, "top": []}
    unit = payload.get("unit") or "count"
    out: dict[str, Any] = {"takeaway": payload.get("takeaway"), "unit": unit}
    summary = _SUMMARIES.get(kind)
    if summary is not None:
        out.update(summary(payload, unit, top))
    if payload.get("notes"):
        out["notes"] = payload["notes"]
    return out


def summarize_cut(view: dict[str, Any], top: int = TOP) -> dict[str, Any]:
    """A cut view shortened for an agent's context."""
    return {
        "cut_id": view["cut_id"],
        "title": view["title"],
        "page": view["page"],
        "kind": view["kind"],
        "question": view["description"],
        "window": view["window"],
        "windows": view["windows"],
        **summarize_payload(view["kind"], view["payload"], top),
        "computed_at": view["computed_at"].isoformat() if view["computed_at"] else None,
        "freshness": view["freshness"],
        "out_of_date": view["freshness_reason"] if view.get("out_of_date") else None,
        "error": view["error"],
        "related_metrics": [
            {"metric_id": m["metric_id"], "status": m.get("status")} for m in view["metrics"]
        ],
        "verification_state": view["verification_state"],
        "owner": view["owner"],
        "url": view["url"],
    }
