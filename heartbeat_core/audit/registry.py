"""The audit cut registry: synced from the modules on disk, owner and verification tuned by operators.

`sync_cuts` writes the config columns from each module's META (the module is the source of truth),
keeps operator columns, retires cuts whose module is gone and leaves a broken module's row as it was.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from heartbeat_core import clock
from heartbeat_core.audit.currency import out_of_date_cuts
from heartbeat_core.audit.discovery import Cut, Discovery, discover
from heartbeat_core.formatting import plural
from heartbeat_core.metrics.definition import EMAIL
from heartbeat_core.settings import get_settings
from heartbeat_core.sync_report import SyncReport

VERIFICATION_STATES = ("unverified", "verified")


class UnknownCut(LookupError):
    """No active cut with that id; the message names the closest ones."""

    def __init__(self, cut_id: str, known: list[str]) -> None:
        close = difflib.get_close_matches(cut_id, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown audit cut {cut_id!r}{hint}")
        self.cut_id = cut_id


class CutInputError(ValueError):
    """A bad operator edit; the message names the field."""


CutSyncReport = SyncReport  # the same report shape as the metric sync


def cuts_directory() -> Path:
    return get_settings().audit_cuts


def load_cuts(directory: Path | None = None) -> Discovery:
    return discover(directory or cuts_directory())


def _upsert(conn: psycopg.Connection[Any], cut: Cut) -> None:
    m = cut.meta
    conn.execute(
        """
        INSERT INTO heartbeat.audit_cut_registry (
            cut_id, page, title, kind, description, how_to_read, window_default, windows, metric_ids, position,
            initial_owner, owner, file_path, file_hash, synced_at, retired_at, names)
        VALUES (%(id)s, %(page)s, %(title)s, %(kind)s, %(description)s, %(how)s, %(wd)s, %(windows)s,
                %(metrics)s, %(order)s, %(owner)s, %(owner)s, %(path)s, %(hash)s, %(now)s, NULL, %(names)s)
        ON CONFLICT (cut_id) DO UPDATE SET
            page = excluded.page, title = excluded.title, kind = excluded.kind,
            description = excluded.description, how_to_read = excluded.how_to_read,
            window_default = excluded.window_default, windows = excluded.windows,
            metric_ids = excluded.metric_ids, position = excluded.position, names = excluded.names,
            initial_owner = excluded.initial_owner, file_path = excluded.file_path,
            file_hash = excluded.file_hash, synced_at = excluded.synced_at, retired_at = NULL,
            owner = CASE WHEN audit_cut_registry.owner_updated_at IS NULL
                         THEN excluded.initial_owner ELSE audit_cut_registry.owner END
        """,
        {
            "id": cut.cut_id,
            "page": m.page,
            "title": m.title,
            "kind": m.kind,
            "description": m.description,
            "how": m.how_to_read,
            "wd": m.window_default,
            "windows": list(m.ordered_windows),
            "metrics": list(m.metrics),
            "order": m.order,
            "owner": m.owner,
            "names": m.names,
            "path": str(cut.path),
            "hash": cut.file_hash,
            "now": clock.now(),
        },
    )


def sync_cuts(conn: psycopg.Connection[Any], directory: Path | None = None) -> CutSyncReport:
    """Load `audit_cuts/` (or `directory`) into the registry; one transaction."""
    found = load_cuts(directory)
    report = CutSyncReport(problems=list(found.problems))
    with conn.transaction():
        existing = {
            row[0]: (row[1], row[2])
            for row in conn.execute("SELECT cut_id, file_hash, retired_at FROM heartbeat.audit_cut_registry")
        }
        known_metrics = {
            row[0]
            for row in conn.execute(
                "SELECT metric_id FROM heartbeat.metric_registry WHERE retired_at IS NULL"
            )
        }
        for cut in found.cuts:
            previous = existing.get(cut.cut_id)
            _upsert(conn, cut)
            if previous is None:
                report.added.append(cut.cut_id)
            elif previous[0] != cut.file_hash or previous[1] is not None:
                report.updated.append(cut.cut_id)
            else:
                report.unchanged.append(cut.cut_id)
            missing = [m for m in cut.meta.metrics if m not in known_metrics]
            if missing:
                report.warnings.append(
                    f"{cut.path}: related {plural(len(missing), 'metric')} not in the registry yet: {', '.join(missing)}"
                )
        gone = [cid for cid, (_, retired) in existing.items() if cid not in found.present and retired is None]
        if gone:
            conn.execute(
                "UPDATE heartbeat.audit_cut_registry SET retired_at = %s WHERE cut_id = ANY(%s)",
                (clock.now(), gone),
            )
            report.retired = sorted(gone)
    return report


# ------------------------------------------------------------------------------------------ reads


def active_cut_ids(conn: psycopg.Connection[Any]) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT cut_id FROM heartbeat.audit_cut_registry WHERE retired_at IS NULL ORDER BY cut_id"
        )
    ]


def cut_row(conn: psycopg.Connection[Any], cut_id: str) -> dict[str, Any]:
    """The active registry row, or `UnknownCut`."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM heartbeat.audit_cut_registry WHERE cut_id = %s AND retired_at IS NULL", (cut_id,)
        )
        row = cur.fetchone()
    if row is None:
        raise UnknownCut(cut_id, active_cut_ids(conn))
    return row


