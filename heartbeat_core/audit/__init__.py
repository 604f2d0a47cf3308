"""Audit cuts: small charts with prose that answer the questions a red tile raises.

`audit_cuts/<cut_id>.py` modules (META + compute) are discovered from `settings.audit_cuts`, synced into
`heartbeat.audit_cut_registry`, and computed into `heartbeat.audit_cut_snapshot` per (cut, window) by
`refresh_cuts`; surfaces read pages and cuts from snapshots only through `heartbeat_core.audit.read`. The
scheduler's daily audit tick (HEARTBEAT_SCHEDULE_AUDIT, default 04:45) calls `scheduled_refresh`.
"""

from heartbeat_core.audit.discovery import WINDOW_DAYS, WINDOWS, Cut, CutMeta, discover
from heartbeat_core.audit.payloads import KINDS, PayloadError, validate_payload
from heartbeat_core.audit.read import (
    UnknownPage,
    UnknownWindow,
    audit_version,
    cut_view,
    known_pages,
    page_view,
    pages_index,
    registry_view,
    summarize_cut,
)
from heartbeat_core.audit.refresh import RefreshReport, refresh_cuts, scheduled_refresh
from heartbeat_core.audit.registry import (
    CutInputError,
    CutSyncReport,
    UnknownCut,
    cuts_for_metric,
    set_cut_fields,
    sync_cuts,
)

__all__ = [
    "KINDS",
    "WINDOWS",
    "WINDOW_DAYS",
    "Cut",
    "CutInputError",
    "CutMeta",
    "CutSyncReport",
    "PayloadError",
    "RefreshReport",
    "UnknownCut",
    "UnknownPage",
    "UnknownWindow",
    "audit_version",
    "cut_view",
    "cuts_for_metric",
    "discover",
    "known_pages",
    "page_view",
    "pages_index",
    "refresh_cuts",
    "registry_view",
    "scheduled_refresh",
    "set_cut_fields",
    "summarize_cut",
    "sync_cuts",
    "validate_payload",
]