def cuts_for_metric(conn: psycopg.Connection[Any], metric_id: str) -> list[dict[str, Any]]:
    """The active cuts that name `metric_id` among their related metrics, for a metric page's links:
    `[{"cut_id", "title", "page", "kind", "url", "takeaway", "computed_at", "out_of_date"}]` in page order;
    `out_of_date` says why the takeaway may no longer hold (its sources landed after it), else None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """SELECT r.cut_id, r.title, r.page, r.kind, s.payload ->> 'takeaway' AS takeaway, s.computed_at
               FROM heartbeat.audit_cut_registry r
               LEFT JOIN heartbeat.audit_cut_snapshot s
                      ON s.cut_id = r.cut_id AND s.window_key = r.window_default
               WHERE r.retired_at IS NULL AND r.metric_ids @> ARRAY[%s]::text[]
               ORDER BY r.page, r.position, r.cut_id""",
            (metric_id,),
        )
        rows = cur.fetchall()
    late = out_of_date_cuts(conn) if rows else {}
    now = clock.now()
    for row in rows:
        row["url"] = f"/audit/{row['page']}#cut-{row['cut_id']}"
        behind = late.get(row["cut_id"])
        row["out_of_date"] = behind.reason(now) if behind else None  # its takeaway may no longer hold
    return rows


# --------------------------------------------------------------------------------- operator edits


def _record(
    conn: psycopg.Connection[Any], cut_id: str, field_name: str, old: Any, new: Any, actor: str
) -> None:
    if old == new:
        return
    conn.execute(
        "INSERT INTO heartbeat.operator_edit (subject_kind, subject_id, field, old_value, new_value, actor, at)"
        " VALUES ('audit_cut', %s, %s, %s, %s, %s, %s)",
        (cut_id, field_name, old, new, actor, clock.now()),
    )


def _lock(conn: psycopg.Connection[Any], cut_id: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT cut_id, owner, verification_state FROM heartbeat.audit_cut_registry"
            " WHERE cut_id = %s AND retired_at IS NULL FOR UPDATE",
            (cut_id,),
        )
        row = cur.fetchone()
    if row is None:
        raise UnknownCut(cut_id, active_cut_ids(conn))
    return row


def set_cut_fields(
    conn: psycopg.Connection[Any],
    cut_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
) -> dict[str, Any]:
    """Change `owner` (an email, or None/"" to clear) and/or `verification_state`, each independently.

    Returns the cut's operator columns after the edit.
    """
    unknown = set(changes) - {"owner", "verification_state"}
    if unknown:
        raise CutInputError(
            f"unknown {plural(len(unknown), 'field')} {', '.join(sorted(unknown))}: expected owner, verification_state"
        )
    if not changes:
        raise CutInputError("nothing to change: send owner and/or verification_state")
    owner: str | None = None
    if "owner" in changes:
        raw = changes["owner"]
        if raw is not None and not isinstance(raw, str):
            raise CutInputError(f"owner: expected an email address or null, got {raw!r}")
        owner = raw.strip() if raw else None
        if owner and not EMAIL.match(owner):
            raise CutInputError(f"owner: expected an email address, got {raw!r}")
    state = changes.get("verification_state")
    if "verification_state" in changes and state not in VERIFICATION_STATES:
        raise CutInputError(
            f"verification_state: expected one of {', '.join(VERIFICATION_STATES)}, got {state!r}"
        )
    now = clock.now()
    with conn.transaction():
        row = _lock(conn, cut_id)
        if "owner" in changes:
            conn.execute(
                "UPDATE heartbeat.audit_cut_registry SET owner = %s, owner_updated_by = %s, owner_updated_at = %s"
                " WHERE cut_id = %s",
                (owner, actor, now, cut_id),
            )
            _record(conn, cut_id, "owner", row["owner"], owner, actor)
        if "verification_state" in changes:
            conn.execute(
                "UPDATE heartbeat.audit_cut_registry SET verification_state = %s, verification_updated_by = %s,"
                " verification_updated_at = %s WHERE cut_id = %s",
                (state, actor, now, cut_id),
            )
            _record(conn, cut_id, "verification_state", row["verification_state"], state, actor)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT cut_id, owner, owner_updated_by, owner_updated_at, verification_state,"
                " verification_updated_by, verification_updated_at"
                " FROM heartbeat.audit_cut_registry WHERE cut_id = %s",
                (cut_id,),
            )
            result = cur.fetchone()
    assert result is not None
    return result
